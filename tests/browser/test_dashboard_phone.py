"""The staff dashboard on a phone (375×667), on the demo gym: no page scrolls sideways, every section
is reachable from the menu (with JavaScript and without), the bookings filters stack with 44px
targets, and the calendar's short bookings show whole names. Screenshots go to
tests/output/screenshots/phone-*.png."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "phone demo password"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "output" / "screenshots"
PHONE = {"width": 375, "height": 667}


@pytest.fixture
def demo(db, make_booking):
    """The demo gym, plus a 15-minute check-in for Alex on the next weekday (the demo's shortest
    service is 30 minutes)."""
    from sqlalchemy import select

    from app.models import User
    from app.services.demo import ORG_TZ, seed_demo

    result = seed_demo(password=PASSWORD)
    tz = ZoneInfo(ORG_TZ)
    day = datetime.now(tz).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    alex = db.session.scalars(select(User).filter_by(email="alex@atlas-fitness.example")).one()
    make_booking(staff=alex, start=datetime.combine(day, time(9, 30), tzinfo=tz), minutes=15,
                 attendee_name="Maximilian Featherstonehaugh", attendee_email="max@example.com",
                 booking_link_id=None, source="staff")
    return {"owner": result.owner_email, "day": day, "alex": str(alex.id)}


@pytest.fixture
def screen():
    """What the phone's screen shows (a whole page of bookings is too tall a picture to judge)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return shoot


def sign_in(page, server, email):
    page.goto(f"{server}/auth/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard/$"))


def no_sideways_scroll(page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths}"


def menu_reaches_every_section(page) -> list[str]:
    """Open the menu; every section's link is on screen, whole, and a 44px target. Closes it again."""
    page.click(".dash-menu__toggle")
    links = page.locator(".dash-menu__link")
    labels = links.all_inner_texts()
    assert len(labels) >= 6
    for i in range(links.count()):
        link = links.nth(i)
        assert link.is_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], labels[i]
        assert box["height"] >= 44, labels[i]
        assert link.evaluate("el => el.scrollWidth <= el.clientWidth"), f"{labels[i]!r} is clipped"
    assert not page.locator(".dash-nav__link").first.is_visible()  # the wide-screen strip is hidden
    page.click(".dash-menu__toggle")
    assert not links.first.is_visible()
    return labels


def test_dashboard_pages_fit_a_phone(chromium, server, demo, screenshot, screen):
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, server, demo["owner"])
    day = demo["day"].isoformat()
    pages = {
        "home": "/dashboard/",
        "calendar-day": f"/dashboard/calendar?view=day&date={day}&trainer=all",
        "calendar-week": f"/dashboard/calendar?view=week&date={day}&trainer=all",
        "bookings": "/dashboard/bookings",
        "clients": "/dashboard/clients",
        "settings": "/dashboard/settings",
    }
    sections = None
    for name, path in pages.items():
        response = page.goto(server + path)
        assert response.status == 200, path
        no_sideways_scroll(page)
        labels = menu_reaches_every_section(page)
        assert sections is None or labels == sections
        sections = labels
        screenshot(page, f"phone-{name}")
        screen(page, f"phone-{name}-screen")
    assert {"Overview", "Calendar", "Bookings", "Clients", "Settings"} <= set(sections)

    # The menu open, as someone about to change section sees it.
    page.goto(server + pages["bookings"])
    page.click(".dash-menu__toggle")
    screen(page, "phone-menu-open")
    page.click(".dash-menu__link >> text=Calendar")
    page.wait_for_url(re.compile(r".*/dashboard/calendar"))
    no_sideways_scroll(page)

    # Bookings filters: one column, every control a 44px target within the screen.
    page.goto(server + pages["bookings"])
    controls = page.locator(".filters select, .filters input:not([type=hidden]), .filters button, .filters a.button")
    assert controls.count() >= 3
    lefts = set()
    for i in range(controls.count()):
        control = controls.nth(i)
        if not control.is_visible():
            continue
        box = control.bounding_box()
        assert box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"], control.evaluate("e => e.outerHTML")
        if control.evaluate("e => e.closest('.filters__grid') !== null"):
            lefts.add(round(box["x"]))
    assert len(lefts) == 1  # stacked: every field starts at the same left edge
    page.locator(".bookings-table, #booking-list table").first.scroll_into_view_if_needed()
    screen(page, "phone-bookings-list")

    # This week opens at today's column (dashboard.js scrolls it into view past the trainer column).
    page.goto(f"{server}/dashboard/calendar?view=week&trainer=all")
    today = page.locator(".team-week__day.is-today").bounding_box()
    trainers = page.locator(".team-week__corner").bounding_box()
    assert today["x"] >= trainers["x"] + trainers["width"] - 1 and today["x"] + today["width"] <= PHONE["width"]
    screen(page, "phone-calendar-this-week")

    # The week of one trainer: a time grid that scrolls inside its box, the times staying in view.
    page.goto(server + pages["calendar-week"].replace("trainer=all", f"trainer={demo['alex']}"))
    no_sideways_scroll(page)
    scroller = page.locator(".tgrid-scroll")
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")  # the week is wider than the phone
    hour = page.locator(".tgrid__hour").nth(2)
    before = hour.bounding_box()["x"]
    scroller.evaluate("el => el.scrollBy(400, 0)")
    page.wait_for_timeout(300)
    assert abs(hour.bounding_box()["x"] - before) < 1
    screen(page, "phone-calendar-week-trainer")
    context.close()


