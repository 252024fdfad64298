"""The calendar-sync page: connecting Google (or being told how), choosing calendars, disconnecting,
and seeing whose calendar needs attention.

Google is configured with every endpoint on a closed local port, so the background jobs the page
starts (run inline under tests) fail fast and record the failure — nothing ever reaches the internet.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from dashboard_helpers import NOW, is_fragment, text
from sqlalchemy import select

from app.models import Booking, Calendar, CalendarConnection
from app.services.calendar import vault as token_vault

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection is refused at once
PAGE = "/dashboard/calendar-sync"


@pytest.fixture
def app_config(app_config):
    return dict(app_config, GOOGLE_CLIENT_ID="atlas-test.apps.googleusercontent.com", GOOGLE_CLIENT_SECRET="s3cret",
                GOOGLE_API_ENDPOINT=f"{NOWHERE}/", GOOGLE_OAUTH_AUTH_URI=f"{NOWHERE}/o/oauth2/auth",
                GOOGLE_OAUTH_TOKEN_URI=f"{NOWHERE}/token", GOOGLE_OAUTH_REVOKE_URI=f"{NOWHERE}/revoke",
                GOOGLE_WEBHOOK_URL=f"{NOWHERE}/webhook", GOOGLE_HTTP_TIMEOUT=1, CALENDAR_JOBS="inline")


@pytest.fixture
def google_off(app, monkeypatch):
    """This portal has no Google OAuth client."""
    monkeypatch.setitem(app.config, "GOOGLE_CLIENT_ID", None)
    monkeypatch.setitem(app.config, "GOOGLE_CLIENT_SECRET", None)


@pytest.fixture
def connect(db):
    """connect(user, email, calendars=[{name, ...flags}], **connection fields) → the connection, made
    directly in the database as if the OAuth dance had happened."""

    def make(user, email=None, calendars=None, **overrides):
        values = {"organization_id": user.organization_id, "user_id": user.id, "provider": "google",
                  "account_email": email or user.email.replace("@", ".gmail@"), "status": "active",
                  "access_token_encrypted": token_vault.encrypt("access-" + uuid.uuid4().hex),
                  "refresh_token_encrypted": token_vault.encrypt("refresh-" + uuid.uuid4().hex),
                  "token_expires_at": NOW + timedelta(hours=1), "scopes": ["https://www.googleapis.com/auth/calendar"]}
        values.update(overrides)
        connection = CalendarConnection(**values)
        db.session.add(connection)
        db.session.flush()
        for spec in calendars if calendars is not None else [{"name": values["account_email"], "is_primary": True,
                                                                 "check_for_conflicts": True, "is_destination": True}]:
            spec = {"external_id": spec["name"].lower().replace(" ", "-") + "@group.calendar.google.com",
                    "timezone": "Europe/London", **spec}
            db.session.add(Calendar(organization_id=user.organization_id, connection_id=connection.id,
                                    user_id=user.id, **spec))
        db.session.commit()
        return connection

    return make


class Inputs(HTMLParser):
    """The <input>s of a page, as attribute dicts (a present boolean attribute maps to None)."""

    def __init__(self, html: str):
        super().__init__()
        self.found: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "input":
            self.found.append(dict(attrs))

    def checked(self, name: str) -> set[str]:
        return {i["value"] for i in self.found if i.get("name") == name and "checked" in i}

    def values(self, name: str) -> set[str]:
        return {i["value"] for i in self.found if i.get("name") == name}


def calendars_of(db, connection) -> dict[str, Calendar]:
    db.session.expire_all()
    return {c.name: c for c in db.session.scalars(select(Calendar).where(Calendar.connection_id == connection.id))}


def three_calendars(gym, connect):
    """Alex's account: the primary calendar (blocks, receives bookings, live push channel), a gym-classes
    calendar (unused) and a family calendar (blocks, no channel, and Google failed last time)."""
    return connect(gym.alex, email="alex.trainer@gmail.com", last_synced_at=NOW - timedelta(minutes=30), calendars=[
        {"name": "alex.trainer@gmail.com", "is_primary": True, "check_for_conflicts": True, "is_destination": True,
         "channel_id": uuid.uuid4().hex, "channel_resource_id": "res-1", "channel_expires_at": NOW + timedelta(days=4),
         "busy_refreshed_at": NOW - timedelta(minutes=30), "busy_cache": [], "busy_cache_from": NOW - timedelta(days=1),
         "busy_cache_until": NOW + timedelta(days=90), "timezone": "America/New_York"},
        {"name": "Gym classes"},
        {"name": "Family", "check_for_conflicts": True, "busy_refreshed_at": NOW - timedelta(hours=2),
         "busy_cache": [], "busy_cache_from": NOW - timedelta(days=1), "busy_cache_until": NOW + timedelta(days=90),
         "sync_error": "Busy times could not be read from Google: Google answered 503",
         "sync_failed_at": NOW - timedelta(minutes=5)},
    ])


# --- Google not configured -------------------------------------------------------------------------

def test_not_configured_tells_an_owner_what_to_set(google_off, owner, gym):
    response = owner.get(PAGE)
    body = text(response)
    assert response.status_code == 200
    for setting in ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "NEXT_PUBLIC_APP_URL",
                    "http://localhost/api/calendar/google/callback", "http://localhost/api/calendar/webhooks/google"):
        assert setting in body
    assert "/api/calendar/google/connect" not in body and "Connect Google Calendar" not in body
    assert "ask an owner or admin" not in body


def test_not_configured_tells_staff_to_ask(google_off, trainer, gym):
    body = text(trainer.get(PAGE))
    assert "ask an owner or admin" in body
    assert "GOOGLE_CLIENT_SECRET" not in body and "/api/calendar/google/connect" not in body
    # The section is in every member of staff's navigation, marked as the current one.
    assert f'href="{PAGE}" aria-current="page">Calendar sync<' in body


# --- connecting and choosing calendars --------------------------------------------------------------

def test_nothing_connected_offers_to_connect(trainer, gym):
    body = text(trainer.get(PAGE))
    assert 'href="/api/calendar/google/connect"' in body and "Connect Google Calendar" in body
    assert "Connect another account" not in body
    assert 'id="team-title"' not in body  # staff see only their own


def test_page_lists_the_calendars_with_their_choices(trainer, gym, connect, db):
    gym.org.timezone = "America/New_York"  # UTC−5: times on the page are the gym's, not UTC
    db.session.commit()
    connection = three_calendars(gym, connect)
    cals = calendars_of(db, connection)
    body = text(trainer.get(PAGE))
    page = Inputs(body)

    assert "alex.trainer@gmail.com" in body and "Connected" in body and "Connect another account" in body
    assert "Last synced: Sun 06 Jan 2030, 06:30" in body  # 11:30 UTC
    assert page.values("conflict") == {str(c.id) for c in cals.values()}
    assert page.checked("conflict") == {str(cals["alex.trainer@gmail.com"].id), str(cals["Family"].id)}
    assert page.checked("destination") == {str(cals["alex.trainer@gmail.com"].id)}
    assert "" in page.values("destination") and "Don't write bookings to Google" in body
    assert 'primary</span>' in body and "America/New York" in body
    # What each calendar is doing.
    assert "Busy times read at 06 Jan, 06:30" in body and "Push updates on until 10 Jan, 07:00" in body
    assert "Polling every few minutes" in body  # the family calendar has no live channel
    assert "Busy times could not be read from Google: Google answered 503" in body
    assert "Not used" in body  # gym classes
    assert body.count('name="csrf_token"') >= 3  # save, sync now, disconnect (and sign-out)


def test_saving_the_selection_changes_the_flags(trainer, gym, connect, db):
    connection = three_calendars(gym, connect)
    cals = calendars_of(db, connection)
    choice = {"conflict": [str(cals["Gym classes"].id), str(cals["Family"].id)], "destination": str(cals["Gym classes"].id)}
    response = trainer.post(f"{PAGE}/{connection.id}", choice)
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)

    cals = calendars_of(db, connection)
    primary, classes, family = cals["alex.trainer@gmail.com"], cals["Gym classes"], cals["Family"]
    assert (primary.check_for_conflicts, primary.is_destination) == (False, False)
    assert (classes.check_for_conflicts, classes.is_destination) == (True, True)
    assert (family.check_for_conflicts, family.is_destination) == (True, False)
    assert primary.busy_cache is None  # no longer blocks: its busy times are forgotten
    # The setup job ran and could not reach "Google" (a closed port): recorded, not raised.
    assert classes.sync_error and db.session.get(CalendarConnection, connection.id).last_error

    page = text(trainer.client.get(PAGE))
    assert "Calendar choices saved for alex.trainer@gmail.com." in page
    assert Inputs(page).checked("destination") == {str(classes.id)}


def test_choosing_no_destination(trainer, gym, connect, db):
    connection = three_calendars(gym, connect)
    cals = calendars_of(db, connection)
    assert trainer.post(f"{PAGE}/{connection.id}", {"conflict": [str(cals["Family"].id)],
                                                     "destination": ""}).status_code == 303
    cals = calendars_of(db, connection)
    assert not any(c.is_destination for c in cals.values())
    assert [n for n, c in cals.items() if c.check_for_conflicts] == ["Family"]
    assert Inputs(text(trainer.get(PAGE))).checked("destination") == {""}


def test_an_unknown_calendar_is_refused_and_nothing_is_lost(trainer, gym, other, connect, db):
    connection = three_calendars(gym, connect)
    rival = connect(other.alex, email="rival@gmail.com")
    rival_calendar = calendars_of(db, rival)["rival@gmail.com"]
    cals = calendars_of(db, connection)
    before = {n: (c.check_for_conflicts, c.is_destination) for n, c in cals.items()}
    for data in ({"conflict": [str(cals["Gym classes"].id), str(uuid.uuid4())], "destination": str(cals["Family"].id)},
                 {"conflict": [str(cals["Gym classes"].id)], "destination": str(rival_calendar.id)}):
        response = trainer.post(f"{PAGE}/{connection.id}", data)
        body = text(response)
        assert response.status_code == 422
        assert "That calendar is not part of this connection." in body
        # The form keeps what was ticked, so nothing has to be chosen again …
        assert str(cals["Gym classes"].id) in Inputs(body).checked("conflict")
        # … and nothing was saved.
        assert {n: (c.check_for_conflicts, c.is_destination) for n, c in calendars_of(db, connection).items()} == before
    assert calendars_of(db, rival)["rival@gmail.com"].is_destination


def test_htmx_save_answers_with_the_connection_card_only(trainer, gym, connect, db):
    connection = three_calendars(gym, connect)
    cals = calendars_of(db, connection)
    response = trainer.post(f"{PAGE}/{connection.id}", {"conflict": [str(cals["Gym classes"].id)], "destination": ""},
                            target=f"connection-{connection.id}")
    body = text(response)
    assert response.status_code == 200 and is_fragment(response)
    assert body.lstrip().startswith(f'<section class="card sync-connection" id="connection-{connection.id}"')
    assert "Calendar choices saved for alex.trainer@gmail.com." in body
    assert Inputs(body).checked("conflict") == {str(cals["Gym classes"].id)}
    assert response.headers["HX-Trigger"] == "calendarSyncChanged"
    assert calendars_of(db, connection)["Gym classes"].check_for_conflicts

    refused = trainer.post(f"{PAGE}/{connection.id}", {"conflict": [str(uuid.uuid4())]},
                           target=f"connection-{connection.id}")
    assert refused.status_code == 422 and is_fragment(refused)
    assert "That calendar is not part of this connection." in text(refused)


def test_the_problem_notices_refresh_as_a_fragment(trainer, gym, connect):
    connect(gym.alex, email="alex.trainer@gmail.com", status="needs_reconnect")
    response = trainer.get(PAGE, target="sync-problems")
    assert response.status_code == 200 and is_fragment(response)
    assert "Google Calendar (alex.trainer@gmail.com) needs reconnecting" in text(response)
    assert "sync-connection" not in text(response)


def test_sync_now_runs_the_job_and_says_so(trainer, gym, connect, db):
    connection = three_calendars(gym, connect)
    response = trainer.post(f"{PAGE}/{connection.id}/sync")
    assert response.status_code == 303
    assert "Syncing alex.trainer@gmail.com with Google now" in text(trainer.client.get(PAGE))
    db.session.expire_all()
    # The job tried the closed port and recorded why it could not sync.
    assert "Could not reach Google" in db.session.get(CalendarConnection, connection.id).last_error


def test_sync_now_without_google_says_it_cannot(google_off, trainer, gym, connect, db):
    connection = three_calendars(gym, connect)
    assert trainer.post(f"{PAGE}/{connection.id}/sync").status_code == 303
    body = text(trainer.client.get(PAGE))
    assert "Google Calendar isn&#39;t set up on this portal, so nothing can be synced." in body
    assert "Sync now" not in body and "Reconnect" not in body
    # What was connected before stays visible, and can still be disconnected.
    assert "alex.trainer@gmail.com</h2>" in body and "Disconnect alex.trainer@gmail.com" in body


# --- problems, failed write-backs, reconnecting ---------------------------------------------------------

def test_own_problems_and_failed_bookings_are_shown(trainer, gym, connect, db):
    connect(gym.alex, email="alex.trainer@gmail.com", status="needs_reconnect",
            last_error="Google no longer accepts this connection. Please reconnect Google Calendar.")
    gym.booking.calendar_sync_status = "failed"
    gym.booking.calendar_sync_error = "Waiting for Google Calendar to be reconnected."
    db.session.commit()
    body = text(trainer.get(PAGE))
    assert "Needs reconnecting" in body
    assert "Google Calendar (alex.trainer@gmail.com) needs reconnecting: new bookings wait to be written" in body
    assert 'href="/api/calendar/google/connect">Reconnect' in body
    assert f'href="/dashboard/bookings/{gym.booking.id}">{gym.booking.attendee_name}</a>' in body
    assert "Waiting for Google Calendar to be reconnected." in body
    assert "Sync now" not in body  # nothing to sync until it is reconnected


def test_busy_times_never_read_say_slots_are_withheld(trainer, gym, connect):
    connect(gym.alex, email="alex.trainer@gmail.com")  # primary blocks availability, busy times unknown
    body = text(trainer.get(PAGE))
    assert "Busy times of “alex.trainer@gmail.com” have not been read yet; your slots are withheld" in body
    assert "Busy times not read yet" in body


# --- disconnecting ------------------------------------------------------------------------------------

def test_disconnect_deletes_the_connection_even_when_google_cannot_be_reached(trainer, gym, connect, db):
    connection = three_calendars(gym, connect)
    ids = set(calendars_of(db, connection))
    assert len(ids) == 3
    page = text(trainer.get(PAGE))
    # The confirm step works without JavaScript: the real button sits inside <details>.
    assert '<details class="sync-confirm">' in page and "Events already written stay in your Google Calendar." in page

    response = trainer.post(f"{PAGE}/{connection.id}/disconnect")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(CalendarConnection, connection.id) is None
    assert db.session.scalars(select(Calendar).where(Calendar.connection_id == connection.id)).all() == []
    after = text(trainer.client.get(PAGE))
    assert "Disconnected Google Calendar (alex.trainer@gmail.com)" in after
    assert "Connect Google Calendar" in after and "alex.trainer@gmail.com</h2>" not in after


def test_staff_cannot_touch_a_colleagues_connection(trainer, gym, connect, db):
    sams = connect(gym.sam, email="sam@gmail.com")
    calendar = calendars_of(db, sams)["sam@gmail.com"]
    for url, data in ((f"{PAGE}/{sams.id}", {"conflict": [], "destination": ""}),
                      (f"{PAGE}/{sams.id}/sync", {}), (f"{PAGE}/{sams.id}/disconnect", {})):
        assert trainer.post(url, data).status_code == 404, url
    calendar = calendars_of(db, sams)["sam@gmail.com"]
    assert calendar.check_for_conflicts and calendar.is_destination
    assert "sam@gmail.com" not in text(trainer.get(PAGE))


def test_another_organizations_or_a_malformed_id_is_404(owner, gym, other, connect, db):
    rival = connect(other.alex, email="rival@gmail.com")
    for connection_id in (rival.id, uuid.uuid4(), "not-a-uuid", "1%20OR%201=1"):
        for suffix in ("", "/sync", "/disconnect"):
            response = owner.post(f"{PAGE}/{connection_id}{suffix}", {"conflict": [], "destination": ""})
            assert response.status_code == 404, (connection_id, suffix)
            assert "rival@gmail.com" not in text(response)
    db.session.expire_all()
    assert db.session.get(CalendarConnection, rival.id) is not None
    assert calendars_of(db, rival)["rival@gmail.com"].is_destination


def test_every_post_needs_the_csrf_token(trainer, gym, connect, db):
    connection = three_calendars(gym, connect)
    for suffix in ("", "/sync", "/disconnect"):
        assert trainer.post(f"{PAGE}/{connection.id}{suffix}", {"conflict": []}, csrf=False).status_code == 400
    assert calendars_of(db, connection)["Family"].check_for_conflicts


# --- the team, for owners and admins -------------------------------------------------------------------

def test_admin_sees_whose_calendar_needs_attention(browser, gym, other, connect, db):
    connect(gym.alex, email="alex.trainer@gmail.com", calendars=[])
    connect(gym.sam, email="sam.coach@gmail.com", status="needs_reconnect")
    connect(other.sam, email="rival.sam@gmail.com", status="needs_reconnect")
    gym.sam_booking.calendar_sync_status = "failed"
    db.session.commit()
    body = text(browser(gym.admin).get(PAGE))
    team = body[body.index('id="team-title"'):]
    sam_row = team[team.index(f'id="sync-member-{gym.sam.id}"'):]
    sam_row = sam_row[:sam_row.index("</tr>")]
    assert "Sam of Acme" in sam_row and "sam.coach@gmail.com" in sam_row and "Needs reconnecting" in sam_row
    assert "Google Calendar (sam.coach@gmail.com) needs reconnecting: new bookings wait to be written" in sam_row
    assert '<strong class="sync-error">1</strong>' in sam_row
    alex_row = team[team.index(f'id="sync-member-{gym.alex.id}"'):]
    alex_row = alex_row[:alex_row.index("</tr>")]
    assert "alex.trainer@gmail.com" in alex_row and "Connected" in alex_row
    owner_row = team[team.index(f'id="sync-member-{gym.owner.id}"'):]
    assert "Not connected" in owner_row[:owner_row.index("</tr>")]
    assert "Rival" not in body and "rival.sam@gmail.com" not in body


def test_admin_disconnects_a_colleague(browser, gym, connect, db):
    sams = connect(gym.sam, email="sam.coach@gmail.com", status="needs_reconnect")
    admin = browser(gym.admin)
    assert admin.post(f"{PAGE}/{sams.id}/disconnect").status_code == 303
    db.session.expire_all()
    assert db.session.get(CalendarConnection, sams.id) is None
    assert "Disconnected Sam of Acme's Google Calendar (sam.coach@gmail.com)" in unescape(text(admin.client.get(PAGE)))


# --- the booking page -----------------------------------------------------------------------------

def test_booking_page_says_how_its_google_event_is_doing(owner, gym, db):
    gym.booking.calendar_sync_status = "failed"
    gym.booking.calendar_sync_error = "Google Calendar could not be updated: Google answered 403 (forbidden)"
    gym.sam_booking.calendar_sync_status = "synced"
    db.session.commit()
    failed = text(owner.get(f"/dashboard/bookings/{gym.booking.id}"))
    assert "<dt>Google Calendar</dt>" in failed and "Failed" in failed
    assert "Google Calendar could not be updated: Google answered 403 (forbidden)" in failed
    synced = text(owner.get(f"/dashboard/bookings/{gym.sam_booking.id}"))
    assert "<dt>Google Calendar</dt>" in synced and ">Synced<" in synced

    gym.booking.calendar_sync_status = "not_applicable"
    gym.booking.calendar_sync_error = None
    db.session.commit()
    assert "<dt>Google Calendar</dt>" not in text(owner.get(f"/dashboard/bookings/{gym.booking.id}"))
    db.session.expire_all()
    assert db.session.get(Booking, gym.booking.id).calendar_sync_status == "not_applicable"
