"""The Google stand-in, driven by the real google-auth, google-auth-oauthlib and API client.

Every Calendar response is checked against the discovery document's schema, so the stand-in
cannot drift from the shapes the real API returns.
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit

import google_auth_httplib2
import httplib2
import pytest
import time_machine
from discovery_schema import validate
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from google_standin import GoogleStandIn
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ALICE = "alice@example.com"
BOB = "bob@example.com"
SCOPES = ["https://www.googleapis.com/auth/calendar"]
REDIRECT_URI = "http://127.0.0.1:5000/oauth/google/callback"
HOOK = "http://127.0.0.1:5000/api/calendar/webhook"
DAY = datetime(2030, 6, 3, tzinfo=timezone.utc)  # a Monday; London is on BST (UTC+1)


@pytest.fixture(autouse=True)
def plain_http_oauth(monkeypatch):
    # oauthlib refuses OAuth over plain http unless told this is a test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def alice(google) -> Credentials:
    """Alice's account, and the credentials the app holds after she consented."""
    google.add_account(ALICE)
    return sign_in(google)


@pytest.fixture
def calendar(google, alice):
    with calendar_service(google, alice) as service:
        yield service


# -- helpers ---------------------------------------------------------------------------------

def start_flow(google) -> tuple[Flow, str, str]:
    """The app's side of the consent: a PKCE flow and the URL it sends the person to."""
    client_config = {"web": {"client_id": google.client_id, "client_secret": google.client_secret,
                             "auth_uri": google.auth_uri, "token_uri": google.token_uri,
                             "redirect_uris": [REDIRECT_URI]}}
    flow = Flow.from_client_config(client_config, scopes=SCOPES, redirect_uri=REDIRECT_URI)
    url, state = flow.authorization_url(access_type="offline", prompt="consent")
    return flow, url, state


def consent(url: str) -> tuple[int, dict]:
    """Open the consent URL as the browser would: the status and the redirect's query."""
    status, headers, _ = raw("GET", url)
    location = headers.get("Location")
    return status, dict(parse_qsl(urlsplit(location).query)) if location else {}


def sign_in(google) -> Credentials:
    flow, url, _ = start_flow(google)
    _, redirect = consent(url)
    try:
        flow.fetch_token(code=redirect["code"])
    finally:
        flow.oauth2session.close()
    return flow.credentials


@contextmanager
def calendar_service(google, credentials: Credentials, *, timeout: float = 5):
    authorized = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
    with build("calendar", "v3", http=authorized, static_discovery=True, cache_discovery=False,
               client_options={"api_endpoint": google.api_endpoint}) as service:
        yield service


def refresh(credentials: Credentials) -> None:
    transport = httplib2.Http(timeout=5)
    try:
        credentials.refresh(google_auth_httplib2.Request(transport))
    finally:
        transport.close()


