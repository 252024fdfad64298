"""Google Calendar two-way sync, end to end: the portal's real code and the real Google client
libraries against the local Calendar v3 stand-in (google_standin.py)."""
from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from calendar_helpers import (
    connect,
    deliver_to,
    google_settings,
    iso,
    local,
    next_weekday,
    query_of,
    sign_in,
    slot_starts,
)
from sqlalchemy import select

SECONDARY = "classes@group.calendar.google.com"


@pytest.fixture
def app_config(app_config, google):
    # 4 s: a loaded CI machine answered the stand-in's write-back in over 1.5 s, and the booking was
    # left without its event for a test that needs it.
    return {**app_config, **google_settings(google), "GOOGLE_HTTP_TIMEOUT": 4, "GOOGLE_RETRY_AFTER": 0,
            "GOOGLE_WEBHOOK_URL": "http://localhost/api/calendar/webhooks/google", "CALENDAR_JOBS": "inline"}


@pytest.fixture
def gym(db, make_org, make_trainer, make_appointment_type, make_link, google):
    """A London gym with one trainer (Mon–Fri 09:00–17:00) whose Google account has two calendars."""
    org = make_org(timezone="Europe/London")
    trainer = make_trainer(org=org, name="Tess Trainer", email="tess@gym.example")
    other = make_trainer(org=org, name="Omar Other", email="omar@gym.example")
    atype = make_appointment_type(org=org, name="PT session", duration_minutes=60)
    link = make_link([trainer], [atype])
    team_link = make_link([trainer, other], [atype], type="round_robin")
    google.add_account(trainer.email, calendars=[
        {"id": trainer.email, "summary": "Tess", "timeZone": "Europe/London", "primary": True},
        {"id": SECONDARY, "summary": "Group classes", "timeZone": "Europe/London"},
    ])

    class Gym:
        pass

    g = Gym()
    g.org, g.trainer, g.other, g.atype, g.link, g.team_link = org, trainer, other, atype, link, team_link
    g.day = next_weekday(0)  # a Monday at least a week ahead
    return g


@pytest.fixture
def connected(app, gym, google):
    """The trainer signed in and connected; push notifications delivered through the test client."""
    client = sign_in(app, gym.trainer.email)
    google.notify = deliver_to(app.test_client())
    connect(app, client, google)
    google.deliver_notifications()  # the channels' `sync` messages
    gym.client = client
    return gym


def _connection(db, user):
    from app.models import CalendarConnection

    return db.session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)).one()


def _calendar(db, external_id):
    from app.models import Calendar

    return db.session.scalars(select(Calendar).where(Calendar.external_id == external_id)).one()


def _book(client, gym, start, **extra):
    response = client.post("/api/booking/create", json={
        "link_slug": gym.link.slug, "start_time": iso(start), "attendee_name": "Bea Booker",
        "attendee_email": "bea@example.com", **extra})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["booking"]["id"]


def _booking(db, booking_id):
    import uuid

    from app.models import Booking

    db.session.expire_all()
    return db.session.get(Booking, uuid.UUID(booking_id))


# --- connecting ----------------------------------------------------------------------------------

def test_connect_flow_keeps_the_verifier_server_side_and_stores_tokens_encrypted(app, db, gym, google):
    from app.models import Calendar, CalendarOAuthState
    from app.services.calendar import vault as token_vault

    client = sign_in(app, gym.trainer.email)
    start = client.get("/api/calendar/google/connect")
    assert start.status_code == 302 and start.headers["Location"].startswith(google.auth_uri)
    params = query_of(start.headers["Location"])
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) >= 43
    assert params["access_type"] == "offline" and "code_verifier" not in params
    [pending] = db.session.scalars(select(CalendarOAuthState)).all()
    assert pending.state_hash == hashlib.sha256(params["state"].encode()).hexdigest()
    assert params["state"].encode() not in pending.code_verifier_encrypted

    import requests
    consent = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    callback = consent.headers["Location"].split("localhost", 1)[1]
    done = client.get(callback)
    assert done.status_code == 302 and done.headers["Location"].endswith("/dashboard/calendar-sync")
    assert db.session.scalars(select(CalendarOAuthState)).all() == []  # single use

    connection = _connection(db, gym.trainer)
    assert connection.status == "active" and connection.account_email == gym.trainer.email
    access = token_vault.decrypt(connection.access_token_encrypted)
    refresh = token_vault.decrypt(connection.refresh_token_encrypted)
    assert access and refresh
    assert access.encode() not in connection.access_token_encrypted
    assert refresh.encode() not in connection.refresh_token_encrypted
    token_request = next(r for r in google.requests if r.path == "/token")
    assert token_request.body["code_verifier"]  # PKCE verifier sent with the exchange

    calendars = {c.external_id: c for c in db.session.scalars(select(Calendar)).all()}
    assert set(calendars) == {gym.trainer.email, SECONDARY}
    primary, secondary = calendars[gym.trainer.email], calendars[SECONDARY]
    assert primary.check_for_conflicts and primary.is_destination and primary.is_primary
    assert not secondary.check_for_conflicts and not secondary.is_destination
    # The setup job ran: a push channel and busy times for the primary calendar, a sync token.
    assert primary.channel_id and primary.channel_id in google.channels and primary.busy_refreshed_at
    assert primary.sync_token and secondary.channel_id is None
    assert google.channels[primary.channel_id]["address"] == "http://localhost/api/calendar/webhooks/google"

    replay = client.get(callback)  # the same state again: refused, nothing new
    assert replay.status_code == 302
    assert len(db.session.scalars(select(Calendar)).all()) == 2
    page = client.get("/dashboard/calendar-sync").get_data(as_text=True)
    assert "already used" in page


def test_a_state_issued_to_someone_else_is_refused(app, db, gym, google):
    from app.models import CalendarConnection

    tess = sign_in(app, gym.trainer.email)
    omar = sign_in(app, gym.other.email)
    start = tess.get("/api/calendar/google/connect")
    import requests
    consent = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    callback = consent.headers["Location"].split("localhost", 1)[1]
    omar.get(callback)
    assert db.session.scalars(select(CalendarConnection)).all() == []


