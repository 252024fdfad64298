"""Quiet hours: no reminder reaches a customer's phone between 21:00 and 08:00 their time (the
organization's setting); reminders are moved after or before them, held or dropped, right on DST
days; confirmations are never held."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from notification_helpers import START

from app.services import notifications, team
from app.services.quiet_hours import DEFAULT, QUIET_MARGIN, QuietHours, organization_quiet_hours

NUMBER = "+447700900123"
NY = ZoneInfo("America/New_York")
UTC = timezone.utc


@pytest.fixture
def quiet(db, world):
    """The organization with its quiet hours as a new gym has them: the default, 21:00–08:00."""
    world.org.settings = {}
    db.session.commit()
    assert organization_quiet_hours(world.org.settings) == DEFAULT
    return world


def local(instant: datetime, zone: ZoneInfo = NY) -> datetime:
    return instant.astimezone(zone)


def sms_reminders(rows):
    return rows(template="booking_reminder", channel="sms")


def test_an_early_class_gets_its_text_reminders_outside_quiet_hours(quiet, book, rows, twilio):
    """A 05:00 class (New York time): the 2-hour text would go at 03:00 and the 24-hour one at 05:00
    the day before. The 24-hour one goes at 08:00, when quiet hours end; the 2-hour one the evening
    before, 15 minutes before they begin (after them would be too late)."""
    book(phone=NUMBER, tz="America/New_York")  # START is Monday 05:00 EST
    evening_before = datetime(2031, 1, 5, 20, 45, tzinfo=NY)
    morning_before = datetime(2031, 1, 5, 8, 0, tzinfo=NY)
    assert [local(r.send_at) for r in sms_reminders(rows)] == [morning_before, evening_before]
    # Email is not held by default: it waits in the inbox, it does not ring.
    assert [r.send_at for r in rows(template="booking_reminder", channel="email")] == [
        START - timedelta(hours=24), START - timedelta(hours=2)]

    notifications.process_due(now=START - timedelta(days=2))  # the confirmation
    for moment in sorted((START - timedelta(hours=24), morning_before, evening_before, START - timedelta(hours=2))):
        notifications.process_due(now=moment.astimezone(UTC))
    texts = [m["body"] for m in twilio.to(NUMBER)]
    assert len(texts) == 3 and "tomorrow" in texts[1] and "tomorrow" in texts[2]
    sent = [r for r in sms_reminders(rows) if r.status == "sent"]
    assert len(sent) == 2
    for row in sent:
        assert time(8) <= local(row.sent_at).time() < time(21)


def test_the_customers_zone_counts_not_the_gyms(quiet, book, rows):
    """A 09:00 UTC class: the 2-hour reminder at 07:00 UTC is 02:00 in New York (quiet) but 16:00
    in Tokyo (not): only the New Yorker's moves."""
    start = START - timedelta(hours=1)
    book(start=start, phone=NUMBER, tz="Asia/Tokyo")
    tokyo = sorted(r.send_at for r in sms_reminders(rows))
    assert tokyo == [start - timedelta(hours=24), start - timedelta(hours=2)]
    book(start=start + timedelta(days=1), phone="+447700900124", email="bob@example.com", tz="America/New_York")
    new_york = [r for r in sms_reminders(rows) if r.recipient == "+447700900124"]
    assert all(time(8) <= local(r.send_at).time() < time(21) for r in new_york)


def test_a_confirmation_is_never_held(quiet, book, rows, twilio):
    """Booked at 23:30 the customer's time: the confirmation text goes at once."""
    late_evening = datetime(2031, 1, 2, 23, 30, tzinfo=NY).astimezone(UTC)
    book(phone=NUMBER, tz="America/New_York", now=late_evening)
    outcome = notifications.process_due(now=late_evening)
    assert outcome.sent == 3 and outcome.held == 0
    [confirmation] = rows(template="booking_confirmation", channel="sms")
    assert confirmation.status == "sent" and len(twilio.to(NUMBER)) == 1


def test_email_reminders_are_held_too_when_the_gym_says_so(quiet, book, rows, db):
    quiet.org.settings = {"quiet_hours": {"start": "21:00", "end": "08:00", "email": True}}
    db.session.commit()
    book(phone=NUMBER, tz="America/New_York")
    emails = [local(r.send_at) for r in rows(template="booking_reminder", channel="email")]
    assert emails == [datetime(2031, 1, 5, 8, 0, tzinfo=NY), datetime(2031, 1, 5, 20, 45, tzinfo=NY)]


def test_a_reminder_due_inside_quiet_hours_is_held_to_their_end_or_dropped(quiet, book, rows, db, twilio):
    """Reminders written before quiet hours were set (or while the worker was down) still never go
    inside them: held to 08:00 while that leaves half their notice, else skipped with the reason."""
    quiet.org.settings = {"quiet_hours": {"off": True}}
    db.session.commit()
    book(phone=NUMBER, tz="America/New_York")
    notifications.process_due(now=START - timedelta(days=2))
    quiet.org.settings = {}  # the default again, without moving what is scheduled
    db.session.commit()

    outcome = notifications.process_due(now=START - timedelta(hours=24))  # 05:00 the day before
    assert outcome.held == 1 and outcome.sent == 1  # the text is held; the email goes
    [held, two_hours] = sms_reminders(rows)
    assert held.status == "pending" and local(held.send_at) == datetime(2031, 1, 5, 8, 0, tzinfo=NY)
    assert held.attempts == 0 and "quiet hours (21:00\u201308:00 America/New_York)" in held.last_error
    notifications.process_due(now=held.send_at)
    assert sms_reminders(rows)[0].status == "sent" and len(twilio.to(NUMBER)) == 2

    notifications.process_due(now=START - timedelta(hours=2))  # 03:00: 08:00 would be after the class
    two_hours = sms_reminders(rows)[1]
    assert two_hours.status == "skipped" and "too little notice" in two_hours.last_error
    assert len(twilio.to(NUMBER)) == 2


