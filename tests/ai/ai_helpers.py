"""Helpers shared by the AI tool tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import re
from datetime import datetime, timezone

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # a Sunday; Europe/London is UTC+0 in January
MONDAY = "2030-01-07"
ALL_SCOPES = ("availability:read", "bookings:read", "bookings:write")
PASSWORD = "correct horse battery"  # the factories' default


def book_body(gym, **overrides) -> dict:
    """book_slot's arguments for Alex's 09:00 Personal Training on Monday (the spec's example fields)."""
    values = {"organizationSlug": "atlas-fitness", "staffId": str(gym.alex.id),
              "appointmentTypeId": str(gym.pt.id), "startTime": f"{MONDAY}T09:00:00Z",
              "endTime": f"{MONDAY}T10:00:00Z", "attendeeName": "John Smith",
              "attendeeEmail": "john@example.com", "attendeePhone": "+44 7700 900123"}
    values.update(overrides)
    return values


def error_of(response) -> dict:
    body = response.get_json()
    assert body["success"] is False, body
    return body["error"]


def csrf_token(response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', response.get_data(as_text=True))
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


def signed_in(app, user):
    """A test client signed in as `user`, and its CSRF token."""
    client = app.test_client()
    token = csrf_token(client.get("/auth/login"))
    response = client.post("/auth/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return client, csrf_token(client.get("/dashboard/"))
