"""Helpers for the Google Calendar sync tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import requests

PASSWORD = "correct horse battery"  # the factories' default
LONDON = ZoneInfo("Europe/London")


def google_settings(standin) -> dict:
    """The app settings that point the portal at a running GoogleStandIn."""
    return {"GOOGLE_CLIENT_ID": standin.client_id, "GOOGLE_CLIENT_SECRET": standin.client_secret,
            "GOOGLE_API_ENDPOINT": standin.api_endpoint, "GOOGLE_OAUTH_AUTH_URI": standin.auth_uri,
            "GOOGLE_OAUTH_TOKEN_URI": standin.token_uri, "GOOGLE_OAUTH_REVOKE_URI": standin.revoke_uri}


def csrf_token(response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', response.get_data(as_text=True))
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


def sign_in(app, email: str, password: str = PASSWORD):
    """A test client signed in through the real sign-in form."""
    client = app.test_client()
    token = csrf_token(client.get("/auth/login"))
    response = client.post("/auth/login", data={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client


def next_weekday(weekday: int = 0, *, at_least_days: int = 7) -> date:
    """A date at least `at_least_days` ahead falling on `weekday` (Monday = 0), and away from DST changes."""
    day = datetime.now(timezone.utc).date() + timedelta(days=at_least_days)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def local(day: date, hh: int, mm: int = 0) -> datetime:
    """A wall-clock time in London, as aware UTC."""
    return datetime.combine(day, time(hh, mm), tzinfo=LONDON).astimezone(timezone.utc)


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def connect(app, client, google) -> None:
    """The whole consent round trip: our connect endpoint → the stand-in's consent screen → our callback."""
    start = client.get("/api/calendar/google/connect")
    assert start.status_code == 302, start.get_data(as_text=True)[:300]
    consent = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    assert consent.status_code == 302, consent.text[:300]
    back = urlsplit(consent.headers["Location"])
    assert back.path == "/api/calendar/google/callback"
    answer = client.get(f"{back.path}?{back.query}")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    assert answer.headers["Location"].endswith("/dashboard/calendar-sync")


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def slot_starts(client, link_slug: str, day: date) -> list[str]:
    response = client.get(f"/api/booking/availability?link={link_slug}&date={day.isoformat()}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return [slot["start"] for slot in response.get_json()["slots"]]


def deliver_to(client):
    """A `notify` for the stand-in that posts push notifications through the Flask test client."""
    def notify(address: str, headers: dict):
        return client.post(urlsplit(address).path, headers=headers)
    return notify