def test_declined_consent_connects_nothing_and_says_so(app, db, gym, google):
    from app.models import CalendarConnection

    google.deny_consent = True
    client = sign_in(app, gym.trainer.email)
    start = client.get("/api/calendar/google/connect")
    import requests
    consent = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    assert "error=access_denied" in consent.headers["Location"]
    client.get(consent.headers["Location"].split("localhost", 1)[1])
    assert db.session.scalars(select(CalendarConnection)).all() == []
    assert "access was not granted" in client.get("/dashboard/calendar-sync").get_data(as_text=True)


FULL_CALENDAR = "https://www.googleapis.com/auth/calendar"


def test_connect_asks_for_the_narrowest_scopes(app, gym, google):
    client = sign_in(app, gym.trainer.email)
    asked = query_of(client.get("/api/calendar/google/connect").headers["Location"])["scope"].split()
    assert FULL_CALENDAR not in asked
    assert sorted(scope.rsplit("/", 1)[1] for scope in asked) == [
        "calendar.calendarlist.readonly", "calendar.events", "calendar.freebusy"]


def test_a_widened_scope_from_earlier_grants_connects(app, db, gym, google):
    """An account that granted this client other scopes before: with include_granted_scopes Google
    answers with more scopes than asked for, which oauthlib refuses ("Scope has changed") — the
    callback used to crash with a 500."""
    earlier = ["openid", "https://www.googleapis.com/auth/calendar.readonly"]
    google.grant_earlier(gym.trainer.email, earlier)
    client = sign_in(app, gym.trainer.email)
    connect(app, client, google)
    connection = _connection(db, gym.trainer)
    assert connection.status == "active" and set(earlier) < set(connection.scopes)
    google.deliver_notifications()
    assert _calendar(db, gym.trainer.email).busy_cache_until is not None


def test_an_unticked_permission_connects_nothing_and_says_which(app, db, gym, google):
    from app.models import CalendarConnection

    google.unticked_scopes = {"https://www.googleapis.com/auth/calendar.freebusy"}
    client = sign_in(app, gym.trainer.email)
    start = client.get("/api/calendar/google/connect")
    consent = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    answer = client.get(consent.headers["Location"].split("localhost", 1)[1])
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/dashboard/calendar-sync")
    assert db.session.scalars(select(CalendarConnection)).all() == []
    page = client.get("/dashboard/calendar-sync").get_data(as_text=True)
    assert "needs permission to see when you are busy" in page and "leave every box ticked" in page


def test_a_connection_made_with_the_old_whole_calendar_scope_keeps_working(app, db, gym, google):
    """The migration path: a grant of only the broad `calendar` scope (what this app asked for before)
    covers every narrow scope, so such connections need no reconnecting; a narrower broad scope does not."""
    from app.integrations import google_calendar

    google.grant_earlier(gym.trainer.email, [FULL_CALENDAR])
    google.unticked_scopes = set(google_calendar.SCOPES)  # the grant is the old one alone
    client = sign_in(app, gym.trainer.email)
    connect(app, client, google)
    assert _connection(db, gym.trainer).scopes == [FULL_CALENDAR]
    google.deliver_notifications()
    booking_id = _book(app.test_client(), gym, local(gym.day, 11))
    assert _booking(db, booking_id).calendar_sync_status == "synced"
    assert google_calendar.missing_scopes(["https://www.googleapis.com/auth/calendar.readonly"]) == [
        "https://www.googleapis.com/auth/calendar.events"]


def test_connect_needs_a_signed_in_member_of_staff(client):
    response = client.get("/api/calendar/google/connect")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# --- busy times ------------------------------------------------------------------------------------

def test_an_event_added_in_google_removes_its_slots_after_the_push_notification(app, db, connected, google):
    gym = connected
    public = app.test_client()
    ten, eleven = iso(local(gym.day, 10)), iso(local(gym.day, 11))
    before = slot_starts(public, gym.link.slug, gym.day)
    assert ten in before and eleven in before

    google.user_insert_event(gym.trainer.email, local(gym.day, 10), local(gym.day, 11), summary="Dentist")
    assert google.deliver_notifications() == 1  # one live channel on the primary calendar

    after = slot_starts(public, gym.link.slug, gym.day)
    assert ten not in after and eleven in after
    # An event on a calendar that does not block availability changes nothing.
    google.user_insert_event(SECONDARY, local(gym.day, 14), local(gym.day, 15))
    assert iso(local(gym.day, 14)) in slot_starts(public, gym.link.slug, gym.day)
    # Transparent ("free") events do not block either.
    google.user_insert_event(gym.trainer.email, local(gym.day, 15), local(gym.day, 16), transparency="transparent")
    google.deliver_notifications()
    assert iso(local(gym.day, 15)) in slot_starts(public, gym.link.slug, gym.day)


def test_a_fresh_cache_means_no_call_to_google(app, connected, google):
    gym = connected
    public = app.test_client()
    google.reset_requests()
    for offset in range(3):
        slot_starts(public, gym.link.slug, gym.day + timedelta(days=offset))
    assert google.count() == 0


