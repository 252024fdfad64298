"""Asking before cancelling or moving a booking, in Chromium (issue 17, item 6): the question opens as a
modal dialog with the first control focused, Esc and "Keep it" close it and give focus back to the
button that opened it, "Yes" acts — and its message replaces the last one instead of stacking.
Screenshots: tests/output/screenshots/dash-18-*.png … dash-20-*.png."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"  # the factories' default


@pytest.fixture
def booking(gym, make_user, make_booking, db):
    from app.models import Organization

    org = db.session.get(Organization, gym.organization_id)
    make_user(org=org, name="Olivia Owner", role="owner", email="owner@atlas.example")
    tz = ZoneInfo(org.timezone)
    start = datetime.combine(datetime.now(tz).date() + timedelta(days=2), datetime.min.time().replace(hour=10),
                             tzinfo=tz)
    return make_booking(staff=gym.staff[0], start=start, appointment_type_id=gym.appointment_types[0].id,
                        booking_link_id=gym.id, attendee_name="Jane Smith", attendee_email="jane@example.com")


def active_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_cancel_and_move_ask_in_a_dialog(chromium, server, booking, screenshot):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/auth/login")
    page.fill("#email", "owner@atlas.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard/$"))
    page.goto(f"{server}/dashboard/bookings/{booking.id}")

    # Open with the keyboard; the reason is focused; Esc closes and focus goes back to the button.
    page.focus("#cancel-booking")
    page.keyboard.press("Enter")
    page.wait_for_selector("dialog#confirm-dialog[open]")
    assert "Cancel Jane Smith's Personal Training Session with Alex Morgan" in page.inner_text("#confirm-title")
    assert active_id(page) == "reason"
    screenshot(page, "dash-18-cancel-dialog")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog#confirm-dialog", state="detached")
    assert active_id(page) == "cancel-booking"
    assert page.url.endswith(f"/dashboard/bookings/{booking.id}")  # nothing happened, no page load

    # "Keep it" closes it as well.
    page.keyboard.press("Enter")
    page.wait_for_selector("dialog#confirm-dialog[open]")
    page.click("dialog >> text=Keep it")
    page.wait_for_selector("dialog#confirm-dialog", state="detached")
    assert active_id(page) == "cancel-booking"

    # Move it: pick a time, confirm in the dialog; the booking page says so.
    page.click("text=Reschedule")
    page.wait_for_selector("#reschedule-slots .slot")
    page.click("#reschedule-slots .slot >> nth=2")
    page.wait_for_selector("dialog#confirm-dialog[open]")
    assert page.inner_text("#confirm-title").startswith("Move Jane Smith's Personal Training Session")
    assert page.evaluate("document.activeElement.textContent") == "Yes, move it"
    screenshot(page, "dash-19-move-dialog")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/dashboard/bookings/{booking.id}$"))
    assert page.locator("#messages .flash").all_inner_texts() == [page.inner_text("#messages .flash")]
    assert "Booking moved to" in page.inner_text("#messages")

    # Cancel it: the new message replaces the last one in the one live region.
    page.click("#cancel-booking")
    page.wait_for_selector("dialog#confirm-dialog[open]")
    page.fill("#reason", "Client called to cancel")
    page.click("dialog >> text=Yes, cancel it")
    page.wait_for_selector("dialog#confirm-dialog", state="detached")
    page.wait_for_selector("#messages >> text=Booking cancelled")
    assert page.locator("#messages .flash").all_inner_texts() == ["Booking cancelled; the time is free again."]
    assert page.get_attribute("#messages", "aria-live") == "polite"
    assert "Client called to cancel" in page.inner_text("#booking-detail")
    assert page.evaluate("document.activeElement.tagName") == "H1"  # the button went with the booking's actions
    screenshot(page, "dash-20-cancelled-one-message")
    page.close()
