"""Helpers shared by the AI tool tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

MONDAY = "2030-01-07"  # the first day with free times (time is frozen on the Sunday before)
ALL_SCOPES = ("availability:read", "bookings:read", "bookings:write")


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