def test_a_booking_cannot_be_made_into_time_blocked_in_google(app, connected, google):
    gym = connected
    google.user_insert_event(gym.trainer.email, local(gym.day, 12), local(gym.day, 13))
    google.deliver_notifications()
    response = app.test_client().post("/api/booking/create", json={
        "link_slug": gym.link.slug, "start_time": iso(local(gym.day, 12)), "attendee_name": "Bea",
        "attendee_email": "bea@example.com"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "slot_taken"


def test_busy_times_are_asked_for_in_windows_of_at_most_90_days(app, db, connected, google):
    from app.services import calendar as calendar_sync

    calendar = _calendar(db, connected.trainer.email)
    google.reset_requests()
    now = datetime.now(timezone.utc)
    assert calendar_sync.refresh_busy([calendar.id], until=now + timedelta(days=200), now=now) == {calendar.id: True}
    windows = [r.body for r in google.requests if r.path.endswith("/freeBusy")]
    assert len(windows) == 3
    for body in windows:
        span = datetime.fromisoformat(body["timeMax"].replace("Z", "+00:00")) - \
            datetime.fromisoformat(body["timeMin"].replace("Z", "+00:00"))
        assert span <= timedelta(days=90)
    assert windows[0]["timeMax"] == windows[1]["timeMin"]  # contiguous, no gaps


def _stale_cache_and_google_down(db, gym, google) -> None:
    """Tess's busy cache is a day old, covers the day only until 13:00, and freeBusy answers 500."""
    calendar = _calendar(db, gym.trainer.email)
    calendar.busy_refreshed_at = datetime.now(timezone.utc) - timedelta(days=1)
    calendar.channel_expires_at = None
    calendar.busy_cache_until = local(gym.day, 13)
    db.session.commit()
    google.fail_next(10, 500, path_contains="freeBusy")


def test_unreachable_google_withholds_only_that_trainers_unknown_slots_and_the_dashboard_says_why(
        app, db, connected, google):
    from app.services import calendar as calendar_sync

    gym = connected
    # A day-old answer is past its freshness limit: all of Tess's time is unknown and withheld,
    # for Tess only.
    _stale_cache_and_google_down(db, gym, google)
    public = app.test_client()
    tess = slot_starts(public, f"{gym.team_link.slug}&staff_id={gym.trainer.id}", gym.day)
    omar = slot_starts(public, f"{gym.team_link.slug}&staff_id={gym.other.id}", gym.day)
    assert tess == []
    assert iso(local(gym.day, 10)) in omar and iso(local(gym.day, 16)) in omar
    # On the team page the withheld day goes to Omar instead.
    team = public.get(f"/api/booking/availability?link={gym.team_link.slug}&date={gym.day.isoformat()}").get_json()
    assert {s["staff_name"] for s in team["slots"]} == {"Omar Other"}
    db.session.expire_all()
    problems = calendar_sync.calendar_problems([gym.trainer])[gym.trainer.id]
    assert any("could not be reached" in p and "withheld" in p for p in problems)


def test_a_recent_answer_is_used_and_only_the_time_it_does_not_cover_is_withheld(app, db, connected, google):
    gym = connected
    calendar = _calendar(db, gym.trainer.email)
    calendar.channel_expires_at = None
    calendar.busy_refreshed_at = datetime.now(timezone.utc) - timedelta(seconds=30)  # within its limit
    calendar.busy_cache_until = local(gym.day, 13)
    db.session.commit()
    google.fail_next(10, 500, path_contains="freeBusy")
    tess = slot_starts(app.test_client(), f"{gym.team_link.slug}&staff_id={gym.trainer.id}", gym.day)
    assert iso(local(gym.day, 10)) in tess and iso(local(gym.day, 12)) in tess
    assert iso(local(gym.day, 13)) not in tess and iso(local(gym.day, 14)) not in tess


def test_a_connection_that_needs_reconnecting_does_not_offer_times_over_new_google_events(app, db, connected, google):
    """Issue 14, defect 4: a lapsed grant is never refreshed; its old busy times must not count as
    known for the 90 days they cover."""
    from app.services import calendar as calendar_sync

    gym = connected
    connection = _connection(db, gym.trainer)
    connection.status = "needs_reconnect"
    calendar = _calendar(db, gym.trainer.email)
    calendar.channel_expires_at = None
    calendar.busy_refreshed_at = datetime.now(timezone.utc) - timedelta(hours=2)
    db.session.commit()
    google.user_insert_event(gym.trainer.email, local(gym.day, 14), local(gym.day, 15), summary="New client")
    google.reset_requests()
    assert slot_starts(app.test_client(), gym.link.slug, gym.day) == []  # withheld, not offered over it
    assert google.count() == 0  # a lapsed grant is not asked
    db.session.expire_all()
    problems = calendar_sync.calendar_problems([gym.trainer])[gym.trainer.id]
    assert any("needs reconnecting" in p for p in problems) and any("out of date" in p for p in problems)


def test_one_missing_calendar_does_not_blind_the_others(app, db, connected, google):
    """freeBusy answers errors per calendar: a calendar removed from the account (notFound) stops
    blocking and says why; the trainer's other calendar keeps its busy times, and slots stay offered."""
    from app.services.calendar.busy import refresh_busy

    gym = connected
    primary, secondary = _calendar(db, gym.trainer.email), _calendar(db, SECONDARY)
    secondary.check_for_conflicts = True
    db.session.commit()
    google.user_insert_event(gym.trainer.email, local(gym.day, 10), local(gym.day, 11), summary="Dentist")
    google.user_remove_calendar(gym.trainer.email, SECONDARY)
    outcome = refresh_busy([primary.id, secondary.id])
    assert outcome == {primary.id: True, secondary.id: False}
    db.session.expire_all()
    primary, secondary = _calendar(db, gym.trainer.email), _calendar(db, SECONDARY)
    assert primary.sync_error is None and any(start.startswith(iso(local(gym.day, 10))[:13])
                                              for start, _end in primary.busy_cache)
    assert secondary.check_for_conflicts is False and "no longer blocks" in secondary.sync_error
    starts = slot_starts(app.test_client(), gym.link.slug, gym.day)
    assert iso(local(gym.day, 10)) not in starts and iso(local(gym.day, 14)) in starts  # not withheld


def test_free_busy_asks_for_at_most_50_calendars_at_a_time(app, db, connected, google):
    from datetime import timedelta

    from app.services.calendar.access import client_for, settings

    gym = connected
    ids = [gym.trainer.email] + [f"gone-{n}@group.calendar.google.com" for n in range(60)]
    google.user_insert_event(gym.trainer.email, local(gym.day, 10), local(gym.day, 11), summary="Dentist")
    google.reset_requests()
    with client_for(_connection(db, gym.trainer), settings()) as client:
        answer = client.free_busy(ids, local(gym.day, 0), local(gym.day, 0) + timedelta(days=1))
    assert google.count(path_contains="/freeBusy") == 2  # 50 + 11, one window
    assert answer.busy == {gym.trainer.email: [(local(gym.day, 10), local(gym.day, 11))]}
    assert set(answer.errors) == set(ids[1:]) and set(answer.errors.values()) == {"notFound"}


def test_the_ignore_policy_offers_unknown_time(app, db, connected, google):
    gym = connected
    app.config["GOOGLE_UNREACHABLE_POLICY"] = "ignore"
    _stale_cache_and_google_down(db, gym, google)
    assert iso(local(gym.day, 14)) in slot_starts(app.test_client(), gym.link.slug, gym.day)


# --- write-back ------------------------------------------------------------------------------------

def test_a_booking_makes_exactly_one_event_even_when_its_job_is_retried(app, db, connected, google):
    from app.services import calendar as calendar_sync

    gym = connected
    booking_id = _book(app.test_client(), gym, local(gym.day, 10))
    booking = _booking(db, booking_id)
    assert booking.calendar_sync_status == "synced"
    [event] = google.events(gym.trainer.email)
    assert event["id"] == calendar_sync.event_id_for(booking.id) == booking.external_event_id
    assert event["extendedProperties"]["private"]["atlasBookingId"] == booking_id
    assert _parse(event["start"]["dateTime"]) == local(gym.day, 10)
    assert _parse(event["end"]["dateTime"]) == local(gym.day, 11)
    assert "Bea Booker" in event["summary"]

    # The job's answer was lost after Google made the event: it runs again from scratch.
    booking.calendar_sync_status, booking.external_event_id, booking.external_calendar_id = "pending", None, None
    db.session.commit()
    assert calendar_sync.sync_booking_event(booking.id) == "patched"
    assert calendar_sync.sync_booking_event(booking.id) == "skipped"  # nothing left to do
    assert len(google.events(gym.trainer.email)) == 1
    assert _booking(db, booking_id).calendar_sync_status == "synced"


def test_moving_and_cancelling_a_booking_patch_and_delete_its_event(app, db, connected, google):
    from app.services.bookings import Actor, cancel_booking, reschedule_booking

    gym = connected
    booking_id = uuid.UUID(_book(app.test_client(), gym, local(gym.day, 10)))
    reschedule_booking(booking_id, start_time=local(gym.day, 15), actor=Actor("staff", id=str(gym.trainer.id)))
    [event] = google.events(gym.trainer.email)
    assert event["start"]["dateTime"] and _parse(event["start"]["dateTime"]) == local(gym.day, 15)
    assert event["extendedProperties"]["private"]["atlasSequence"] == "1"
    cancel_booking(booking_id, actor=Actor("staff", id=str(gym.trainer.id)))
    assert google.events(gym.trainer.email) == []
    assert _booking(db, str(booking_id)).calendar_sync_status == "synced"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def test_google_failing_never_fails_the_booking_and_the_event_appears_after_a_retry(app, db, connected, google):
    from app.services import bookings

    gym = connected
    google.fail_next(5, 500, path_contains="/events")
    booking_id = _book(app.test_client(), gym, local(gym.day, 11))
    booking = _booking(db, booking_id)
    assert booking.calendar_sync_status == "pending" and booking.calendar_sync_attempts == 1
    assert "trying again" in booking.calendar_sync_error
    assert google.events(gym.trainer.email) == []
    # Not due yet: nothing happens.
    assert bookings.calendar_pass(maintenance=False).written == 0
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    google.fail_next(0)
    for _ in range(5):
        bookings.calendar_pass(now=later, maintenance=False)
        later += timedelta(hours=1)
    booking = _booking(db, booking_id)
    assert booking.calendar_sync_status == "synced" and booking.calendar_sync_error is None
    assert len(google.events(gym.trainer.email)) == 1


def test_a_timeout_is_retried_like_an_error(app, db, connected, google):
    from app.services import bookings

    gym = connected
    google.delay_next(1, 6.0, path_contains="/events")  # past GOOGLE_HTTP_TIMEOUT (4 s)
    booking_id = _book(app.test_client(), gym, local(gym.day, 12))
    assert _booking(db, booking_id).calendar_sync_status == "pending"
    bookings.calendar_pass(now=datetime.now(timezone.utc) + timedelta(minutes=1), maintenance=False)
    assert _booking(db, booking_id).calendar_sync_status == "synced"
    assert len(google.events(gym.trainer.email)) == 1


def test_an_expired_access_token_is_refreshed_and_stored_again(app, db, connected, google):
    from app.services.calendar import vault as token_vault

    gym = connected
    old = token_vault.decrypt(_connection(db, gym.trainer).access_token_encrypted)
    google.expire_access_tokens()
    google.reset_requests()
    booking_id = _book(app.test_client(), gym, local(gym.day, 13))
    assert _booking(db, booking_id).calendar_sync_status == "synced"
    assert any(r.path == "/token" and r.body.get("grant_type") == "refresh_token" for r in google.requests)
    db.session.expire_all()
    new = token_vault.decrypt(_connection(db, gym.trainer).access_token_encrypted)
    assert new and new != old


def test_a_revoked_grant_asks_for_reconnection_and_loses_no_booking(app, db, connected, google):
    from app.services import calendar as calendar_sync

    gym = connected
    google.revoke_refresh_tokens(gym.trainer.email)
    google.expire_access_tokens()
    booking_id = _book(app.test_client(), gym, local(gym.day, 14))
    booking = _booking(db, booking_id)
    assert booking.status == "confirmed" and booking.calendar_sync_status == "failed"
    assert "reconnected" in booking.calendar_sync_error
    connection = _connection(db, gym.trainer)
    assert connection.status == "needs_reconnect"
    assert any("needs reconnecting" in p for p in calendar_sync.calendar_problems([gym.trainer])[gym.trainer.id])

    connect(app, gym.client, google)  # reconnect: the waiting booking is written
    google.deliver_notifications()
    assert _connection(db, gym.trainer).status == "active"
    assert _booking(db, booking_id).calendar_sync_status == "synced"
    assert len(google.events(gym.trainer.email)) == 1


def test_a_401_from_watch_is_not_a_revoked_grant(app, db, connected, google):
    """Google answers events.watch with 401 for reasons other than the grant (an unverified webhook
    address): push falls back to polling and says so; the connection stays active, busy times keep
    being read and bookings keep being written."""
    from app.services.calendar.channels import ensure_channel

    gym = connected
    calendar = _calendar(db, gym.trainer.email)
    google.reset_requests()
    google.fail_next(3, 401, path_contains="/watch")
    assert ensure_channel(calendar, force=True) is False
    assert google.count(path_contains="/watch") >= 2  # the client refreshed its token and tried again
    db.session.expire_all()
    connection = _connection(db, gym.trainer)
    assert connection.status == "active"
    assert "polling instead" in _calendar(db, gym.trainer.email).sync_error
    booking_id = _book(app.test_client(), gym, local(gym.day, 15))
    assert _booking(db, booking_id).calendar_sync_status == "synced"


# --- two-way -----------------------------------------------------------------------------------------

def _audit(db, booking_id):
    import uuid

    from app.models import BookingAudit

    return db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == uuid.UUID(booking_id))
                              .order_by(BookingAudit.created_at)).all()


