"""The staff dashboard in Chromium: a trainer adds a day off and watches the preview lose that day's
slots; an owner changes a booking page's colour and sees it live in the preview and on the public page.
Screenshots of every dashboard page go to tests/output/screenshots/dash-*.png."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"  # the factories' default


@pytest.fixture
def people(gym, make_user, make_booking, db):
    from app.models import Organization

    org = db.session.get(Organization, gym.organization_id)
    owner = make_user(org=org, name="Olivia Owner", role="owner", email="owner@atlas.example")
    alex = gym.staff[0]
    # A few bookings so the calendar and charts have something to show.
    tz = ZoneInfo(org.timezone)
    today = datetime.now(tz).date()
    for offset, hour, who in ((1, 9, "Jane Smith"), (1, 11, "Tom Hughes"), (2, 14, "Priya Shah"), (4, 10, "Mia Wong")):
        start = datetime.combine(today + timedelta(days=offset), datetime.min.time().replace(hour=hour), tzinfo=tz)
        make_booking(staff=alex, start=start, appointment_type_id=gym.appointment_types[0].id, booking_link_id=gym.id,
                     attendee_name=who, attendee_email=f"{who.split()[0].lower()}@example.com")
    return {"owner": owner, "alex": alex, "org": org, "today": today}


@pytest.fixture
def screenshot(screenshot):
    """Full-page shots from the top: a page scrolled by an interaction would draw the sticky header
    in the middle of the picture."""
    def shoot(page, name):
        page.evaluate("window.scrollTo(0, 0)")
        return screenshot(page, name)

    return shoot


def sign_in(page, server, email):
    page.goto(f"{server}/auth/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard/$"))


def slots_on(page, day) -> int:
    return int(page.get_attribute(f'#slot-preview li[data-date="{day.isoformat()}"]', "data-slots"))


def test_trainer_adds_a_day_off_and_the_preview_loses_that_days_slots(chromium, server, people, screenshot):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server, people["alex"].email)
    screenshot(page, "dash-01-trainer-overview")
    page.click("nav.dash-nav >> text=Availability")
    page.wait_for_selector("#slot-preview li[data-date]")
    day = people["today"] + timedelta(days=3)
    before = slots_on(page, day)
    assert before > 0
    screenshot(page, "dash-02-availability-before")

    page.fill("#date", day.isoformat())
    page.select_option("#kind", "day_off")
    page.fill("#reason", "Physio appointment")
    page.click("button:has-text('Add date')")
    # The override list is swapped in, and the HX-Trigger event makes the preview refresh itself.
    page.wait_for_selector(".override-list >> text=Physio appointment")
    page.wait_for_selector(f'#slot-preview li[data-date="{day.isoformat()}"][data-slots="0"]')
    assert slots_on(page, day) == 0
    assert "Day off" in page.inner_text(f'#slot-preview li[data-date="{day.isoformat()}"]')
    assert slots_on(page, day + timedelta(days=1)) > 0  # the other days keep theirs
    assert page.url.endswith("/dashboard/availability")  # htmx: no page load
    screenshot(page, "dash-03-availability-after-day-off")

    # A weekly row edited in place: an end before the start is refused next to the row.
    row = page.locator(".rule-row__edit").first
    row.locator("input[name$=end_time]").fill("06:00")
    row.locator("button:has-text('Save')").click()
    page.wait_for_selector(".rule-row--error")
    assert "The end must be after the start" in page.inner_text(".rule-row--error")
    screenshot(page, "dash-04-availability-row-error")
    page.close()


def test_owner_changes_the_branding_colour_and_sees_it_on_the_public_page(chromium, server, people, gym,
                                                                           screenshot):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server, people["owner"].email)
    page.wait_for_selector(".chart__svg")
    screenshot(page, "dash-05-owner-overview")
    tour = [("calendar", "dash-06-calendar-team-week"), (f"calendar?view=day&date={people['today'] + timedelta(days=1)}",
            "dash-07-calendar-day"), (f"calendar?trainer={people['alex'].id}", "dash-08-calendar-trainer-week"),
            ("bookings", "dash-09-bookings"), ("types", "dash-10-services"), ("team", "dash-11-team"),
            ("settings", "dash-12-settings")]
    for path, name in tour:
        page.goto(f"{server}/dashboard/{path}")
        screenshot(page, name)
    page.goto(f"{server}/dashboard/bookings")
    page.click("table.bookings-table a >> nth=0")
    page.wait_for_selector("#booking-detail >> text=Audit trail")
    screenshot(page, "dash-13-booking-detail")

    page.goto(f"{server}/dashboard/links")
    page.wait_for_selector(".copy-link__button:not([hidden])")  # the copy button appears with JavaScript
    screenshot(page, "dash-14-booking-pages")
    page.click(f"a[href$='/links/{gym.id}/branding']")
    page.wait_for_selector("#branding-preview .bp")
    page.fill("#primary_color", "#7c3aed")
    page.fill("#welcome_text", "New colours, same great coaching.")
    page.wait_for_selector('#branding-preview .bp[data-brand="#7c3aed"]')
    page.wait_for_selector("#branding-preview .bp__welcome >> text=New colours, same great coaching.")
    hero = page.locator("#branding-preview .bp__hero")
    assert hero.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(124, 58, 237)"
    assert "New colours, same great coaching." in hero.inner_text()
    screenshot(page, "dash-15-branding-live-preview")

    page.click("button:has-text('Save branding')")
    page.wait_for_selector(".flash--success")
    screenshot(page, "dash-16-branding-saved")

    public = chromium.new_page(viewport={"width": 1280, "height": 900})
    public.goto(f"{server}/book/{gym.slug}")
    hero = public.locator(".book-hero")
    assert hero.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(124, 58, 237)"
    assert "New colours, same great coaching." in hero.inner_text()
    screenshot(public, "dash-17-public-page-new-colour")
    public.close()
    page.close()
