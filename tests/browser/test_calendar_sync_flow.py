"""Google Calendar in Chromium: a trainer connects through the consent screen of the local Google
stand-in, picks a second calendar as blocking, and an event added in Google takes its time off the
public booking page after the push notification. Screenshots: tests/output/screenshots/cal-*.png."""
from __future__ import annotations

import re
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "services" / "calendar"))
from calendar_helpers import google_settings  # noqa: E402
from google_standin import GoogleStandIn  # noqa: E402

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"  # the factories' default
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def google():
    with GoogleStandIn() as standin:
        yield standin


@pytest.fixture
def app_config(app_config, google):
    return {**app_config, **google_settings(google), "GOOGLE_HTTP_TIMEOUT": 3, "CALENDAR_JOBS": "inline"}


def test_trainer_connects_google_and_a_google_event_blocks_public_slots(chromium, server, app, gym, google,
                                                                       screenshot, db):
    from app.models import User

    alex = db.session.get(User, gym.staff[0].id)
    alex.email = "alex@atlas.example"
    db.session.commit()
    app.config["GOOGLE_WEBHOOK_URL"] = f"{server}/api/calendar/webhooks/google"
    google.add_account(alex.email, calendars=[
        {"id": alex.email, "summary": "Alex Morgan", "timeZone": "Europe/London", "primary": True},
        {"id": "classes@group.calendar.google.com", "summary": "Group classes", "timeZone": "Europe/London"},
    ])

    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/auth/login")
    page.fill("#email", alex.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard/$"))
    page.click("text=Calendar sync")
    screenshot(page, "cal-01-not-connected")

    page.click("text=Connect Google Calendar")  # → the stand-in's consent screen → our callback
    page.wait_for_url(re.compile(r".*/dashboard/calendar-sync$"))
    assert page.is_visible("text=Google Calendar connected")
    assert page.is_checked('input[name="conflict"] >> nth=0')
    screenshot(page, "cal-02-connected")

    # Group classes block availability too.
    page.check('input[name="conflict"] >> nth=1')
    page.click("button:has-text('Save')")
    page.wait_for_load_state("networkidle")
    assert page.is_checked('input[name="conflict"] >> nth=1')
    screenshot(page, "cal-03-both-blocking")

    # An event in Google removes its slot from the public page after the push notification.
    day = datetime.now(LONDON).date() + timedelta(days=3)
    start = datetime.combine(day, time(10), tzinfo=LONDON)
    public = chromium.new_page(viewport={"width": 1280, "height": 900})
    public.goto(f"{server}/book/personal-training?date={day.isoformat()}")
    before = [t.split()[0] for t in public.locator(".slot").all_inner_texts()]
    assert "10:00" in before and "09:00" in before
    google.user_insert_event("classes@group.calendar.google.com", start, start + timedelta(hours=1),
                             summary="Spin class")
    assert google.deliver_notifications() >= 1
    public.goto(f"{server}/book/personal-training?date={day.isoformat()}")
    after = [t.split()[0] for t in public.locator(".slot").all_inner_texts()]
    # 10:00 is taken by the class; 09:00 too, since its 15-minute buffer would run into it.
    assert "10:00" not in after and "09:00" not in after and "11:00" in after
    screenshot(public, "cal-04-public-page-after-google-event")