def _notifications(db, booking_id):
    import uuid

    from app.models import Notification

    return {n.template for n in db.session.scalars(select(Notification).where(
        Notification.booking_id == uuid.UUID(booking_id)))}


def test_moving_the_event_in_google_moves_the_booking(app, db, connected, google):
    gym = connected
    booking_id = _book(app.test_client(), gym, local(gym.day, 10))
    event_id = _booking(db, booking_id).external_event_id
    google.user_patch_event(gym.trainer.email, event_id, start=local(gym.day, 16), end=local(gym.day, 17))
    google.deliver_notifications()
    booking = _booking(db, booking_id)
    assert booking.start_at == local(gym.day, 16) and booking.end_at == local(gym.day, 17)
    last = _audit(db, booking_id)[-1]
    assert (last.action, last.actor_type, last.actor_id) == ("rescheduled", "calendar", str(gym.trainer.id))
    assert "booking_update" in _notifications(db, booking_id)
    # Our own write-back of the move does not bounce back as another change.
    [event] = google.events(gym.trainer.email)
    assert _parse(event["start"]["dateTime"]) == local(gym.day, 16)
    google.deliver_notifications()
    assert [a.action for a in _audit(db, booking_id)].count("rescheduled") == 1


def test_deleting_the_event_in_google_cancels_the_booking(app, db, connected, google):
    gym = connected
    booking_id = _book(app.test_client(), gym, local(gym.day, 10))
    google.user_delete_event(gym.trainer.email, _booking(db, booking_id).external_event_id)
    google.deliver_notifications()
    booking = _booking(db, booking_id)
    assert booking.status == "cancelled"
    last = _audit(db, booking_id)[-1]
    assert (last.action, last.actor_type) == ("cancelled", "calendar")
    assert "booking_cancellation" in _notifications(db, booking_id)
    assert iso(local(gym.day, 10)) in slot_starts(app.test_client(), gym.link.slug, gym.day)


