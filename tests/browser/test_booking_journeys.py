"""Whole journeys through the public pages in a real browser, with and without JavaScript."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.models import Booking

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


def earliest(zone: str, days_ahead: int) -> date:
    """A day far enough ahead that the gym's cutoff never blocks rescheduling or cancelling it."""
    return datetime.now(ZoneInfo(zone)).date() + timedelta(days=days_ahead)


def choose_day(page, not_before: date, not_on: date | None = None) -> str:
    """Click the first day with free times on or after `not_before` (moving on a month if needed)."""
    for _ in range(3):
        for link in page.locator("a.day--free").all():
            day = link.get_attribute("data-day")
            if date.fromisoformat(day) >= not_before and day != (not_on.isoformat() if not_on else None):
                link.click()
                return day
        page.locator("#calendar-next").click()
        page.wait_for_timeout(300)
    raise AssertionError("no free day found in three months")


@pytest.fixture
def watch():
    """Collects script errors and failed requests of a page: a journey must have none."""
    problems: list[str] = []

    def attach(page):
        page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)
        return page

    attach.problems = problems
    return attach


def test_book_then_reschedule_then_cancel_with_javascript(chromium, server, gym, db, screenshot, watch):
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/New_York",
                                   locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = watch(context.new_page())

    page.goto(f"{server}/book/personal-training")
    # The browser's zone replaces the gym's, without a page load.
    expect(page.locator("#tz-select")).to_have_value("America/New_York")
    expect(page).to_have_url(re.compile(r"tz=America%2FNew_York|tz=America/New_York"))
    expect(page.locator(".book-hero")).to_contain_text("Train one-to-one with Alex")
    screenshot(page, "js-01-booking-page")

    day = choose_day(page, earliest("America/New_York", 2))
    heading = page.locator("#step-title")
    expect(heading).to_have_attribute("data-day", day)
    expect(heading).to_be_focused()  # keyboard users land on the new slots
    expect(page.locator(f"#day-{day}")).to_have_attribute("aria-current", "true")
    expect(page).to_have_url(re.compile(f"date={day}"))
    expect(page.locator("#booking-step")).to_contain_text("Times in America/New_York")
    screenshot(page, "js-02-day-slots")

    first_slot = page.locator("a.slot").first
    slot_time = first_slot.locator(".slot__time").inner_text()
    first_slot.click()
    expect(page.locator("#step-title")).to_have_text("Your details")
    expect(page.locator(".chosen__when")).to_contain_text(f"{slot_time}–")
    expect(page.locator(".chosen__when")).to_contain_text("(America/New_York)")
    screenshot(page, "js-03-details-form")

    # A mistake first: the 422 answer is swapped in with the errors, and what was typed stays.
    page.fill("#name", "Jane Smith")
    page.fill("#email", "jane-at-example")
    page.click("button:has-text('Confirm booking')")
    expect(page.locator("#email-error")).to_contain_text("doesn't look like an email address")
    expect(page.locator("#name")).to_have_value("Jane Smith")
    screenshot(page, "js-04-field-errors")

    page.fill("#email", "jane@example.com")
    # A US number on a UK gym's form: the hint says it isn't a UK number once the field is left, and
    # what will be texted once its country is chosen (issue 15, defect 14).
    expect(page.locator("#phone_country")).to_have_value("GB")
    page.fill("#phone", "(781) 234-5678")
    expect(page.locator("#phone-preview")).to_be_empty()  # while typing, no verdict
    page.locator("#phone").blur()
    expect(page.locator("#phone-preview")).to_contain_text("This is not a valid United Kingdom number.")
    page.locator("#phone_country").focus()
    page.select_option("#phone_country", "US")
    expect(page.locator("#phone-preview")).to_have_text("We will text +1 781-234-5678.")
    expect(page.locator("#phone_country")).to_be_focused()  # the swap leaves focus alone
    page.locator("#phone").focus()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    expect(page.locator("#phone-preview")).to_be_empty()  # "(781) 234-567": not a number yet, and not a mistake
    page.keyboard.type("8")
    expect(page.locator("#phone-preview")).to_have_text("We will text +1 781-234-5678.")
    screenshot(page, "js-04b-phone-country")
    page.fill("#notes", "First session, a bit nervous!")
    page.click("button:has-text('Confirm booking')")
    page.wait_for_url(re.compile(r"/booking/manage/[\w-]+\?created=1$"))
    expect(page.locator(".confirmation")).to_contain_text("You're booked!")
    expect(page.locator(".booking-card")).to_contain_text("Texts to +1 781-234-5678")
    expect(page.locator(".booking-card")).to_contain_text(f"{slot_time}–")
    expect(page.locator(".booking-card")).to_contain_text("(America/New_York)")
    ics = page.locator("a:has-text('Download .ics')").get_attribute("href")
    assert re.fullmatch(r"/booking/manage/[\w-]+/booking\.ics", ics)
    assert page.locator("a:has-text('Add to Google Calendar')").get_attribute("href").startswith(
        "https://calendar.google.com/calendar/render?")
    manage_link = page.locator(".manage-link__url a").get_attribute("href")
    assert manage_link == page.url.split("?")[0]
    screenshot(page, "js-05-confirmation")

    booking = db.session.scalars(select(Booking)).one()
    first_start = booking.start_at
    assert booking.attendee_timezone == "America/New_York" and booking.attendee_phone == "+17812345678"

    # Reschedule from the manage link, through the same picker.
    page.goto(manage_link)
    page.click("a:has-text('Reschedule')")
    expect(page.locator("#actions-title")).to_have_text("Choose a new time")
    expect(page).to_have_url(re.compile(r"/reschedule"))
    new_day = choose_day(page, earliest("America/New_York", 3), not_on=date.fromisoformat(day))
    expect(page.locator("#step-title")).to_have_attribute("data-day", new_day)
    page.locator("a.slot").nth(1).click()
    expect(page.locator("#step-title")).to_have_text("Confirm the new time")
    screenshot(page, "js-06-reschedule-confirm")
    page.click("button:has-text('Move my booking')")
    expect(page.locator(".flash--success")).to_contain_text("your booking is now")
    screenshot(page, "js-07-rescheduled")
    db.session.rollback()  # end the test thread's read snapshot (SQLite WAL) to see the server's writes
    moved = db.session.get(Booking, booking.id)
    assert moved.start_at != first_start
    assert moved.start_at.astimezone(ZoneInfo("America/New_York")).date().isoformat() == new_day

    # Cancel, with a confirmation step and a reason.
    page.click("a:has-text('Cancel booking')")
    expect(page.locator("#actions-title")).to_have_text("Cancel this booking?")
    page.fill("#reason", "Work trip came up")
    screenshot(page, "js-08-cancel-confirm")
    page.click("button:has-text('Yes, cancel my booking')")
    expect(page.locator("#actions-title")).to_have_text("This booking is cancelled")
    expect(page.locator("#booking-actions")).to_contain_text("Work trip came up")
    expect(page.locator("a:has-text('Book again')")).to_have_attribute("href", "/book/personal-training")
    screenshot(page, "js-09-cancelled")
    db.session.rollback()  # end the test thread's read snapshot (SQLite WAL) to see the server's writes
    assert db.session.get(Booking, booking.id).status == "cancelled"

    assert watch.problems == []
    context.close()