def test_short_bookings_show_whole_names_in_the_day_view(chromium, server, demo, screen):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server, demo["owner"])
    page.goto(f"{server}/dashboard/calendar?view=day&date={demo['day'].isoformat()}&trainer=all")
    events = page.locator(".ev")
    assert events.count() >= 10
    seen = set()
    for i in range(events.count()):
        event = events.nth(i)
        who = event.locator(".ev__who")
        name = who.inner_text()
        box, name_box = event.bounding_box(), who.bounding_box()
        seen.add(15 * int(re.search(r"span (\d+)", event.get_attribute("style")).group(1)))  # 15-minute rows
        # The name's line lies wholly inside the event (not sliced in half), and the title has it all.
        assert name_box["y"] >= box["y"] and name_box["y"] + name_box["height"] <= box["y"] + box["height"] + .5, name
        assert name in event.get_attribute("title")
        if "ev--short" in event.get_attribute("class"):
            time_box = event.locator(".ev__time").bounding_box()
            assert abs(time_box["y"] - name_box["y"]) < 2, name  # one line: time and name side by side
    assert {15, 30, 60} <= seen, seen
    screen(page, "dash-calendar-day-short-events")
    page.locator('.ev[style*="span 2;"]').first.scroll_into_view_if_needed()
    screen(page, "dash-calendar-day-half-hours")


def test_phone_menu_works_without_javascript(chromium, server, demo):
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server, demo["owner"])
    page.goto(f"{server}/dashboard/bookings")
    no_sideways_scroll(page)
    assert "Clients" in menu_reaches_every_section(page)
    page.click(".dash-menu__toggle")
    page.click(".dash-menu__link >> text=Clients")
    page.wait_for_url(re.compile(r".*/dashboard/clients"))
    assert page.locator(".dash-menu__link[aria-current=page]").text_content() == "Clients"
    context.close()


@pytest.mark.parametrize("width", [1280, 1024, 800])
def test_every_section_is_on_screen_on_wider_screens(chromium, server, demo, screen, width):
    """No tab of the strip hides past the right edge (the strip wraps), and no page scrolls sideways."""
    page = chromium.new_page(viewport={"width": width, "height": 800})
    sign_in(page, server, demo["owner"])
    page.goto(f"{server}/dashboard/calendar?view=week&date={demo['day'].isoformat()}&trainer=all")
    no_sideways_scroll(page)
    links = page.locator(".dash-nav__link")
    assert links.count() >= 6
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert links.nth(i).is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= width
    screen(page, f"dash-nav-{width}")