def raw(method: str, url: str, *, form: dict | None = None, headers: dict | None = None):
    """A bare HTTP request: (status, headers, JSON body or text)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    body = urlencode(form) if form is not None else None
    headers = dict(headers or {})
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, f"{parts.path}?{parts.query}", body=body, headers=headers)
        response = connection.getresponse()
        content = response.read().decode()
    finally:
        connection.close()
    is_json = response.getheader("Content-Type", "").startswith("application/json")
    return response.status, dict(response.getheaders()), json.loads(content) if is_json else content


def reason_of(error: HttpError) -> str:
    return json.loads(error.content)["error"]["errors"][0]["reason"]


def timed(start: datetime, hours: float = 1) -> dict:
    """An API body's start and end."""
    return {"start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=hours)).isoformat()}}


def full_sync(calendar, calendar_id=ALICE, **params) -> tuple[list[dict], str]:
    """Every page of a full sync: the events and the final sync token."""
    events, page_token = [], None
    while True:
        page = calendar.events().list(calendarId=calendar_id, pageToken=page_token, **params).execute()
        validate("Events", page)
        events += page["items"]
        page_token = page.get("nextPageToken")
        if page_token is None:
            return events, page["nextSyncToken"]


# -- the schema check itself -----------------------------------------------------------------

@pytest.mark.parametrize(("schema", "value", "message"), [
    ("Event", {"id": "a", "colour": "red"}, "Event.colour: unknown property"),
    ("Event", {"start": {"dateTime": 9}}, "Event.start.dateTime: expected string"),
    ("Event", {"updated": "2030-06-03 09:00"}, "Event.updated: '2030-06-03 09:00' is not an RFC 3339"),
    ("Event", {"end": {"date": "2030-13-01"}}, "Event.end.date: '2030-13-01' is not a date"),
    ("Event", {"sequence": True}, "Event.sequence: expected integer"),
    ("Events", {"items": [{"kind": "calendar#event", "x": 1}]}, "Events.items[0].x: unknown property"),
    ("Channel", {"expiration": "soon"}, "Channel.expiration: 'soon' is not an int64 string"),
    ("FreeBusyResponse", {"calendars": {"a": {"busy": [{"start": 1}]}}},
     "FreeBusyResponse.calendars.a.busy[0].start: expected string"),
])
def test_schema_check_names_the_offending_path(schema, value, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        validate(schema, value)


def test_schema_check_accepts_maps_and_any():
    validate("Event", {"extendedProperties": {"private": {"anything": "goes"}},
                       "workingLocationProperties": {"homeOffice": {"free": "form"}}})


# -- OAuth -----------------------------------------------------------------------------------

def test_consent_redirects_back_with_a_code_and_the_state(google):
    google.add_account(ALICE)
    _, url, state = start_flow(google)

    status, redirect = consent(url)
    assert status == 302
    assert redirect["state"] == state and redirect["scope"] == " ".join(SCOPES) and redirect["code"]

    google.deny_consent = True
    assert consent(url) == (302, {"error": "access_denied", "state": state})


def test_consent_page_refuses_an_unknown_client(google):
    google.add_account(ALICE)
    _, url, _ = start_flow(google)
    status, _, page = raw("GET", url.replace(f"client_id={google.client_id}", "client_id=stranger"))
    assert status == 400 and "invalid_client" in page


def test_code_exchange_checks_the_pkce_verifier_and_issues_working_tokens(google):
    google.add_account(ALICE)
    flow, url, _ = start_flow(google)
    _, redirect = consent(url)
    assert google.requests[-1].query["code_challenge_method"] == "S256"
    right_verifier = flow.code_verifier
    try:
        flow.code_verifier = "x" * 64
        with pytest.raises(InvalidGrantError, match="Invalid code verifier"):
            flow.fetch_token(code=redirect["code"])

        flow.code_verifier = right_verifier
        token = flow.fetch_token(code=redirect["code"])
        assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
        assert token["scope"] == SCOPES and token["refresh_token"]

        credentials = flow.credentials

        with pytest.raises(InvalidGrantError):  # a code is good for one exchange
            flow.fetch_token(code=redirect["code"])
    finally:
        flow.oauth2session.close()

    with calendar_service(google, credentials) as service:
        assert service.calendarList().list().execute()["items"][0]["id"] == ALICE


def test_token_endpoint_refuses_bad_clients_and_requests(google, alice):
    form = {"grant_type": "refresh_token", "refresh_token": alice.refresh_token,
            "client_id": google.client_id, "client_secret": "wrong"}
    status, _, body = raw("POST", google.token_uri, form=form)
    assert (status, body["error"]) == (401, "invalid_client")

    form["client_secret"] = google.client_secret
    status, _, body = raw("POST", google.token_uri, form={**form, "grant_type": "password"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    status, _, body = raw("POST", google.token_uri, form={**form, "refresh_token": "unknown"})
    assert (status, body["error"]) == (400, "invalid_grant")
    status, _, body = raw("POST", google.token_uri, form=form)
    assert status == 200 and "refresh_token" not in body and body["access_token"] != alice.token


def test_refresh_issues_a_new_access_token_and_keeps_the_refresh_token(google, alice):
    access_token, refresh_token = alice.token, alice.refresh_token
    refresh(alice)
    assert alice.token != access_token and alice.refresh_token == refresh_token
    assert google.requests[-1].body["grant_type"] == "refresh_token"


def test_revoking_either_token_ends_the_grant(google, alice, calendar):
    status, _, body = raw("POST", f"{google.revoke_uri}?token={alice.token}")
    assert (status, body) == (200, {})

    with pytest.raises(RefreshError, match="invalid_grant"):
        refresh(alice)
    with pytest.raises(RefreshError, match="invalid_grant"):  # 401, then the refresh fails
        calendar.calendarList().list().execute()
    status, _, body = raw("POST", google.revoke_uri, form={"token": alice.refresh_token})
    assert (status, body["error"]) == (400, "invalid_token")


def test_person_removing_access_revokes_only_their_tokens(google, alice):
    google.add_account(BOB)
    google.consent_email = BOB
    bob = sign_in(google)

    google.revoke_refresh_tokens(ALICE)
    with pytest.raises(RefreshError, match="invalid_grant"):
        refresh(alice)
    refresh(bob)


def test_expired_access_token_answers_401_and_google_auth_refreshes(google, alice, calendar):
    google.expire_access_tokens()
    google.reset_requests()
    assert calendar.calendarList().list().execute()["items"]
    assert [(r.path, r.status) for r in google.requests] == [
        ("/calendar/v3/users/me/calendarList", 401), ("/token", 200),
        ("/calendar/v3/users/me/calendarList", 200)]


def test_credentials_past_their_expiry_refresh_before_calling(google, alice):
    expired = Credentials(
        token=alice.token, refresh_token=alice.refresh_token, token_uri=google.token_uri,
        client_id=google.client_id, client_secret=google.client_secret,
        expiry=datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=1))
    google.reset_requests()
    with calendar_service(google, expired) as service:
        service.calendarList().list().execute()
    assert [(r.path, r.status) for r in google.requests] == [
        ("/token", 200), ("/calendar/v3/users/me/calendarList", 200)]


def test_access_tokens_stop_working_when_their_lifetime_is_over():
    # Longer than google-auth's 3m45s early-refresh margin, which would refresh twice.
    with GoogleStandIn(access_token_lifetime=600) as google:
        google.add_account(ALICE)
        signed_in = sign_in(google)
        # Without an expiry google-auth cannot know; only the server's 401 tells it.
        credentials = Credentials(token=signed_in.token, refresh_token=signed_in.refresh_token,
                                  token_uri=google.token_uri, client_id=google.client_id,
                                  client_secret=google.client_secret)
        with calendar_service(google, credentials) as service:
            service.calendarList().list().execute()
            with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=11), tick=True):
                google.reset_requests()
                service.calendarList().list().execute()
        assert [(r.path, r.status) for r in google.requests] == [
            ("/calendar/v3/users/me/calendarList", 401), ("/token", 200),
            ("/calendar/v3/users/me/calendarList", 200)]


def test_calendar_api_needs_a_valid_bearer_token(google, alice):
    url = google.api_endpoint + "users/me/calendarList"
    status, headers, body = raw("GET", url)
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    assert body["error"]["errors"][0]["reason"] == "required"
    assert headers["WWW-Authenticate"].startswith("Bearer")

    status, _, body = raw("GET", url, headers={"Authorization": "Bearer made-up"})
    assert status == 401 and body["error"]["errors"][0] == {
        "domain": "global", "reason": "authError", "message": "Invalid Credentials"}
    assert raw("GET", url, headers={"Authorization": f"Bearer {alice.token}"})[0] == 200


# -- calendarList ----------------------------------------------------------------------------

def test_calendar_list_shows_the_accounts_own_calendars(google):
    classes = "classes@group.calendar.google.com"
    google.add_account(ALICE, calendars=[
        {"id": ALICE, "summary": "Alice", "timeZone": "Europe/London", "primary": True},
        {"id": classes, "summary": "Classes", "timeZone": "America/New_York",
         "accessRole": "reader"}])
    google.add_account(BOB)
    with calendar_service(google, sign_in(google)) as service:
        listing = service.calendarList().list().execute()
        validate("CalendarList", listing)
        assert [(entry["id"], entry.get("primary"), entry["accessRole"], entry["timeZone"])
                for entry in listing["items"]] == [
            (ALICE, True, "owner", "Europe/London"), (classes, None, "reader", "America/New_York")]
        again = service.calendarList().list(syncToken=listing["nextSyncToken"]).execute()
        assert again["items"] == []

        with pytest.raises(HttpError) as error:
            service.events().list(calendarId=BOB).execute()
        assert error.value.resp.status == 404 and reason_of(error.value) == "notFound"
        assert json.loads(error.value.content)["error"]["status"] == "NOT_FOUND"

        with pytest.raises(HttpError) as error:
            service.events().insert(calendarId=classes, body=timed(DAY)).execute()
        assert error.value.resp.status == 403


# -- freeBusy --------------------------------------------------------------------------------

def test_free_busy_merges_busy_time_and_skips_free_and_cancelled_events(google, alice, calendar):
    at = lambda hours: DAY + timedelta(hours=hours)  # noqa: E731
    google.user_insert_event(ALICE, at(9), at(10))
    google.user_insert_event(ALICE, at(9.5), at(11))  # overlaps: merged
    google.user_insert_event(ALICE, at(11), at(12))  # touches: merged
    google.user_insert_event(ALICE, at(13), at(14), transparency="transparent")
    cancelled = google.user_insert_event(ALICE, at(15), at(16))
    google.user_delete_event(ALICE, cancelled["id"])
    calendar.events().insert(calendarId=ALICE, body={**timed(at(14), 0.5), "status": "tentative"}).execute()
    google.user_insert_event(ALICE, at(17), at(19))  # clipped at timeMax
    google.user_insert_event(ALICE, date(2030, 6, 2), date(2030, 6, 3))  # all day, London time

    answer = calendar.freebusy().query(body={
        "timeMin": at(-2).isoformat(), "timeMax": at(18).isoformat(),
        "items": [{"id": ALICE}, {"id": BOB}]}).execute()
    validate("FreeBusyResponse", answer)
    assert answer["timeMin"] == "2030-06-02T22:00:00.000Z"
    assert answer["calendars"][ALICE] == {"busy": [
        {"start": "2030-06-02T22:00:00Z", "end": "2030-06-02T23:00:00Z"},  # London midnight
        {"start": "2030-06-03T09:00:00Z", "end": "2030-06-03T12:00:00Z"},
        {"start": "2030-06-03T14:00:00Z", "end": "2030-06-03T14:30:00Z"},
        {"start": "2030-06-03T17:00:00Z", "end": "2030-06-03T18:00:00Z"}]}
    assert answer["calendars"][BOB] == {"errors": [{"domain": "global", "reason": "notFound"}],
                                        "busy": []}


def test_free_busy_answers_in_the_requested_time_zone(google, alice, calendar):
    google.user_insert_event(ALICE, DAY + timedelta(hours=9), DAY + timedelta(hours=10))
    answer = calendar.freebusy().query(body={
        "timeMin": DAY.isoformat(), "timeMax": (DAY + timedelta(days=1)).isoformat(),
        "timeZone": "Europe/London", "items": [{"id": "primary"}]}).execute()
    validate("FreeBusyResponse", answer)
    assert answer["calendars"]["primary"]["busy"] == [
        {"start": "2030-06-03T10:00:00+01:00", "end": "2030-06-03T11:00:00+01:00"}]


@pytest.mark.parametrize(("days", "reason"), [(0, "timeRangeEmpty"), (90.01, "timeRangeTooLong")])
def test_free_busy_refuses_empty_and_overlong_ranges(calendar, days, reason):
    body = {"timeMin": DAY.isoformat(), "timeMax": (DAY + timedelta(days=days)).isoformat(),
            "items": [{"id": ALICE}]}
    with pytest.raises(HttpError) as error:
        calendar.freebusy().query(body=body).execute()
    assert error.value.resp.status == 400 and reason_of(error.value) == reason


def test_free_busy_accepts_exactly_ninety_days(calendar):
    body = {"timeMin": DAY.isoformat(), "timeMax": (DAY + timedelta(days=90)).isoformat(),
            "items": [{"id": ALICE}]}
    assert calendar.freebusy().query(body=body).execute()["calendars"][ALICE] == {"busy": []}


# -- events: insert, get, patch, update, delete ----------------------------------------------

def test_insert_with_a_client_id_returns_a_full_event(google, calendar):
    body = {"id": "booking0042", "summary": "PT session", "description": "With Sam",
            "location": "Studio 2", "transparency": "opaque",
            "start": {"dateTime": "2030-06-03T10:00:00+01:00"},
            "end": {"dateTime": "2030-06-03T11:00:00+01:00"},
            "extendedProperties": {"private": {"atlasBookingId": "42"}}}
    event = calendar.events().insert(calendarId="primary", body=body).execute()
    validate("Event", event)
    assert {key: event[key] for key in body} == body
    assert event["kind"] == "calendar#event" and event["status"] == "confirmed"
    assert event["iCalUID"] == "booking0042@google.com" and event["sequence"] == 0
    assert event["creator"] == event["organizer"] == {"email": ALICE, "self": True}
    assert event["created"] == event["updated"] and event["etag"].startswith('"')
    assert event["reminders"] == {"useDefault": True} and event["htmlLink"].startswith("https://")
    assert google.event(ALICE, "booking0042") == event
    fetched = calendar.events().get(calendarId=ALICE, eventId="booking0042").execute()
    assert fetched == event

    generated = calendar.events().insert(calendarId=ALICE, body=timed(DAY)).execute()
    assert len(generated["id"]) >= 5 and set(generated["id"]) <= set("0123456789abcdefghijklmnopqrstuv")


@pytest.mark.parametrize("event_id", ["abcd", "Booking42", "booking-42", "wxyz12345", "a" * 1025])
def test_insert_refuses_ids_that_are_not_base32hex(calendar, event_id):
    with pytest.raises(HttpError) as error:
        calendar.events().insert(calendarId=ALICE, body={"id": event_id, **timed(DAY)}).execute()
    assert error.value.resp.status == 400 and reason_of(error.value) == "invalid"


@pytest.mark.parametrize(("body", "reason"), [
    ({"start": {"dateTime": DAY.isoformat()}}, "required"),
    (timed(DAY, hours=-1), "timeRangeEmpty"),
    ({"start": {"dateTime": "2030-06-03T09:00:00"}, "end": {"dateTime": "2030-06-03T10:00:00"}},
     "required"),
])
def test_insert_needs_a_start_before_an_end(calendar, body, reason):
    with pytest.raises(HttpError) as error:
        calendar.events().insert(calendarId=ALICE, body=body).execute()
    assert error.value.resp.status == 400 and reason_of(error.value) == reason


def test_an_id_stays_taken_after_its_event_is_deleted(calendar):
    body = {"id": "booking7", **timed(DAY)}
    calendar.events().insert(calendarId=ALICE, body=body).execute()
    with pytest.raises(HttpError) as error:
        calendar.events().insert(calendarId=ALICE, body=body).execute()
    assert error.value.resp.status == 409 and reason_of(error.value) == "duplicate"

    calendar.events().delete(calendarId=ALICE, eventId="booking7").execute()
    with pytest.raises(HttpError) as error:
        calendar.events().insert(calendarId=ALICE, body=body).execute()
    assert error.value.resp.status == 409 and reason_of(error.value) == "duplicate"


def test_patch_merges_fields_and_bumps_sequence_only_when_times_change(calendar):
    original = calendar.events().insert(calendarId=ALICE, body={
        "id": "booking9", "summary": "PT", "description": "With Sam", **timed(DAY),
        "extendedProperties": {"private": {"a": "1", "b": "2"}}}).execute()

    renamed = calendar.events().patch(calendarId=ALICE, eventId="booking9", body={
        "summary": "PT (moved room)", "extendedProperties": {"private": {"b": "3", "c": "4"}}}).execute()
    validate("Event", renamed)
    assert renamed["summary"] == "PT (moved room)" and renamed["description"] == "With Sam"
    assert renamed["extendedProperties"] == {"private": {"a": "1", "b": "3", "c": "4"}}
    assert renamed["sequence"] == 0 and renamed["etag"] != original["etag"]
    assert renamed["updated"] >= original["updated"] and renamed["created"] == original["created"]

    moved = calendar.events().patch(calendarId=ALICE, eventId="booking9",
                                    body=timed(DAY + timedelta(hours=2))).execute()
    assert moved["sequence"] == 1 and moved["start"] == timed(DAY + timedelta(hours=2))["start"]

    with pytest.raises(HttpError) as error:
        calendar.events().patch(calendarId=ALICE, eventId="nosuchevent", body={"summary": "x"}).execute()
    assert error.value.resp.status == 404


def test_patch_with_status_confirmed_revives_a_tombstone(google, calendar):
    calendar.events().insert(calendarId=ALICE, body={"id": "booking10", **timed(DAY)}).execute()
    calendar.events().delete(calendarId=ALICE, eventId="booking10").execute()
    tombstone = calendar.events().get(calendarId=ALICE, eventId="booking10").execute()
    validate("Event", tombstone)
    assert tombstone["status"] == "cancelled" and google.events(ALICE) == []
    assert google.events(ALICE, include_cancelled=True)[0]["id"] == "booking10"

    revived = calendar.events().patch(calendarId=ALICE, eventId="booking10",
                                      body={"status": "confirmed"}).execute()
    assert revived["status"] == "confirmed" and [e["id"] for e in google.events(ALICE)] == ["booking10"]


def test_update_replaces_every_writable_field(calendar):
    calendar.events().insert(calendarId=ALICE, body={
        "id": "booking11", "summary": "PT", "description": "With Sam", **timed(DAY)}).execute()
    updated = calendar.events().update(calendarId=ALICE, eventId="booking11",
                                       body={"summary": "Yoga", **timed(DAY)}).execute()
    validate("Event", updated)
    assert updated["summary"] == "Yoga" and "description" not in updated
    assert updated["id"] == "booking11" and updated["sequence"] == 0


def test_delete_leaves_a_tombstone_and_a_second_delete_is_gone(google, calendar):
    calendar.events().insert(calendarId=ALICE, body={"id": "booking12", **timed(DAY)}).execute()
    calendar.events().delete(calendarId=ALICE, eventId="booking12").execute()
    assert google.requests[-1].status == 204
    assert google.event(ALICE, "booking12")["status"] == "cancelled"

    with pytest.raises(HttpError) as error:
        calendar.events().delete(calendarId=ALICE, eventId="booking12").execute()
    assert error.value.resp.status == 410 and reason_of(error.value) == "deleted"
    with pytest.raises(HttpError) as error:
        calendar.events().delete(calendarId=ALICE, eventId="nosuchevent").execute()
    assert error.value.resp.status == 404


# -- events.list: full and incremental sync --------------------------------------------------

def test_full_sync_pages_through_events_and_ends_with_a_sync_token(google, calendar):
    ids = [google.user_insert_event(ALICE, DAY + timedelta(hours=h), DAY + timedelta(hours=h + 1))["id"]
           for h in range(5)]
    deleted = google.user_insert_event(ALICE, DAY, DAY + timedelta(hours=1))["id"]
    google.user_delete_event(ALICE, deleted)

    pages, page_token = [], None
    while page_token is not None or not pages:
        page = calendar.events().list(calendarId=ALICE, maxResults=2, pageToken=page_token).execute()
        validate("Events", page)
        pages.append(page)
        page_token = page.get("nextPageToken")
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert [event["id"] for page in pages for event in page["items"]] == ids
    assert all("nextSyncToken" not in page for page in pages[:-1]) and pages[-1]["nextSyncToken"]
    assert pages[0]["kind"] == "calendar#events" and pages[0]["timeZone"] == "Europe/London"

    with_deleted, _ = full_sync(calendar, showDeleted=True)
    assert [(e["id"], e["status"]) for e in with_deleted][-1] == (deleted, "cancelled")


def test_full_sync_filters_by_time_range_and_private_property(google, calendar):
    morning = google.user_insert_event(ALICE, DAY + timedelta(hours=9), DAY + timedelta(hours=10))
    evening = google.user_insert_event(ALICE, DAY + timedelta(hours=18), DAY + timedelta(hours=19),
                                       extendedProperties={"private": {"atlasBookingId": "7"}})
    in_range, _ = full_sync(calendar, timeMin=(DAY + timedelta(hours=9.5)).isoformat(),
                            timeMax=(DAY + timedelta(hours=18)).isoformat())
    assert [e["id"] for e in in_range] == [morning["id"]]
    tagged, _ = full_sync(calendar, privateExtendedProperty="atlasBookingId=7")
    assert [e["id"] for e in tagged] == [evening["id"]]


def test_incremental_sync_returns_only_changes_including_tombstones(google, calendar):
    at = lambda hours: DAY + timedelta(hours=hours)  # noqa: E731
    google.user_insert_event(ALICE, at(9), at(10))
    edited = google.user_insert_event(ALICE, at(11), at(12))["id"]
    removed = google.user_insert_event(ALICE, at(13), at(14))["id"]
    _, sync_token = full_sync(calendar)

    google.user_patch_event(ALICE, edited, start=at(15), end=at(16))
    google.user_delete_event(ALICE, removed)
    added = calendar.events().insert(calendarId=ALICE, body=timed(at(17))).execute()["id"]

    page = calendar.events().list(calendarId=ALICE, syncToken=sync_token).execute()
    validate("Events", page)
    changed = {event["id"]: event for event in page["items"]}
    assert set(changed) == {edited, removed, added}
    assert changed[edited]["sequence"] == 1 and changed[edited]["start"] == {"dateTime": at(15).isoformat()}
    assert set(changed[removed]) == {"kind", "etag", "id", "status", "updated"}
    assert changed[removed]["status"] == "cancelled"

    quiet = calendar.events().list(calendarId=ALICE, syncToken=page["nextSyncToken"]).execute()
    assert quiet["items"] == [] and quiet["nextSyncToken"]


def test_incremental_sync_pages_and_misses_nothing_changed_mid_way(google, calendar):
    _, sync_token = full_sync(calendar)
    ids = [google.user_insert_event(ALICE, DAY + timedelta(hours=h), DAY + timedelta(hours=h + 1))["id"]
           for h in range(5)]

    first = calendar.events().list(calendarId=ALICE, syncToken=sync_token, maxResults=2).execute()
    assert len(first["items"]) == 2 and "nextSyncToken" not in first
    google.user_patch_event(ALICE, ids[0], summary="changed while paging")
    seen, page = [e["id"] for e in first["items"]], first
    while "nextPageToken" in page:
        page = calendar.events().list(calendarId=ALICE, syncToken=sync_token, maxResults=2,
                                      pageToken=page["nextPageToken"]).execute()
        validate("Events", page)
        seen += [e["id"] for e in page["items"]]
    assert seen == ids

    after = calendar.events().list(calendarId=ALICE, syncToken=page["nextSyncToken"]).execute()
    assert [(e["id"], e["summary"]) for e in after["items"]] == [(ids[0], "changed while paging")]


def test_expired_sync_token_demands_a_full_sync(google, calendar):
    _, sync_token = full_sync(calendar)
    google.expire_sync_tokens(ALICE)
    for token in (sync_token, "not-a-token"):
        with pytest.raises(HttpError) as error:
            calendar.events().list(calendarId=ALICE, syncToken=token).execute()
        assert error.value.resp.status == 410 and reason_of(error.value) == "fullSyncRequired"
        assert error.value.reason == "Sync token is no longer valid, a full sync is required."

    _, fresh_token = full_sync(calendar)
    assert calendar.events().list(calendarId=ALICE, syncToken=fresh_token).execute()["items"] == []


def test_sync_token_cannot_be_combined_with_filters(calendar):
    _, sync_token = full_sync(calendar)
    with pytest.raises(HttpError) as error:
        calendar.events().list(calendarId=ALICE, syncToken=sync_token, timeMin=DAY.isoformat()).execute()
    assert error.value.resp.status == 400 and reason_of(error.value) == "invalid"


# -- push notifications ----------------------------------------------------------------------

def test_watch_returns_a_channel_and_queues_a_sync_notification(google, calendar):
    before = datetime.now(timezone.utc)
    channel = calendar.events().watch(calendarId="primary", body={
        "id": "channel-1", "type": "web_hook", "address": HOOK, "token": "shared-secret",
        "params": {"ttl": "3600"}}).execute()
    validate("Channel", channel)
    assert channel["kind"] == "api#channel" and channel["id"] == "channel-1"
    assert channel["token"] == "shared-secret" and channel["resourceId"]
    expires = datetime.fromtimestamp(int(channel["expiration"]) / 1000, timezone.utc)
    assert timedelta(minutes=59) < expires - before < timedelta(minutes=61)
    assert google.channels["channel-1"]["calendar_id"] == ALICE

    received = []
    google.notify = lambda address, headers: received.append((address, headers))
    assert google.deliver_notifications() == 1 and google.pending_notifications == []
    assert received == [(HOOK, {
        "X-Goog-Channel-ID": "channel-1", "X-Goog-Channel-Token": "shared-secret",
        "X-Goog-Channel-Expiration": expires.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "X-Goog-Resource-ID": channel["resourceId"], "X-Goog-Resource-URI": channel["resourceUri"],
        "X-Goog-Resource-State": "sync", "X-Goog-Message-Number": "1"})]

    second = calendar.events().watch(calendarId=ALICE, body={
        "id": "channel-2", "type": "web_hook", "address": HOOK}).execute()
    assert second["resourceId"] == channel["resourceId"]  # one resource: the calendar's events
    with pytest.raises(HttpError) as error:
        calendar.events().watch(calendarId=ALICE, body={
            "id": "channel-1", "type": "web_hook", "address": HOOK}).execute()
    assert error.value.resp.status == 400


def test_every_change_notifies_each_live_channel_of_the_calendar(google, calendar):
    google.add_account(BOB)
    for channel_id, token in (("with-token", "t0k"), ("no-token", None)):
        calendar.events().watch(calendarId=ALICE, body={
            "id": channel_id, "type": "web_hook", "address": HOOK,
            **({"token": token} if token else {})}).execute()
    google.pending_notifications.clear()

    event = google.user_insert_event(ALICE, DAY, DAY + timedelta(hours=1))
    google.user_insert_event(BOB, DAY, DAY + timedelta(hours=1))  # another calendar: no news
    calendar.events().patch(calendarId=ALICE, eventId=event["id"], body={"summary": "x"}).execute()
    notes = [(h["X-Goog-Channel-ID"], h["X-Goog-Resource-State"], h["X-Goog-Message-Number"],
              h.get("X-Goog-Channel-Token")) for _, h in google.pending_notifications]
    assert notes == [("with-token", "exists", "2", "t0k"), ("no-token", "exists", "2", None),
                     ("with-token", "exists", "3", "t0k"), ("no-token", "exists", "3", None)]

    google.pending_notifications.clear()
    calendar.channels().stop(body={"id": "no-token",
                                   "resourceId": google.channels["no-token"]["resource_id"]}).execute()
    google.user_delete_event(ALICE, event["id"])
    assert [h["X-Goog-Channel-ID"] for _, h in google.pending_notifications] == ["with-token"]


def test_expired_channels_stay_quiet(google, calendar):
    calendar.events().watch(calendarId=ALICE, body={
        "id": "short", "type": "web_hook", "address": HOOK, "params": {"ttl": "60"}}).execute()
    google.pending_notifications.clear()
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=2), tick=True):
        google.user_insert_event(ALICE, DAY, DAY + timedelta(hours=1))
    assert google.pending_notifications == []