def test_changing_quiet_hours_moves_the_reminders_already_scheduled(quiet, book, rows, db):
    quiet.org.settings = {"quiet_hours": {"off": True}}
    db.session.commit()
    book(phone=NUMBER, tz="America/New_York")
    nominal = [START - timedelta(hours=24), START - timedelta(hours=2)]
    assert [r.send_at for r in sms_reminders(rows)] == nominal

    def save(quiet_hours):
        team.update_settings(quiet.org.id, name=quiet.org.name, timezone_name=quiet.org.timezone,
                             cancellation_cutoff_minutes=quiet.org.cancellation_cutoff_minutes,
                             reminder_offsets_minutes=[24 * 60, 120], quiet_hours=quiet_hours)

    save(DEFAULT)
    assert [local(r.send_at) for r in sms_reminders(rows)] == [
        datetime(2031, 1, 5, 8, 0, tzinfo=NY), datetime(2031, 1, 5, 20, 45, tzinfo=NY)]
    # Quiet until 06:00 instead: the 2-hour reminder (03:00) still cannot go after them; earlier
    # it goes at 20:45 as before. A window 22:00-02:00 leaves 03:00 alone.
    save(QuietHours(time(22), time(2)))
    assert [r.send_at for r in sms_reminders(rows)] == nominal
    save(None)
    assert [r.send_at for r in sms_reminders(rows)] == nominal
    assert organization_quiet_hours(db.session.get(type(quiet.org), quiet.org.id).settings) is None
    assert {r.status for r in sms_reminders(rows)} == {"pending"}


def test_a_reminder_with_no_time_left_outside_quiet_hours_is_not_written(quiet, book, rows):
    """Booked at 20:40 for 05:00 next morning: the 2-hour text (03:00) cannot go after quiet hours,
    and before them (20:45) would be 5 minutes after the confirmation: there is none."""
    book(phone=NUMBER, tz="America/New_York", now=datetime(2031, 1, 5, 20, 40, tzinfo=NY).astimezone(UTC))
    assert sms_reminders(rows) == []
    assert len(rows(template="booking_reminder", channel="email")) == 1  # email at 03:00 waits in the inbox


# --- the rule itself, on DST days ------------------------------------------------------------------

@pytest.mark.parametrize(("start", "due", "expected"), [
    # New York springs forward on Sunday 9 March 2031 (02:00 → 03:00).
    (datetime(2031, 3, 9, 5, 0, tzinfo=NY), datetime(2031, 3, 9, 3, 0, tzinfo=NY),
     datetime(2031, 3, 8, 21, 0, tzinfo=NY) - QUIET_MARGIN),
    (datetime(2031, 3, 9, 10, 0, tzinfo=NY), datetime(2031, 3, 9, 6, 0, tzinfo=NY),
     datetime(2031, 3, 9, 8, 0, tzinfo=NY)),
    # ...and falls back on Sunday 2 November 2031 (02:00 → 01:00): 08:00 is still 08:00 local.
    (datetime(2031, 11, 2, 12, 0, tzinfo=NY), datetime(2031, 11, 2, 0, 30, tzinfo=NY),
     datetime(2031, 11, 2, 8, 0, tzinfo=NY)),
    (datetime(2031, 11, 2, 14, 0, tzinfo=NY), datetime(2031, 11, 2, 12, 0, tzinfo=NY),
     datetime(2031, 11, 2, 12, 0, tzinfo=NY)),  # not quiet: unchanged
])
def test_placing_a_two_hour_reminder_reads_the_wall_clock_on_dst_days(start, due, expected):
    placed = DEFAULT.place(due.astimezone(UTC), start.astimezone(UTC), timedelta(hours=2), "America/New_York",
                           earliest=datetime(2031, 1, 1, tzinfo=UTC))
    assert placed == expected.astimezone(UTC)
    assert local(placed).time() in (time(20, 45), time(8, 0), time(12, 0))


def test_a_window_within_one_day_and_the_setting_round_trip():
    daytime = QuietHours(time(13), time(15))  # a siesta
    assert daytime.contains(datetime(2031, 1, 6, 14, tzinfo=UTC), "UTC")
    assert not daytime.contains(datetime(2031, 1, 6, 15, tzinfo=UTC), "UTC")
    placed = [daytime.place(datetime(2031, 1, 6, 14, tzinfo=UTC), datetime(2031, 1, 7, tzinfo=UTC), timedelta(hours=h),
                            "UTC", earliest=datetime(2031, 1, 1, tzinfo=UTC)) for h in (12, 24)]
    assert placed == [datetime(2031, 1, 6, 15, tzinfo=UTC), datetime(2031, 1, 6, 12, 45, tzinfo=UTC)]
    from app.services.quiet_hours import setting
    for value in (DEFAULT, daytime, QuietHours(time(22), time(7), email=True), None):
        assert organization_quiet_hours({"quiet_hours": setting(value)}) == value
    # What cannot be read is the default, never "no quiet hours".
    for junk in ({"start": "25:00", "end": "08:00"}, {"start": "08:00", "end": "08:00"}, {"start": 9}):
        assert organization_quiet_hours({"quiet_hours": junk}) == DEFAULT