def test_a_move_onto_a_taken_time_is_undone_and_explained(app, db, connected, google):
    gym = connected
    first = _book(app.test_client(), gym, local(gym.day, 10))
    _book(app.test_client(), gym, local(gym.day, 12))
    event_id = _booking(db, first).external_event_id
    google.user_patch_event(gym.trainer.email, event_id, start=local(gym.day, 12), end=local(gym.day, 13))
    google.deliver_notifications()
    booking = _booking(db, first)
    assert booking.start_at == local(gym.day, 10)
    assert booking.calendar_sync_status == "synced"
    refused = _audit(db, first)[-1]
    assert (refused.action, refused.actor_type) == ("calendar_move_refused", "calendar")
    assert _parse(refused.after["requested_start"]) == local(gym.day, 12) and "not free" in refused.after["reason"]
    event = google.event(gym.trainer.email, event_id)
    assert _parse(event["start"]["dateTime"]) == local(gym.day, 10)  # moved back


def test_an_expired_sync_token_triggers_a_full_resync(app, db, connected, google):
    from app.services import bookings

    gym = connected
    calendar = _calendar(db, gym.trainer.email)
    google.expire_sync_tokens()
    google.user_insert_event(gym.trainer.email, local(gym.day, 9), local(gym.day, 10))
    google.reset_requests()
    outcome = bookings.sync_calendar(calendar.id)
    assert outcome.full and outcome.error is None
    lists = [r for r in google.requests if r.method == "GET" and r.path.endswith("/events")]
    assert lists[0].query.get("syncToken") and lists[0].status == 410
    assert not lists[-1].query.get("syncToken") and lists[-1].status == 200
    assert iso(local(gym.day, 9)) not in slot_starts(app.test_client(), gym.link.slug, gym.day)


# --- webhooks and channels ---------------------------------------------------------------------------

def test_webhook_rejects_unknown_channels_and_wrong_tokens_and_logs_them(app, db, connected, caplog):
    calendar = _calendar(db, connected.trainer.email)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="app.api.calendar"):
        unknown = client.post("/api/calendar/webhooks/google", headers={
            "X-Goog-Channel-ID": "nope", "X-Goog-Channel-Token": "x", "X-Goog-Resource-State": "exists"})
        wrong = client.post("/api/calendar/webhooks/google", headers={
            "X-Goog-Channel-ID": calendar.channel_id, "X-Goog-Channel-Token": "guess",
            "X-Goog-Resource-State": "exists"})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "unknown_channel"
    assert wrong.status_code == 403 and wrong.get_json()["error"]["code"] == "channel_rejected"
    assert "unknown channel" in caplog.text and "rejected channel" in caplog.text
    missing = client.post("/api/calendar/webhooks/google")
    assert missing.status_code == 400


def test_webhook_get_is_a_health_check(client):
    body = client.get("/api/calendar/webhooks/google").get_json()
    assert body["status"] == "ok" and body["configured"] is True


def test_channels_are_renewed_before_they_expire_and_the_old_one_stopped(app, db, connected, google):
    from app.services import bookings

    calendar = _calendar(db, connected.trainer.email)
    old = calendar.channel_id
    soon = calendar.channel_expires_at - timedelta(hours=12)
    outcome = bookings.calendar_pass(now=soon)
    assert outcome.channels == 1
    db.session.expire_all()
    calendar = _calendar(db, connected.trainer.email)
    assert calendar.channel_id != old and google.channels[old]["stopped"]
    assert not google.channels[calendar.channel_id]["stopped"]


def test_the_periodic_pass_syncs_even_when_a_notification_is_lost(app, db, connected, google):
    from app.services import bookings

    gym = connected
    google.user_insert_event(gym.trainer.email, local(gym.day, 15), local(gym.day, 16))
    google.pending_notifications.clear()  # Google does not promise delivery
    later = datetime.now(timezone.utc) + timedelta(seconds=app.config["GOOGLE_SYNC_INTERVAL"] + 1)
    bookings.calendar_pass(now=later)
    assert iso(local(gym.day, 15)) not in slot_starts(app.test_client(), gym.link.slug, gym.day)


