"""Looking after Google Calendar connections between syncs (services/calendar/upkeep.py, run by the
periodic pass): the calendar list read again, channels of calendars that went stopped, and a
trainer emailed once — through the notification outbox, to a real SMTP server (aiosmtpd) — when
their connection needs reconnecting or write-backs of their bookings keep failing. Against the
local Calendar v3 stand-in (google_standin.py), through the real Google client libraries."""
from __future__ import annotations

import socket
import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as email_policy

import pytest
from calendar_helpers import connect, deliver_to, google_settings, iso, local, next_weekday, sign_in, slot_starts
from sqlalchemy import select

SECONDARY = "classes@group.calendar.google.com"
EVENINGS = "evenings@group.calendar.google.com"
SYNC_PAGE = "http://localhost/dashboard/calendar-sync"


# --- real parts: an SMTP server -----------------------------------------------------------------------

class Inbox:
    """aiosmtpd handler keeping every accepted message, parsed."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=email_policy))
        return "250 Message accepted"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def app_config(app_config, google, smtp, tmp_path):
    return {**app_config, **google_settings(google), "GOOGLE_HTTP_TIMEOUT": 4, "GOOGLE_RETRY_AFTER": 0,
            "GOOGLE_WEBHOOK_URL": "http://localhost/api/calendar/webhooks/google", "CALENDAR_JOBS": "inline",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port,
            "MAIL_USE_TLS": False, "MAIL_USE_SSL": False, "SMTP_TIMEOUT": 5, "SMTP_FROM": "Atlas <hello@atlas.example>",
            # Flask-Mail suppresses sending when TESTING is on: these tests want the real conversation.
            "MAIL_SUPPRESS_SEND": False, "OUTBOX_DIR": str(tmp_path / "outbox")}


# --- the world: a gym whose trainers use Google Calendar -------------------------------------------------

@pytest.fixture
def gym(db, make_org, make_trainer, make_appointment_type, make_link, google):
    """A London gym; Tess's Google account has her primary calendar and a group-classes calendar."""
    org = make_org(timezone="Europe/London")
    trainer = make_trainer(org=org, name="Tess Trainer", email="tess@gym.example")
    other = make_trainer(org=org, name="Omar Other", email="omar@gym.example")
    atype = make_appointment_type(org=org, name="PT session", duration_minutes=60)
    google.add_account(trainer.email, calendars=[
        {"id": trainer.email, "summary": "Tess", "timeZone": "Europe/London", "primary": True},
        {"id": SECONDARY, "summary": "Group classes", "timeZone": "Europe/London"},
    ])

    class Gym:
        pass

    g = Gym()
    g.org, g.trainer, g.other, g.atype = org, trainer, other, atype
    g.link = make_link([trainer], [atype])
    g.day = next_weekday(0)
    return g


@pytest.fixture
def connected(app, gym, google):
    """Tess signed in and connected; push notifications delivered through the test client."""
    gym.client = sign_in(app, gym.trainer.email)
    google.notify = deliver_to(app.test_client())
    connect(app, gym.client, google)
    google.deliver_notifications()
    return gym


def _connection(db, user):
    from app.models import CalendarConnection

    db.session.expire_all()
    return db.session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)).one()


def _calendar(db, external_id):
    from app.models import Calendar

    db.session.expire_all()
    return db.session.scalars(select(Calendar).where(Calendar.external_id == external_id)).one_or_none()


def _select(db, gym, *, blocking: list[str], destination: str | None):
    """Tess ticks these calendars on the Calendar sync page (the setup job runs inline)."""
    from app.services import calendar as calendar_sync

    connection = _connection(db, gym.trainer)
    conflict_ids = [str(_calendar(db, c).id) for c in blocking]
    destination_id = str(_calendar(db, destination).id) if destination else None
    calendar_sync.update_selection(connection.id, gym.trainer, conflict_ids=conflict_ids, destination_id=destination_id)


