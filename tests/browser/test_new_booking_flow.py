"""New booking (staff) in Chromium: the owner clicks an empty time on the calendar, lands on the form
with that trainer, day and time chosen, types a new client and books — once with JavaScript (htmx) and
once without (plain form posts). Screenshots: tests/output/screenshots/dash-new-booking-*.png."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.models import Booking, BookingAudit

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")

PASSWORD = "correct horse battery"  # the factories' default


@pytest.fixture
def owner(gym, make_user, db):
    from app.models import Organization

    org = db.session.get(Organization, gym.organization_id)
    return make_user(org=org, name="Olivia Owner", role="owner", email="owner@atlas.example")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_owner_books_from_an_empty_time_on_the_calendar(chromium, server, gym, owner, db, screenshot, javascript):
    trainer = gym.staff[0]
    day = datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=2)
    context = chromium.new_context(java_script_enabled=javascript, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/auth/login")
    page.fill("#email", owner.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard/$"))
    page.goto(f"{server}/dashboard/calendar?view=day&date={day.isoformat()}&trainer={trainer.id}")
    page.click('a.tgrid__new[href$="time=10:00"]')
    page.wait_for_url(re.compile(r".*/dashboard/bookings/new\?.*time=10:00"))
    assert page.locator('input[name=start]:checked').count() == 1  # the clicked time, chosen
    email = f"walk-in-{'js' if javascript else 'nojs'}@example.com"
    page.fill("#name", "Wanda Walk-in")
    page.fill("#email", email)
    page.uncheck("#notify")
    screenshot(page, f"dash-new-booking-{'htmx' if javascript else 'nojs'}")
    page.click("button[name=action][value=book]")
    page.wait_for_url(re.compile(r".*/dashboard/bookings/[0-9a-f-]+$"))
    assert "Booked Wanda Walk-in" in page.inner_text("#messages")
    db.session.expire_all()
    booking = db.session.scalars(select(Booking).where(Booking.attendee_email == email)).one()
    start = booking.start_at.astimezone(ZoneInfo("Europe/London"))
    assert (start.date(), start.hour, booking.staff_id, booking.source) == (day, 10, trainer.id, "dashboard")
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).one()
    assert (audit.actor_type, audit.actor_id, audit.after["client_notified"]) == ("staff", str(owner.id), False)
    context.close()