def test_disconnect_revokes_the_grant_and_deletes_tokens_and_calendars(app, db, connected, google):
    from app.models import Calendar, CalendarConnection
    from app.services import calendar as calendar_sync

    gym = connected
    connection = _connection(db, gym.trainer)
    google.reset_requests()
    calendar_sync.disconnect(connection.id, gym.trainer)
    assert google.count(path_contains="/revoke") == 1
    assert google.count(path_contains="channels/stop") == 1
    assert db.session.scalars(select(CalendarConnection)).all() == []
    assert db.session.scalars(select(Calendar)).all() == []
    # With nothing connected, availability no longer depends on Google at all.
    google.reset_requests()
    slot_starts(app.test_client(), gym.link.slug, gym.day)
    assert google.count() == 0


def test_upcoming_bookings_made_before_connecting_are_written_once_connected(app, db, gym, google):
    earlier = _book(app.test_client(), gym, local(gym.day, 9))
    assert _booking(db, earlier).calendar_sync_status == "not_applicable"
    client = sign_in(app, gym.trainer.email)
    connect(app, client, google)
    booking = _booking(db, earlier)
    assert booking.calendar_sync_status == "synced"
    [event] = google.events(gym.trainer.email)
    assert event["id"] == booking.external_event_id


def test_disconnect_still_works_when_the_tokens_cannot_be_decrypted(app, db, connected, google):
    from cryptography.fernet import Fernet

    from app.models import CalendarConnection
    from app.services import calendar as calendar_sync

    connection = _connection(db, connected.trainer)
    app.config["CALENDAR_TOKEN_KEYS"] = Fernet.generate_key().decode()  # the old key was lost
    calendar_sync.disconnect(connection.id, connected.trainer)
    assert db.session.scalars(select(CalendarConnection)).all() == []


def test_a_google_move_seen_twice_moves_the_booking_once(app, db, connected, google):
    from app.services import bookings

    gym = connected
    booking_id = _book(app.test_client(), gym, local(gym.day, 10))
    calendar = _calendar(db, gym.trainer.email)
    token_before = calendar.sync_token
    google.user_patch_event(gym.trainer.email, _booking(db, booking_id).external_event_id,
                            start=local(gym.day, 15), end=local(gym.day, 16))
    google.deliver_notifications()
    calendar = _calendar(db, gym.trainer.email)
    calendar.sync_token = token_before  # the same change is read again (a second worker, a replay)
    db.session.commit()
    assert bookings.sync_calendar(calendar.id).changed >= 1
    assert _booking(db, booking_id).start_at == local(gym.day, 15)
    assert [a.action for a in _audit(db, booking_id)].count("rescheduled") == 1
    updates = [n for n in _all_notifications(db, booking_id) if n.template == "booking_update"]
    assert len(updates) == 1


def _all_notifications(db, booking_id):
    from app.models import Notification

    return db.session.scalars(select(Notification).where(Notification.booking_id == uuid.UUID(booking_id))).all()


# --- who wins when both sides changed (issue 14) -----------------------------------------------------

def _reschedule(booking_id, start, actor_type="attendee", **extra):
    from app.services.bookings.audit import Actor
    from app.services.bookings.change import reschedule_booking

    return reschedule_booking(uuid.UUID(booking_id), start_time=start, actor=Actor(actor_type), **extra)


def test_an_older_copy_in_google_never_undoes_a_customers_reschedule(app, db, connected, google):
    """Defect 1: the customer's move could not be written (503); an edit of the old copy in Google,
    or a full resync that reads it, must not move the booking back."""
    from app.services import bookings
    from app.services import calendar as calendar_sync

    gym = connected
    booking_id = _book(app.test_client(), gym, local(gym.day, 10))
    event_id = _booking(db, booking_id).external_event_id
    google.fail_next(1, 503, path_contains=event_id)
    _reschedule(booking_id, local(gym.day, 14))
    assert _booking(db, booking_id).calendar_sync_status == "pending"  # Google still has 10:00
    google.user_patch_event(gym.trainer.email, event_id, summary="PT with Bea (bring a towel)")
    google.deliver_notifications()
    booking = _booking(db, booking_id)
    # The booking's write-back wins (Google answered the sync's busy read, so it was retried at once).
    assert booking.start_at == local(gym.day, 14) and booking.calendar_sync_status == "synced"
    assert [a.actor_type for a in _audit(db, booking_id) if a.action == "rescheduled"] == ["attendee"]
    assert [n.template for n in _all_notifications(db, booking_id)].count("booking_update") == 1
    assert _parse(google.event(gym.trainer.email, event_id)["start"]["dateTime"]) == local(gym.day, 14)

    # The same with a full resync (the sync token expired) while the write-back is failing.
    google.fail_next(1, 503, path_contains=event_id)
    _reschedule(booking_id, local(gym.day, 16))
    google.expire_sync_tokens()
    outcome = bookings.sync_calendar(_calendar(db, gym.trainer.email).id)
    assert outcome.full and outcome.moved == [] and outcome.stale == [booking_id]
    assert _booking(db, booking_id).start_at == local(gym.day, 16)
    calendar_sync.write_due_events(now=datetime.now(timezone.utc) + timedelta(seconds=11))
    assert _parse(google.event(gym.trainer.email, event_id)["start"]["dateTime"]) == local(gym.day, 16)
    assert [a.actor_type for a in _audit(db, booking_id) if a.action == "rescheduled"] == ["attendee", "attendee"]


def test_a_google_change_that_fails_to_apply_is_read_again(app, db, connected, google, monkeypatch):
    """Defect 2: the sync token is kept only once the changes it covers are applied."""
    from sqlalchemy.exc import OperationalError

    from app.services import bookings
    from app.services.bookings import calendar_changes

    gym = connected
    booking_id = _book(app.test_client(), gym, local(gym.day, 10))
    calendar_id = _calendar(db, gym.trainer.email).id

    def lock_timeout(*args, **kwargs):
        raise OperationalError("UPDATE bookings ...", {}, Exception("canceling statement due to lock timeout"))

    monkeypatch.setattr(calendar_changes, "reschedule_booking", lock_timeout)
    google.user_patch_event(gym.trainer.email, _booking(db, booking_id).external_event_id,
                            start=local(gym.day, 15), end=local(gym.day, 16))
    google.pending_notifications.clear()
    with pytest.raises(OperationalError):
        bookings.sync_calendar(calendar_id)
    monkeypatch.undo()
    outcome = bookings.sync_calendar(calendar_id)  # the next pass reads the same change again
    assert outcome.moved == [booking_id]
    assert _booking(db, booking_id).start_at == local(gym.day, 15)