def test_channels_stop_needs_the_matching_resource_id(google, calendar):
    channel = calendar.events().watch(calendarId=ALICE, body={
        "id": "channel-9", "type": "web_hook", "address": HOOK}).execute()
    for body in ({"id": "channel-9", "resourceId": "other"}, {"id": "nope", "resourceId": channel["resourceId"]}):
        with pytest.raises(HttpError) as error:
            calendar.channels().stop(body=body).execute()
        assert error.value.resp.status == 404
    calendar.channels().stop(body={"id": "channel-9", "resourceId": channel["resourceId"]}).execute()
    assert google.requests[-1].status == 204 and google.channels["channel-9"]["stopped"]
    with pytest.raises(HttpError):  # already stopped
        calendar.channels().stop(body={"id": "channel-9", "resourceId": channel["resourceId"]}).execute()


@pytest.fixture
def webhook():
    """A tiny HTTP endpoint recording the notifications POSTed to it."""
    received: list[dict] = []
    arrived = threading.Event()

    def app(environ, start_response):
        request = Request(environ)
        received.append({"method": request.method, "body": request.get_data(), **request.headers})
        arrived.set()
        return Response(status=200)(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received, arrived
    server.shutdown()
    server.server_close()
    thread.join()


def test_notifications_are_posted_only_when_delivered(google, calendar, webhook):
    address, received, arrived = webhook
    calendar.events().watch(calendarId=ALICE, body={
        "id": "live", "type": "web_hook", "address": address}).execute()
    assert received == [] and len(google.pending_notifications) == 1

    assert google.deliver_notifications() == 1
    assert received[0]["method"] == "POST" and received[0]["body"] == b""
    assert received[0]["X-Goog-Resource-State"] == "sync"

    arrived.clear()
    google.auto_deliver = True
    google.user_insert_event(ALICE, DAY, DAY + timedelta(hours=1))
    assert arrived.wait(5)
    assert received[1]["X-Goog-Resource-State"] == "exists" and google.failed_notifications == []


def test_undeliverable_notifications_are_recorded(google, calendar):
    with socket_nobody_listens_on() as address:
        calendar.events().watch(calendarId=ALICE, body={
            "id": "dead", "type": "web_hook", "address": address}).execute()
        assert google.deliver_notifications() == 1
    [(failed_address, headers, error)] = google.failed_notifications
    assert failed_address == address and headers["X-Goog-Channel-ID"] == "dead" and error


@contextmanager
def socket_nobody_listens_on():
    """An address whose port is bound but not listening, so connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


# -- faults and observation ------------------------------------------------------------------

def test_injected_failures_answer_google_errors_then_stop(google, calendar):
    google.fail_next(2, 503, path_contains="/events")
    assert calendar.calendarList().list().execute()["items"]  # not a matching path
    for _ in range(2):
        with pytest.raises(HttpError) as error:
            calendar.events().list(calendarId=ALICE).execute()
        assert error.value.resp.status == 503 and reason_of(error.value) == "backendError"
    assert calendar.events().list(calendarId=ALICE).execute()["items"] == []


def test_google_auth_retries_a_failing_token_endpoint(google, alice):
    google.fail_next(1, 500, path_contains="/token")
    refresh(alice)
    assert [r.status for r in google.requests if r.path == "/token"][-2:] == [500, 200]


def test_a_delay_longer_than_the_client_timeout_raises_timeout(google, alice):
    with calendar_service(google, alice, timeout=0.5) as service:
        google.delay_next(1, 3, path_contains="calendarList")
        with pytest.raises(TimeoutError):
            service.calendarList().list().execute()
        google.delay_next(1, 0.2)
        started = time.monotonic()
        assert service.calendarList().list().execute()["items"]
        assert time.monotonic() - started >= 0.2


def test_requests_are_recorded_and_counted(google, alice, calendar):
    assert google.count(path_contains="/token", method="POST") == 1  # the sign-in
    google.reset_requests()
    body = {"id": "booking77", **timed(DAY)}
    calendar.events().insert(calendarId=ALICE, body=body).execute()
    calendar.events().list(calendarId=ALICE, maxResults=5).execute()

    assert google.count() == 2 and google.count(path_contains="/events") == 2
    assert google.count(method="post") == 1 and google.count(method="GET", path_contains="/events") == 1
    insert, listing = google.requests
    assert (insert.method, insert.path, insert.body, insert.status) == (
        "POST", f"/calendar/v3/calendars/{ALICE}/events", body, 200)
    assert insert.headers["Authorization"] == f"Bearer {alice.token}"
    assert listing.query == {"alt": "json", "maxResults": "5"}
