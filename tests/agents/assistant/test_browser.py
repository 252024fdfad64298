"""The assistant's panel in a real browser: with htmx (answers appended in place) and without JavaScript
(a form post that brings the page back with the conversation). Chromium as in tests/browser."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from anthropic_standin import result_json, text, tool_results, tool_use
from sqlalchemy import select

from app.models import Booking

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ATLAS_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "output" / "screenshots"  # tests/output
TIMEOUT_MS = 10_000


@pytest.fixture
def frozen_now():
    """Real time here (overrides the folder's frozen clock): the browser and the live server run on it."""
    yield


@pytest.fixture(scope="module")
def chromium():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium); browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def server(live_server, app, link):
    app.config["APP_URL"] = live_server
    return live_server


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def watch(page, problems: list[str]):
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    return page


def test_chat_and_book_with_htmx(chromium, server, standin, db):
    from playwright.sync_api import expect

    standin.script(
        text("Happy to help. Which day would you like?"),
        tool_use("find_availability", {"bookingLinkSlug": "pt", "limit": 3}),
        lambda request: tool_use("book_slot", {
            **{k: result_json(tool_results(request)[0])["slots"][0][k]
               for k in ("startTime", "staffId", "appointmentTypeId", "bookingLinkSlug")},
            "attendeeName": "Jane Smith", "attendeeEmail": "jane@example.com"}),
        lambda request: text("You're booked. To change or cancel: "
                             + result_json(tool_results(request)[0])["manageUrl"]),
    )
    problems: list[str] = []
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = watch(context.new_page(), problems)
    page.goto(f"{server}/book/pt")
    page.evaluate("window.__samePage = true")

    box = page.get_by_label("Your message")
    box.fill("I'd like a personal training session")
    box.press("Enter")  # Enter sends
    log = page.locator("#assistant-log")
    expect(log.locator(".assistant-msg")).to_have_count(2)
    expect(log.locator(".assistant-msg--assistant")).to_contain_text("Which day would you like?")
    expect(page.get_by_label("Your message")).to_have_value("")
    expect(page.get_by_label("Your message")).to_be_focused()

    page.get_by_label("Your message").fill("The first free time please. Jane Smith, jane@example.com. Yes, book it.")
    page.locator("#assistant-send").click()
    expect(log.locator(".assistant-msg")).to_have_count(4)
    last = log.locator(".assistant-msg--assistant").last
    expect(last).to_contain_text("✓ Checked free times")
    expect(last).to_contain_text("… Waiting for your confirmation")
    # Nothing is booked until the person presses Confirm under the change, described by the server.
    confirm = page.locator(".assistant-confirm")
    expect(confirm).to_contain_text(re.compile(r"Book Personal Training with Alex Morgan on \w+day \d+ \w+ \d{4} "
                                               r"at \d\d:\d\d for Jane Smith \(jane@example\.com\)"))
    shoot(page, "assistant-01-htmx-confirm")
    db.session.rollback()
    assert db.session.scalars(select(Booking)).all() == []

    page.get_by_role("button", name="Confirm").click()
    expect(log.locator(".assistant-msg")).to_have_count(6)
    last = log.locator(".assistant-msg--assistant").last
    expect(last).to_contain_text("✓ Booked")
    expect(last.locator("a")).to_have_attribute("href", re.compile(rf"^{server}/booking/manage/"))
    expect(page.locator(".assistant-confirm")).to_have_count(0)
    assert page.evaluate("window.__samePage") is True  # appended in place: no page load
    shoot(page, "assistant-02-htmx-booked")

    assert [m["role"] for m in standin.requests[1]["messages"]] == ["user", "assistant", "user"]
    db.session.rollback()
    assert db.session.scalars(select(Booking)).one().attendee_email == "jane@example.com"
    assert problems == []
    context.close()


def test_chat_without_javascript(chromium, server, standin):
    from playwright.sync_api import expect

    standin.script(text("Happy to help. Which day would you like?"), text("Tuesday morning has 9:00 and 10:00."))
    problems: list[str] = []
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844},
                                   is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = watch(context.new_page(), problems)
    page.goto(f"{server}/book/pt")

    page.get_by_label("Your message").fill("I'd like a session")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"{server}/book/pt/assistant#assistant")
    expect(page.locator("#assistant-log .assistant-msg")).to_have_count(2)
    page.get_by_label("Your message").fill("Tuesday")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#assistant-log .assistant-msg")).to_have_count(4)
    expect(page.locator("#assistant-log .assistant-msg").last).to_contain_text("Tuesday morning has 9:00")
    expect(page.locator("#booking-picker")).to_be_visible()  # the rest of the page is still there
    shoot(page, "assistant-03-nojs-phone")
    assert [m["role"] for m in standin.requests[1]["messages"]] == ["user", "assistant", "user"]
    assert problems == []
    context.close()


def test_the_dashboard_dock(chromium, server, standin, owner, app):
    from playwright.sync_api import expect

    standin.script(text("You have no bookings tomorrow."))
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{server}/auth/login")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/dashboard/")

    page.get_by_text("Assistant", exact=True).first.click()  # open the dock
    page.get_by_label("Your message").fill("Anything tomorrow?")
    page.get_by_label("Your message").press("Enter")
    expect(page.locator("#assistant-log .assistant-msg--assistant")).to_contain_text("no bookings tomorrow")
    assert page.url == f"{server}/dashboard/"
    shoot(page, "assistant-04-dashboard-dock")
    context.close()