def _book(app, gym, start) -> uuid.UUID:
    response = app.test_client().post("/api/booking/create", json={
        "link_slug": gym.link.slug, "start_time": iso(start), "attendee_name": "Bea Booker",
        "attendee_email": "bea@example.com"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return uuid.UUID(response.get_json()["booking"]["id"])


def _booking(db, booking_id):
    from app.models import Booking

    db.session.expire_all()
    return db.session.get(Booking, booking_id)


def _a_day_later(app) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=app.config["GOOGLE_CALENDAR_LIST_INTERVAL"] + 60)


def _emails(smtp, gym, now: datetime) -> list:
    """The calendar sync emails in Tess's inbox once the outbox was emptied at `now` (the time the
    passes were told it is; she is also told of each new booking)."""
    from app.services import notifications

    notifications.process_due(now=now)
    return [m for m in smtp.handler.to(gym.trainer.email) if SYNC_PAGE in m.get_body(("plain",)).get_content()]


# --- 1. the calendar list, read again ---------------------------------------------------------------------

def test_the_calendar_list_is_read_again_once_a_day_and_what_changed_in_google_follows(app, db, connected, google):
    """Issue 14: the list was read only on (re)connect. Now the periodic pass reads it again once a
    day: a new calendar appears unselected, renames and time zones follow Google, and a calendar that
    went stops blocking availability, has its push channel stopped and says why."""
    from app.services import bookings

    gym = connected
    google.user_insert_event(SECONDARY, local(gym.day, 14), local(gym.day, 15), summary="Spin class")
    _select(db, gym, blocking=[gym.trainer.email, SECONDARY], destination=gym.trainer.email)
    google.deliver_notifications()
    channel = _calendar(db, SECONDARY).channel_id
    assert channel and not google.channels[channel]["stopped"]
    assert iso(local(gym.day, 14)) not in slot_starts(app.test_client(), gym.link.slug, gym.day)

    google.user_remove_calendar(gym.trainer.email, SECONDARY)
    google.user_add_calendar(gym.trainer.email, {"id": EVENINGS, "summary": "Evening clients",
                                                 "timeZone": "Europe/Paris"})
    google.user_update_calendar(gym.trainer.email, summary="Tess T.", time_zone="Europe/Dublin")

    google.reset_requests()
    bookings.calendar_pass(now=datetime.now(timezone.utc) + timedelta(hours=1))  # read at connect: not due
    assert google.count(path_contains="/calendarList") == 0
    assert _calendar(db, EVENINGS) is None

    later = _a_day_later(app)
    bookings.calendar_pass(now=later)
    assert google.count(path_contains="/calendarList") == 1
    added = _calendar(db, EVENINGS)
    assert (added.name, added.timezone, added.check_for_conflicts, added.is_destination) == (
        "Evening clients", "Europe/Paris", False, False)
    primary = _calendar(db, gym.trainer.email)
    assert (primary.name, primary.timezone, primary.check_for_conflicts, primary.is_destination) == (
        "Tess T.", "Europe/Dublin", True, True)
    gone = _calendar(db, SECONDARY)
    assert gone.check_for_conflicts is False and gone.busy_cache is None and gone.busy_cache_until is None
    assert gone.sync_error.startswith("This calendar is no longer in your Google account")
    assert "no longer blocks your availability" in gone.sync_error
    assert gone.channel_id is None and google.channels[channel]["stopped"]
    assert _connection(db, gym.trainer).calendars_checked_at == later
    # Its busy time no longer takes slots away, and Google no longer tells us about it.
    assert iso(local(gym.day, 14)) in slot_starts(app.test_client(), gym.link.slug, gym.day)
    google.pending_notifications.clear()
    google.user_insert_event(SECONDARY, local(gym.day, 16), local(gym.day, 17))
    assert google.pending_notifications == []
    page = gym.client.get("/dashboard/calendar-sync").get_data(as_text=True)
    assert "Evening clients" in page and "no longer in your Google account" in page

    google.reset_requests()
    bookings.calendar_pass(now=later + timedelta(minutes=5))  # once a day, not once a pass
    assert google.count(path_contains="/calendarList") == 0

    # The calendar comes back: the reason goes; its selection stays off until the trainer ticks it.
    google.user_add_calendar(gym.trainer.email, {"id": SECONDARY})
    bookings.calendar_pass(now=later + timedelta(days=1, minutes=1))
    back = _calendar(db, SECONDARY)
    assert back.sync_error is None and back.check_for_conflicts is False


def test_a_destination_gone_from_the_account_asks_the_trainer_to_pick_another(app, db, connected, google):
    """The calendar bookings were written to went: it is no longer the destination, the connection
    says so, nothing fails meanwhile, and picking another calendar writes the upcoming bookings there."""
    from app.services import bookings
    from app.services import calendar as calendar_sync

    gym = connected
    _select(db, gym, blocking=[gym.trainer.email], destination=SECONDARY)
    booked = _book(app, gym, local(gym.day, 10))
    assert _booking(db, booked).calendar_sync_status == "synced" and len(google.events(SECONDARY)) == 1

    google.user_remove_calendar(gym.trainer.email, SECONDARY)
    bookings.calendar_pass(now=_a_day_later(app))
    gone = _calendar(db, SECONDARY)
    assert gone.is_destination is False and "choose another calendar" in gone.sync_error
    connection = _connection(db, gym.trainer)
    assert connection.status == "active" and "Choose another calendar for your bookings" in connection.last_error
    assert "Group classes" in connection.last_error
    bookings.calendar_pass(now=_a_day_later(app) + timedelta(minutes=1))  # a busy read clears last_error...
    problems = calendar_sync.calendar_problems([gym.trainer])[gym.trainer.id]
    assert any("Choose another calendar" in p and "Group classes" in p for p in problems)  # ...not the alert

    later = _book(app, gym, local(gym.day, 12))
    assert _booking(db, later).calendar_sync_status != "failed"
    _select(db, gym, blocking=[gym.trainer.email], destination=gym.trainer.email)
    ids = {e["id"] for e in google.events(gym.trainer.email)}
    assert ids == {_booking(db, booked).external_event_id, _booking(db, later).external_event_id}
    db.session.expire_all()
    assert not any("Choose another" in p for p in calendar_sync.calendar_problems([gym.trainer])[gym.trainer.id])


def test_a_google_error_on_one_connection_does_not_stop_the_others(app, db, connected, google):
    from app.services import bookings

    gym = connected
    google.add_account(gym.other.email)
    google.consent_email = gym.other.email
    connect(app, sign_in(app, gym.other.email), google)
    google.user_add_calendar(gym.trainer.email, {"id": EVENINGS, "summary": "Evenings"})
    google.user_add_calendar(gym.other.email, {"id": "omar-extra@group.calendar.google.com", "summary": "Extra"})
    google.fail_next(1, 503, path_contains="/calendarList")
    google.reset_requests()
    later = _a_day_later(app)
    outcome = bookings.calendar_pass(now=later)
    assert google.count(path_contains="/calendarList") == 2 and outcome.errors == []
    tess, omar = _connection(db, gym.trainer), _connection(db, gym.other)
    [failed] = [c for c in (tess, omar) if c.last_error and "503" in c.last_error]
    assert failed.status == "active" and failed.calendars_checked_at == later  # recorded; asked again tomorrow
    # The other connection's list was read all the same.
    read = {_calendar(db, EVENINGS) is not None, _calendar(db, "omar-extra@group.calendar.google.com") is not None}
    assert read == {True, False}


# --- 2. channels of calendars that are no longer used ---------------------------------------------------

def test_a_reconnect_stops_the_channel_of_a_calendar_the_account_no_longer_lists(app, db, connected, google):
    """Before: the reconnect deleted the calendar's row and left its push channel running at Google,
    whose notifications then hit the webhook as an unknown channel until it expired (a week)."""
    gym = connected
    _select(db, gym, blocking=[gym.trainer.email, SECONDARY], destination=gym.trainer.email)
    google.deliver_notifications()
    channel = _calendar(db, SECONDARY).channel_id
    assert channel
    google.user_remove_calendar(gym.trainer.email, SECONDARY)
    google.reset_requests()

    connect(app, gym.client, google)  # reconnect
    google.deliver_notifications()
    stops = [r for r in google.requests if r.path.endswith("/channels/stop")]
    assert [r.body["id"] for r in stops] == [channel] and stops[0].status == 204
    assert google.channels[channel]["stopped"]
    google.user_insert_event(SECONDARY, local(gym.day, 9), local(gym.day, 10))
    assert google.pending_notifications == []  # Google has nobody left to tell
    gone = _calendar(db, SECONDARY)
    assert gone.channel_id is None and gone.check_for_conflicts is False
    assert "no longer blocks your availability" in gone.sync_error


def test_a_calendar_nobody_used_that_went_is_dropped_at_reconnect(app, db, connected, google):
    gym = connected
    assert _calendar(db, SECONDARY).check_for_conflicts is False
    google.user_remove_calendar(gym.trainer.email, SECONDARY)
    connect(app, gym.client, google)
    assert _calendar(db, SECONDARY) is None


def test_unticking_a_calendar_stops_its_channel(app, db, connected, google):
    """A change of selection that leaves a calendar nothing to do stops its channel (the setup job)."""
    gym = connected
    _select(db, gym, blocking=[gym.trainer.email, SECONDARY], destination=gym.trainer.email)
    google.deliver_notifications()
    channel = _calendar(db, SECONDARY).channel_id
    google.reset_requests()
    _select(db, gym, blocking=[gym.trainer.email], destination=gym.trainer.email)
    assert google.count(path_contains="/channels/stop") == 1 and google.channels[channel]["stopped"]
    assert _calendar(db, SECONDARY).channel_id is None
    google.user_insert_event(SECONDARY, local(gym.day, 9), local(gym.day, 10))
    assert google.pending_notifications == []


# --- 3. telling the trainer, once ---------------------------------------------------------------------------

def _lose_access(app, gym, google, hour: int) -> uuid.UUID:
    """Tess removes the app's access in her Google account; the next write-back finds out."""
    google.revoke_refresh_tokens(gym.trainer.email)
    google.expire_access_tokens()
    return _book(app, gym, local(gym.day, hour))


def test_a_trainer_is_emailed_once_when_the_connection_needs_reconnecting(app, db, connected, google, smtp):
    from app.services import bookings

    gym = connected
    booking_id = _lose_access(app, gym, google, 10)
    assert _connection(db, gym.trainer).status == "needs_reconnect"
    assert _booking(db, booking_id).calendar_sync_status == "failed"  # waits for the reconnect
    now = datetime.now(timezone.utc)
    for minutes in (0, 1, 2):
        bookings.calendar_pass(now=now + timedelta(minutes=minutes))
    [message] = _emails(smtp, gym, now + timedelta(minutes=2))
    assert message["Subject"] == "Your Google Calendar needs reconnecting"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hi Tess Trainer" in text and "tess@gym.example" in text and "None is lost" in text
    assert "your times stop being offered to clients" in text and "stop being offered" in html  # withhold
    assert SYNC_PAGE in text and f'href="{SYNC_PAGE}"' in html
    # Told once: the write-back failing meanwhile is part of the same trouble, not another email.
    bookings.calendar_pass(now=now + timedelta(minutes=3))
    assert len(_emails(smtp, gym, now + timedelta(minutes=3))) == 1
    assert _connection(db, gym.trainer).reconnect_emailed_at is not None

    connect(app, gym.client, google)  # reconnected: the trouble is over
    assert _connection(db, gym.trainer).reconnect_emailed_at is None
    assert _booking(db, booking_id).calendar_sync_status == "synced"
    bookings.calendar_pass(now=now + timedelta(minutes=4))
    assert len(_emails(smtp, gym, now + timedelta(minutes=4))) == 1

    _lose_access(app, gym, google, 12)  # and again, later: told again
    bookings.calendar_pass(now=now + timedelta(minutes=5))
    emails = _emails(smtp, gym, now + timedelta(minutes=5))
    assert [m["Subject"] for m in emails] == ["Your Google Calendar needs reconnecting"] * 2


def _until_failed(db, booking_id, start: datetime) -> datetime:
    """Periodic passes, 31 minutes apart, until the booking's write-back is a lasting failure."""
    from app.services import bookings

    moment = start
    for _ in range(20):
        moment += timedelta(minutes=31)
        bookings.calendar_pass(now=moment)
        if _booking(db, booking_id).calendar_sync_status == "failed":
            return moment
    raise AssertionError("the write-back never became a lasting failure")


def test_a_trainer_is_emailed_once_when_write_backs_keep_failing(app, db, connected, google, smtp):
    from app.services import bookings
    from app.services import calendar as calendar_sync

    gym = connected
    events = f"/calendars/{gym.trainer.email}/events"
    google.fail_next(10_000, 503, path_contains=events)
    first = _book(app, gym, local(gym.day, 10))
    assert _booking(db, first).calendar_sync_status == "pending"  # retrying: nothing to tell yet
    now = datetime.now(timezone.utc)
    bookings.calendar_pass(now=now)
    assert _emails(smtp, gym, now) == []

    moment = _until_failed(db, first, now)
    [message] = _emails(smtp, gym, moment)
    assert message["Subject"] == "An upcoming booking is not in your Google Calendar"
    text = message.get_body(("plain",)).get_content()
    assert "One of your upcoming bookings could not be added" in text and "keeps trying" in text
    assert SYNC_PAGE in text and f'href="{SYNC_PAGE}"' in message.get_body(("html",)).get_content()
    for _ in range(3):  # still failing: not told again
        moment += timedelta(minutes=31)
        bookings.calendar_pass(now=moment)
    assert len(_emails(smtp, gym, moment)) == 1
    assert _connection(db, gym.trainer).status == "active"  # a write failure is not a reconnect

    with google._lock:
        google._failures.clear()  # Google answers again, and the retry goes through
    assert calendar_sync.sync_booking_event(first, now=moment) in ("inserted", "patched")
    bookings.calendar_pass(now=moment)
    assert _connection(db, gym.trainer).write_failures_emailed_at is None  # the trouble is over

    google.fail_next(10_000, 503, path_contains=events)  # and comes back: told again
    second = _book(app, gym, local(gym.day, 14))
    moment = _until_failed(db, second, moment)
    subjects = [m["Subject"] for m in _emails(smtp, gym, moment)]
    assert subjects == ["An upcoming booking is not in your Google Calendar"] * 2


def test_the_emails_go_through_the_outbox_once_even_when_two_passes_look_at_once(app, db, connected, google):
    """The mark and the outbox row are written together, and the mark is set only if nobody has:
    a second look (another worker's pass) finds the trainer told and queues nothing."""
    from app.models import Notification
    from app.services.calendar import upkeep

    gym = connected
    _lose_access(app, gym, google, 10)
    now = datetime.now(timezone.utc)
    assert upkeep.tell_reconnect_needed(now, []) == 1
    assert upkeep.tell_reconnect_needed(now, []) == 0
    [row] = db.session.scalars(select(Notification).where(Notification.booking_id.is_(None))).all()
    assert (row.template, row.recipient, row.status) == ("staff_calendar_reconnect", gym.trainer.email, "pending")
