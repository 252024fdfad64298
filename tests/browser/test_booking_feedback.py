"""Loading feedback on the booking page in a real browser (issue 17, item 7): a spinner over the step
panel while a day's times load (aria-busy meanwhile), and a submit button that says "Booking…" while
the form is in flight — restored when the answer is a mistake or the network fails — with htmx, and
on a plain submit when htmx is not there. Requests are held in the browser (Playwright routes) so
the in-flight state can be seen, then let through."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


class Gate:
    """Holds the browser's requests that match, until released (or failed)."""

    def __init__(self, page, pattern: str, *, htmx_only: bool = False, method: str | None = None):
        self.held = []
        self.htmx_only, self.method = htmx_only, method
        self.page, self.pattern = page, re.compile(pattern)
        page.route(self.pattern, self._hold)

    def close(self):
        self.release()
        self.page.unroute(self.pattern, self._hold)

    def _hold(self, route):
        request = route.request
        if (self.htmx_only and "hx-request" not in request.headers) or (self.method and request.method != self.method):
            route.continue_()
        else:
            self.held.append(route)

    def wait(self, page, count: int = 1):
        for _ in range(100):
            if len(self.held) >= count:
                return
            page.wait_for_timeout(50)
        raise AssertionError("the request never came")

    def release(self):
        while self.held:
            self.held.pop(0).continue_()

    def fail(self):
        while self.held:
            self.held.pop(0).abort("internetdisconnected")


def first_free_day(page) -> str:
    soon = datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=2)
    for _ in range(3):
        for link in page.locator("a.day--free").all():
            if link.get_attribute("data-day") >= soon.isoformat():
                return link.get_attribute("data-day")
        page.locator("#calendar-next").click()
        page.wait_for_timeout(300)
    raise AssertionError("no free day found in three months")


def test_a_spinner_while_times_load_and_booking_while_the_form_is_sent(chromium, server, gym, screenshot):
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/London",
                                   locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/book/personal-training?tz=Europe/London")
    step = page.locator("#booking-step")
    spinner = page.locator("#step-loading")
    expect(spinner).to_be_hidden()

    # A day's times, held in flight: the spinner shows over the panel, which is busy meanwhile.
    day_gate = Gate(page, r"/book/personal-training\?.*date=", htmx_only=True)
    day = first_free_day(page)
    page.locator(f"#day-{day}").click()
    day_gate.wait(page)
    expect(spinner).to_be_visible()
    expect(spinner).to_have_attribute("role", "status")
    expect(spinner).to_contain_text("Loading times…")
    expect(step).to_have_attribute("aria-busy", "true")
    screenshot(page, "feedback-01-loading-times")
    day_gate.release()
    expect(page.locator("#step-title")).to_have_attribute("data-day", day)
    expect(step).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#step-loading")).to_be_hidden()
    day_gate.close()

    page.locator("a.slot").first.click()
    expect(page.locator("#step-title")).to_have_text("Your details")
    button = page.locator("button[data-busy-label]")
    expect(button).to_have_text("Confirm booking")

    post_gate = Gate(page, r"/book/personal-training\?", method="POST")
    # A mistake: "Booking…" while in flight, then the form again with its errors and its button.
    page.fill("#name", "")
    page.fill("#email", "jane-at-example")
    page.fill("#phone", "+44 7700 900")
    button.click()
    post_gate.wait(page)
    expect(button).to_have_text("Booking…")
    expect(button).to_be_disabled()
    screenshot(page, "feedback-02-booking-in-flight")
    post_gate.release()
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.locator("#email-error")).to_be_visible()
    expect(page.locator("#phone-error")).to_be_visible()  # every mistake at once
    expect(button).to_have_text("Confirm booking")
    expect(button).to_be_enabled()
    screenshot(page, "feedback-03-all-errors-at-once")

    # The network fails: the button comes back as it was.
    page.fill("#name", "Jane Smith")
    page.fill("#email", "jane@example.com")
    page.fill("#phone", "07700 900123")
    button.click()
    post_gate.wait(page)
    expect(button).to_have_text("Booking…")
    post_gate.fail()
    expect(button).to_have_text("Confirm booking")
    expect(button).to_be_enabled()

    # Booked: it says "Booking…" until the confirmation is there, which says where the email went.
    button.click()
    post_gate.wait(page)
    expect(button).to_have_text("Booking…")
    post_gate.release()
    expect(page.locator("#confirmation-title")).to_have_text("You're booked!")
    expect(page.locator("#confirmation-sent")).to_have_text("We've sent the details to jane@example.com.")
    expect(page.locator(".site-footer__staff")).to_have_attribute("href", "/auth/login")
    screenshot(page, "feedback-04-confirmation")
    assert errors == []
    context.close()


def test_a_plain_submit_says_booking_too_when_htmx_is_not_there(chromium, server, gym, screenshot):
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 414, "height": 900}, timezone_id="Europe/London")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.route("**/static/vendor/htmx-*.js", lambda route: route.abort())  # booking.js alone
    page.goto(f"{server}/book/personal-training?tz=Europe/London")
    page.locator(f"#day-{first_free_day(page)}").click()
    page.locator("a.slot").first.click()
    expect(page.locator("#step-title")).to_have_text("Your details")
    page.fill("#name", "Jane Smith")
    page.fill("#email", "jane@example")
    gate = Gate(page, r"/book/personal-training\?", method="POST")
    # The page is on its way out while the POST is in flight (Playwright waits for the navigation
    # before reading it), so the page notes its button then, to be read on the next page.
    page.evaluate("""() => document.addEventListener("submit", () => setTimeout(() => {
        const b = document.querySelector("button[data-busy-label]");
        sessionStorage.setItem("button", JSON.stringify([b.textContent, b.disabled]));
    }, 50))""")
    page.locator("button[data-busy-label]").click(no_wait_after=True)
    gate.wait(page)
    page.wait_for_timeout(300)
    gate.release()
    expect(page.locator("#email-error")).to_be_visible()  # a new page, with a fresh button
    assert page.evaluate('() => JSON.parse(sessionStorage.getItem("button"))') == ["Booking…", True]
    expect(page.locator("button[data-busy-label]")).to_have_text("Confirm booking")
    expect(page.locator("button[data-busy-label]")).to_be_enabled()
    screenshot(page, "feedback-05-plain-submit-errors")
    context.close()


def test_without_javascript_the_page_still_books(chromium, server, gym, screenshot):
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    # Past the booking window (90 days) the month says when its bookings open.
    later = (datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=150)).replace(day=1)
    page.goto(f"{server}/book/personal-training?tz=Europe/London&month={later:%Y-%m}")
    expect(page.locator("#calendar-window")).to_contain_text(f"Bookings for {later:%B} open on ")
    screenshot(page, "feedback-06-past-the-window")
    page.goto(f"{server}/book/personal-training?tz=Europe/London")
    expect(page.locator("#step-loading")).to_be_hidden()
    page.locator(f"#day-{first_free_day(page)}").click()
    page.locator("a.slot").first.click()
    page.fill("#name", "Jane Smith")
    page.fill("#email", "jane@example.com")
    page.locator("button[data-busy-label]").click()
    expect(page.locator("#confirmation-sent")).to_contain_text("jane@example.com")
    context.close()
