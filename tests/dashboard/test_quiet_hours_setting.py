"""Quiet hours on the settings page: shown with the default a new gym has, saved, turned off,
refused when they start and end at the same time; a form without them leaves them alone."""
from __future__ import annotations

from datetime import time

from dashboard_helpers import text

from app.models import Organization
from app.services.quiet_hours import DEFAULT, QuietHours, organization_quiet_hours

BASE = {"name": "Acme", "timezone": "Europe/London", "cancellation_cutoff_hours": "12", "reminder_offsets": "24h, 2h"}


def quiet_hours(db, gym):
    db.session.expire_all()
    return organization_quiet_hours(db.session.get(Organization, gym.org.id).settings)


def test_the_settings_page_shows_the_default_quiet_hours(owner, gym):
    page = text(owner.get("/dashboard/settings"))
    assert "Quiet hours" in page and 'value="21:00"' in page and 'value="08:00"' in page
    assert '<option selected value="sms">Hold text reminders</option>' in page


def test_quiet_hours_are_saved_and_turned_off(owner, gym, db):
    saved = owner.post("/dashboard/settings", {**BASE, "quiet_mode": "all", "quiet_start": "22:30", "quiet_end": "07:00"})
    assert saved.status_code == 303
    assert quiet_hours(db, gym) == QuietHours(time(22, 30), time(7), email=True)
    page = text(owner.get("/dashboard/settings"))
    assert 'value="22:30"' in page and '<option selected value="all">' in page

    assert owner.post("/dashboard/settings", {**BASE, "quiet_mode": "off"}).status_code == 303
    assert quiet_hours(db, gym) is None
    # A form that does not carry them (an older page, a script) leaves them as they are.
    assert owner.post("/dashboard/settings", BASE).status_code == 303
    assert quiet_hours(db, gym) is None
    assert owner.post("/dashboard/settings", {**BASE, "quiet_mode": "sms"}).status_code == 303
    assert quiet_hours(db, gym) == DEFAULT  # times left empty: the default's


def test_quiet_hours_that_end_when_they_start_are_refused(owner, gym, db):
    refused = owner.post("/dashboard/settings", {**BASE, "quiet_mode": "sms", "quiet_start": "09:00",
                                                 "quiet_end": "09:00"})
    assert refused.status_code == 422 and "must end at another time" in text(refused)
    assert quiet_hours(db, gym) == DEFAULT
    junk = owner.post("/dashboard/settings", {**BASE, "quiet_mode": "sms", "quiet_start": "25:99", "quiet_end": "x"})
    assert junk.status_code == 422 and "Not a valid time value" in text(junk)
    assert owner.post("/dashboard/settings", {**BASE, "quiet_mode": "sms", "quiet_start": "21:00\x00"}).status_code == 400
    unknown = owner.post("/dashboard/settings", {**BASE, "quiet_mode": "sometimes"})
    assert unknown.status_code == 422 and "choose one from the list" in text(unknown)
    assert quiet_hours(db, gym) == DEFAULT
