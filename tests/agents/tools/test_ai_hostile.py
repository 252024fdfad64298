"""Hostile input on POST /api/ai/booking: dates at the edge of the calendar and NUL characters are
field errors an agent can act on (the tools' error shape), never a server error."""
from __future__ import annotations

import pytest


def error_of(response) -> dict:
    assert response.status_code == 400, response.get_data(as_text=True)[:400]
    payload = response.get_json()
    assert payload["success"] is False
    return payload["error"]


@pytest.mark.parametrize("fields", [{"date": "0001-01-01"}, {"date": "9999-12-31"}, {"startDate": "9999-12-01"},
                                    {"startDate": "2030-01-01", "endDate": "9999-12-31"}])
def test_find_availability_at_the_edge_of_the_calendar(ai, fields):
    error = error_of(ai("find_availability", **fields))
    assert error["code"] == "invalid_request"
    assert set(error["fields"]) & {"date", "startDate", "endDate"}


@pytest.mark.parametrize("fields", [{"dateFrom": "0001-01-01"}, {"dateTo": "9999-12-31"}])
def test_get_bookings_at_the_edge_of_the_calendar(ai, fields):
    error = error_of(ai("get_bookings", **fields))
    assert set(error["fields"]) & {"dateFrom", "dateTo"}


@pytest.mark.parametrize("start", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_book_slot_at_the_edge_of_the_calendar(ai, gym, start):
    error = error_of(ai("book_slot", startTime=start, staffId=str(gym.alex.id), bookingLinkSlug="alex",
                        attendeeName="Ann", attendeeEmail="ann@example.com"))
    assert "startTime" in error["fields"]


def test_a_nul_character_in_an_argument_is_a_400(ai):
    response = ai("find_availability", bookingLinkSlug="al\x00ex")
    assert response.status_code == 400