def test_a_slot_taken_while_typing_in_the_browser(chromium, server, gym, db, make_booking, screenshot, watch):
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/London")
    context.set_default_timeout(TIMEOUT_MS)
    page = watch(context.new_page())
    page.goto(f"{server}/book/personal-training")
    choose_day(page, earliest("Europe/London", 2))
    page.locator("a.slot").first.click()
    expect(page.locator("#step-title")).to_have_text("Your details")
    page.fill("#name", "Sam Quick")
    page.fill("#email", "sam@example.com")

    start = datetime.fromisoformat(page.locator("input[name=slot]").input_value().split("|")[0])
    make_booking(staff=gym.staff[0], start=start.astimezone(timezone.utc))  # someone else got there first

    page.click("button:has-text('Confirm booking')")
    expect(page.locator("#booking-step .alert")).to_contain_text("someone has just booked that time")
    expect(page.locator("#name")).to_have_value("Sam Quick")
    expect(page.locator("input[type=radio][name=slot]:checked")).to_have_count(1)
    screenshot(page, "js-10-slot-taken")
    page.click("button:has-text('Confirm booking')")
    page.wait_for_url(re.compile(r"/booking/manage/[\w-]+\?created=1$"))
    expect(page.locator(".confirmation")).to_contain_text("You're booked!")
    assert watch.problems == []
    context.close()