def test_write_backs_keep_trying_while_the_booking_is_ahead_and_resume_together(app, db, connected, google):
    """Defect 3: no giving up after five retries; a lasting failure shows as failed and is still
    retried (capped backoff); when Google answers again, every waiting write-back goes at once."""
    from app.services import calendar as calendar_sync

    gym = connected
    google.fail_next(10_000, 503, path_contains=f"/calendars/{gym.trainer.email}/events")
    first = _book(app.test_client(), gym, local(gym.day, 10))
    second = _book(app.test_client(), gym, local(gym.day, 14))
    moment = datetime.now(timezone.utc)
    for _ in range(12):  # six hours of Google answering 503
        moment += timedelta(minutes=31)
        calendar_sync.write_due_events(now=moment)
    booking = _booking(db, first)
    assert booking.calendar_sync_status == "failed" and booking.calendar_sync_attempts > 6
    assert booking.calendar_sync_next_at is not None and "trying again" in booking.calendar_sync_error
    assert booking.calendar_sync_next_at - moment <= timedelta(seconds=1800)  # capped
    assert calendar_sync.failed_write_counts(gym.org.id) == {gym.trainer.id: 2}  # shown to the trainer

    with google._lock:
        google._failures.clear()  # Google recovers
    due, held = _booking(db, first), _booking(db, second)
    due.calendar_sync_next_at = moment  # its retry is due
    held.calendar_sync_next_at = moment + timedelta(minutes=25)  # still waiting out its backoff
    db.session.commit()
    assert calendar_sync.write_due_events(now=moment) == 1
    assert _booking(db, first).calendar_sync_status == "synced"
    assert _booking(db, second).calendar_sync_status == "synced"  # did not wait its 25 minutes
    assert {e["id"] for e in google.events(gym.trainer.email)} == {
        _booking(db, first).external_event_id, _booking(db, second).external_event_id}


def test_a_write_back_for_a_booking_that_is_over_stops_retrying(app, db, connected, google):
    from app.services import calendar as calendar_sync

    gym = connected
    google.fail_next(10_000, 503, path_contains=f"/calendars/{gym.trainer.email}/events")
    booking_id = _book(app.test_client(), gym, local(gym.day, 10))
    calendar_sync.write_due_events(now=local(gym.day, 12))
    booking = _booking(db, booking_id)
    assert booking.calendar_sync_status == "failed" and booking.calendar_sync_next_at is None
    assert calendar_sync.due_bookings(local(gym.day, 23)) == []


def test_a_reassignment_checks_the_new_trainers_google_busy_times(app, db, connected, google):
    """Defect 7: the booking's own time is ignored only in its own event's calendar, not in the busy
    times of the colleague it moves to."""
    from app.services.bookings.alternatives import SlotTaken

    gym = connected
    google.user_insert_event(gym.trainer.email, local(gym.day, 10), local(gym.day, 11), summary="Dentist")
    google.deliver_notifications()
    response = app.test_client().post("/api/booking/create", json={
        "link_slug": gym.team_link.slug, "start_time": iso(local(gym.day, 10)), "staff_id": str(gym.other.id),
        "attendee_name": "Bea Booker", "attendee_email": "bea@example.com"})
    assert response.status_code == 201, response.get_data(as_text=True)
    booking_id = response.get_json()["booking"]["id"]
    assert _booking(db, booking_id).staff_id == gym.other.id
    with pytest.raises(SlotTaken):  # Tess is at the dentist
        _reschedule(booking_id, local(gym.day, 10), "staff", staff_id=str(gym.trainer.id))
    assert _booking(db, booking_id).staff_id == gym.other.id
    _reschedule(booking_id, local(gym.day, 12), "staff", staff_id=str(gym.trainer.id))  # Tess is free then
    assert _booking(db, booking_id).staff_id == gym.trainer.id


def test_a_trainers_move_in_google_is_still_checked_against_their_other_calendars(app, db, connected, google):
    """Defect 7: a move made in Google ignores only the moved event itself, not the trainer's other
    busy time (here a class in their second calendar)."""
    gym = connected
    secondary = _calendar(db, SECONDARY)
    secondary.check_for_conflicts = True
    db.session.commit()
    google.user_insert_event(SECONDARY, local(gym.day, 15), local(gym.day, 16), summary="Spin class")
    booking_id = _book(app.test_client(), gym, local(gym.day, 10))
    event_id = _booking(db, booking_id).external_event_id
    google.user_patch_event(gym.trainer.email, event_id, start=local(gym.day, 15), end=local(gym.day, 16))
    google.deliver_notifications()
    assert _booking(db, booking_id).start_at == local(gym.day, 10)
    assert _audit(db, booking_id)[-1].action == "calendar_move_refused"
    google.user_patch_event(gym.trainer.email, event_id, start=local(gym.day, 13), end=local(gym.day, 14))
    google.deliver_notifications()
    assert _booking(db, booking_id).start_at == local(gym.day, 13)  # a free time is accepted


def test_a_changed_length_in_google_is_put_back_to_the_services_length(app, db, connected, google):
    """Defect 10: a booking keeps its service's length; a stretched event is corrected in Google (and
    freeBusy no longer blocks the stretch), a moved-and-shortened one is moved and corrected."""
    gym = connected
    booking_id = _book(app.test_client(), gym, local(gym.day, 10))
    event_id = _booking(db, booking_id).external_event_id
    google.user_patch_event(gym.trainer.email, event_id, start=local(gym.day, 10), end=local(gym.day, 12))
    google.deliver_notifications()
    booking = _booking(db, booking_id)
    assert (booking.start_at, booking.end_at) == (local(gym.day, 10), local(gym.day, 11))
    event = google.event(gym.trainer.email, event_id)
    assert _parse(event["end"]["dateTime"]) == local(gym.day, 11)
    corrected = _audit(db, booking_id)[-1]
    assert (corrected.action, corrected.actor_type) == ("calendar_length_corrected", "calendar")
    assert _parse(corrected.after["requested_end"]) == local(gym.day, 12)
    assert iso(local(gym.day, 11)) in slot_starts(app.test_client(), gym.link.slug, gym.day)

    google.user_patch_event(gym.trainer.email, event_id, start=local(gym.day, 15),
                            end=local(gym.day, 15, 30))
    google.deliver_notifications()
    booking = _booking(db, booking_id)
    assert (booking.start_at, booking.end_at) == (local(gym.day, 15), local(gym.day, 16))
    event = google.event(gym.trainer.email, event_id)
    assert (_parse(event["start"]["dateTime"]), _parse(event["end"]["dateTime"])) == (local(gym.day, 15),
                                                                                      local(gym.day, 16))