def test_book_without_javascript_on_a_phone(chromium, server, gym, db, screenshot, watch):
    from playwright.sync_api import expect

    context = chromium.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844},
                                   timezone_id="Asia/Tokyo", is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = watch(context.new_page())

    page.goto(f"{server}/book/personal-training")
    # No script: the gym's own zone, and a visible button to change it.
    expect(page.locator("#tz-select")).to_have_value("Europe/London")
    expect(page.locator(".tz-form button")).to_be_visible()
    screenshot(page, "nojs-01-booking-page")

    day = choose_day(page, earliest("Europe/London", 1))
    page.wait_for_url(re.compile(f"date={day}"))
    expect(page.locator("#step-title")).to_have_attribute("data-day", day)
    screenshot(page, "nojs-02-day-slots")

    # Change the zone with the form (a GET and a full page).
    page.select_option("#tz-select", "America/New_York")
    page.click(".tz-form button")
    page.wait_for_url(re.compile(r"tz=America%2FNew_York"))
    expect(page.locator("#booking-step")).to_contain_text("Times in America/New_York")

    page.locator("a.slot").first.click()
    page.wait_for_url(re.compile(r"slot="))
    expect(page.locator("#step-title")).to_have_text("Your details")
    page.click("button:has-text('Confirm booking')")  # nothing filled in
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.locator(".error-summary")).to_contain_text("Please tell us your name.")
    screenshot(page, "nojs-03-field-errors")

    page.fill("#name", "Kenji Sato")
    page.fill("#email", "kenji@example.com")
    # A Japanese mobile, written as at home: read as the UK's (the gym's) it is a premium-rate number,
    # refused; booked once Japan is chosen.
    page.fill("#phone", "090-1234-5678")
    page.click("button:has-text('Confirm booking')")
    expect(page.locator("#phone-error")).to_contain_text("+44 901 234 5678 is a United Kingdom service number")
    expect(page.locator("#phone-error")).to_contain_text("choose that country")
    expect(page.locator("#phone")).to_have_value("090-1234-5678")
    screenshot(page, "nojs-03b-phone-refused")
    page.select_option("#phone_country", "JP")
    page.fill("#email", "")  # one more mistake: the form comes back with the country kept and the number shown
    page.click("button:has-text('Confirm booking')")
    expect(page.locator("#phone_country")).to_have_value("JP")
    expect(page.locator("#phone-preview")).to_have_text("We will text +81 90-1234-5678.")
    page.fill("#email", "kenji@example.com")
    page.click("button:has-text('Confirm booking')")
    page.wait_for_url(re.compile(r"/booking/manage/[\w-]+\?created=1$"))
    expect(page.locator(".confirmation")).to_contain_text("You're booked!")
    expect(page.locator(".booking-card")).to_contain_text("(America/New_York)")
    expect(page.locator(".booking-card")).to_contain_text("Texts to +81 90-1234-5678")
    screenshot(page, "nojs-04-confirmation")

    # Cancel without script: a page to confirm, a POST, a redirect back.
    page.click("a:has-text('Cancel booking')")
    page.wait_for_url(re.compile(r"/cancel"))
    screenshot(page, "nojs-05-cancel-confirm")
    page.click("button:has-text('Yes, cancel my booking')")
    expect(page.locator("#actions-title")).to_have_text("This booking is cancelled")
    screenshot(page, "nojs-06-cancelled")
    db.session.rollback()
    booking = db.session.scalars(select(Booking)).one()
    assert booking.status == "cancelled" and booking.attendee_name == "Kenji Sato"
    assert booking.attendee_phone == "+819012345678"
    assert watch.problems == []
    context.close()


def test_month_zone_and_type_controls_swap_in_place(chromium, server, gym, db, make_appointment_type, screenshot,
                                                    watch):
    from playwright.sync_api import expect

    from app.models import Organization

    org = db.session.get(Organization, gym.organization_id)
    consult = make_appointment_type(org=org, name="Strength Assessment", duration_minutes=30, booking_window_days=90,
                                    description="A chat about your goals and a tour.")
    gym.appointment_types = [*gym.appointment_types, consult]
    db.session.commit()

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/London")
    context.set_default_timeout(TIMEOUT_MS)
    page = watch(context.new_page())
    page.goto(f"{server}/book/personal-training")
    expect(page.locator(".type-card")).to_have_count(2)
    expect(page.locator(".summary__name")).to_have_text("Personal Training Session")  # the first by name
    expect(page.locator("button:has-text('Show times')")).to_be_hidden()  # the radios act at once
    title = page.locator("#calendar-title").inner_text()

    page.locator("#calendar-next").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#calendar-title")).not_to_have_text(title)
    expect(page.locator("#calendar-next")).to_be_focused()  # focus survives the swap
    expect(page).to_have_url(re.compile(r"month=\d{4}-\d\d"))
    expect(page.locator(".book-hero")).to_be_visible()  # only the calendar was replaced
    page.locator("#calendar-prev").click()
    expect(page.locator("#calendar-title")).to_have_text(title)

    day = choose_day(page, earliest("Europe/London", 1))
    expect(page.locator("#step-title")).to_have_attribute("data-day", day)
    first = page.locator(".slot__time").first.inner_text()

    page.select_option("#tz-select", "Asia/Tokyo")
    expect(page.locator("#booking-step")).to_contain_text("Times in Asia/Tokyo")
    expect(page.locator(".slot__time").first).not_to_have_text(first)
    expect(page).to_have_url(re.compile(r"tz=Asia%2FTokyo"))

    page.locator(f"label[for='type-{consult.id}']").click()
    expect(page.locator(".summary__name")).to_have_text("Strength Assessment")
    expect(page.locator(".facts-inline")).to_contain_text("30 min")
    expect(page).to_have_url(re.compile(f"type={consult.id}"))
    # the day and zone chosen before are kept (they were swapped in after the form was rendered)
    expect(page.locator("#step-title")).to_have_attribute("data-day", day)
    expect(page.locator("#booking-step")).to_contain_text("Times in Asia/Tokyo")
    screenshot(page, "js-11-type-and-zone")
    assert watch.problems == []
    context.close()