# --- backing off (issue 14, defect 8) ----------------------------------------------------------------

def _without_channel(db, external_id):
    calendar = _calendar(db, external_id)
    calendar.channel_id = calendar.channel_token_hash = calendar.channel_resource_id = None
    calendar.channel_expires_at = None
    db.session.commit()
    return calendar


def test_a_failing_watch_backs_off_while_polling_goes_on(app, db, connected, google):
    """A watch Google keeps refusing is not asked again on every 30-second tick (2,880 calls a day):
    it backs off exponentially, and the calendar is still polled meanwhile."""
    from app.services import bookings

    gym = connected
    _without_channel(db, gym.trainer.email)
    google.fail_next(10_000, 400, path_contains="/watch", reason="pushNotSupportedForRequestedResource")
    google.reset_requests()
    start = datetime.now(timezone.utc)
    for tick in range(1, 241):  # two hours of the 30-second pass
        bookings.calendar_pass(now=start + timedelta(seconds=30 * tick))
    watches = google.count(path_contains="/watch")
    assert 4 <= watches <= 8, watches  # about 1, 2, 4, 8, 16, 32, 60 minutes apart
    polls = [r for r in google.requests if r.method == "GET" and r.path.endswith("/events")]
    assert len(polls) >= 11  # the backstop sync every 10 minutes did not stop
    calendar = _calendar(db, gym.trainer.email)
    assert calendar.channel_failures == watches and "polling instead" in calendar.sync_error
    assert calendar.channel_backoff_until - (start + timedelta(hours=2)) <= timedelta(hours=1)

    google.clear_failures()  # the watch works again: the next attempt starts a channel and resets the count
    bookings.calendar_pass(now=calendar.channel_backoff_until + timedelta(seconds=1))
    calendar = _calendar(db, gym.trainer.email)
    assert calendar.channel_id and calendar.channel_failures == 0 and calendar.channel_backoff_until is None


def test_a_429_with_retry_after_is_honoured(app, db, connected, google):
    from app.services import bookings

    gym = connected
    calendar_id = _calendar(db, gym.trainer.email).id
    google.fail_next(1, 429, path_contains="/events", retry_after="900")
    now = datetime.now(timezone.utc)
    assert bookings.sync_calendar(calendar_id, now=now).error
    calendar = _calendar(db, gym.trainer.email)
    assert calendar.sync_failures == 1 and calendar.sync_backoff_until >= now + timedelta(seconds=900)
    google.reset_requests()
    # A push notification or the pass within those 15 minutes does not ask Google.
    assert "waiting until" in bookings.sync_calendar(calendar_id, now=now + timedelta(minutes=14)).error
    bookings.calendar_pass(now=now + timedelta(minutes=14))
    assert google.count(path_contains="/events") == 0
    outcome = bookings.sync_calendar(calendar_id, now=now + timedelta(minutes=16))
    assert outcome.error is None and _calendar(db, gym.trainer.email).sync_failures == 0


@pytest.mark.parametrize("status, reason, retryable, at_least", [
    (403, "rateLimitExceeded", True, 0), (403, "userRateLimitExceeded", True, 0),
    (403, "quotaExceeded", True, 3600), (403, "dailyLimitExceeded", True, 3600),
    (429, None, True, 0), (503, None, True, 0), (403, "forbidden", False, 0)])
def test_rate_limits_and_spent_quotas_are_retryable_and_wait_as_google_asks(
        app, db, connected, google, status, reason, retryable, at_least):
    from app.integrations import google_calendar as google_api
    from app.services.calendar.access import client_for, settings

    google.fail_next(1, status, path_contains="/events", reason=reason)
    with client_for(_connection(db, connected.trainer), settings()) as client:
        with pytest.raises(google_api.GoogleError) as raised:
            next(client.list_changes(connected.trainer.email, None))
    assert isinstance(raised.value, google_api.GoogleUnavailable) is retryable
    assert (raised.value.retry_after or 0) >= at_least


def test_retry_after_as_an_http_date_is_understood(app, db, connected, google):
    from email.utils import format_datetime

    from app.integrations import google_calendar as google_api
    from app.services.calendar.access import client_for, settings

    when = datetime.now(timezone.utc) + timedelta(minutes=10)
    google.fail_next(1, 503, path_contains="/events", retry_after=format_datetime(when, usegmt=True))
    with client_for(_connection(db, connected.trainer), settings()) as client:
        with pytest.raises(google_api.GoogleUnavailable) as raised:
            next(client.list_changes(connected.trainer.email, None))
    assert 540 <= raised.value.retry_after <= 600


def test_a_move_in_google_of_a_collective_booking_still_checks_every_colleagues_google_time(
        app, db, connected, google, make_link):
    """Defect 7: a trainer's move of a collective booking in Google ignored every colleague's
    Google busy time."""
    gym = connected
    google.add_account(gym.other.email, calendars=[
        {"id": gym.other.email, "summary": "Omar", "timeZone": "Europe/London", "primary": True}])
    google.consent_email = gym.other.email  # Omar signs in on Google's consent screen
    connect(app, sign_in(app, gym.other.email), google)
    google.deliver_notifications()
    google.user_insert_event(gym.other.email, local(gym.day, 15), local(gym.day, 16), summary="Physio")
    google.deliver_notifications()
    pair = make_link([gym.trainer, gym.other], [gym.atype], type="collective")
    response = app.test_client().post("/api/booking/create", json={
        "link_slug": pair.slug, "start_time": iso(local(gym.day, 10)), "attendee_name": "Bea Booker",
        "attendee_email": "bea@example.com"})
    assert response.status_code == 201, response.get_data(as_text=True)
    booking_id = response.get_json()["booking"]["id"]
    tess_event = _booking(db, booking_id).external_event_id
    assert tess_event and google.event(gym.trainer.email, tess_event)
    google.user_patch_event(gym.trainer.email, tess_event, start=local(gym.day, 15), end=local(gym.day, 16))
    google.deliver_notifications()
    assert _booking(db, booking_id).start_at == local(gym.day, 10)  # Omar is at the physio
    assert _audit(db, booking_id)[-1].action == "calendar_move_refused"
