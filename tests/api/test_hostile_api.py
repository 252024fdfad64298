"""Hostile input on the JSON API, by class: every request gets a 4xx with the usual error shape —
never a 500, never a half-written booking. (NUL characters, dates at the edge of the calendar,
deeply nested JSON, oversized bodies, bodies of the wrong shape.)"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import time_machine
from sqlalchemy import func, select

from app.models import Booking

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)
ADMIN_KEY = "admin-key-for-tests-0123456789abcdef"


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def app_config(app_config):
    return dict(app_config, ADMIN_API_KEY=ADMIN_KEY)


def create_body(**overrides):
    return {"link_slug": "pt", "start_time": "2030-01-07T09:00:00Z", "attendee_name": "Jane Smith",
            "attendee_email": "jane@example.com", **overrides}


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    payload = response.get_json()
    assert payload["success"] is False and payload["error"]["code"] and payload["error"]["message"]
    return payload["error"]


def bookings(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Booking))


@pytest.mark.parametrize("path", [
    "/api/booking/availability?link=a%00b",
    "/api/booking/availability?link=pt&timezone=Europe/Lon%00don",
    "/api/booking/availability?link%00=pt",
    "/api/booking/manage?token=a%00b",
    "/api/notifications/unsubscribe/a%00b",
])
def test_a_nul_character_in_the_url_is_a_400(client, world, path):
    assert "NUL" in error_of(client.get(path), 400)["message"]


@pytest.mark.parametrize("field", ["link_slug", "attendee_name", "attendee_email", "description", "attendee_phone"])
def test_a_nul_character_in_a_json_string_is_a_400_and_books_nothing(client, db, world, field):
    response = client.post("/api/booking/create", json=create_body(**{field: "a\x00b"}))
    assert "NUL" in error_of(response, 400)["message"]
    assert bookings(db) == 0


def test_a_nul_character_in_a_json_key_or_a_header_is_a_400(client, db, world):
    error_of(client.post("/api/booking/create", json={**create_body(), "x\x00": 1}), 400)
    error_of(client.post("/api/booking/create", json=create_body(), headers={"Idempotency-Key": "k\x00"}), 400)
    assert bookings(db) == 0


@pytest.mark.parametrize("query", ["date=9999-12-31", "date=0001-01-01", "start_date=9999-12-31",
                                   "start_date=2099-12-30", "start_date=2030-01-01&end_date=9999-12-31"])
def test_availability_dates_outside_the_supported_range_are_field_errors(client, world, query):
    response = client.get(f"/api/booking/availability?link=pt&{query}")
    if query == "start_date=2099-12-30":  # inside: the default week is cut at the range's end
        assert response.status_code == 200
        return
    error = error_of(response, 400)
    assert set(error["fields"]) & {"date", "start_date", "end_date"}


@pytest.mark.parametrize("start", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00",
                                   "9999-12-31T23:59:59-05:00"])
def test_create_with_a_start_at_the_edge_of_the_calendar_is_a_field_error(client, db, world, start):
    error = error_of(client.post("/api/booking/create", json=create_body(start_time=start)), 400)
    assert "start_time" in error["fields"]
    assert bookings(db) == 0


def test_reschedule_to_the_edge_of_the_calendar_is_a_field_error(client, world):
    made = client.post("/api/booking/create", json=create_body()).get_json()
    token = made["manage_url"].rsplit("/", 1)[1]
    response = client.put("/api/booking/manage", json={"token": token, "start_time": "9999-12-31T23:00:00Z"})
    assert "start_time" in error_of(response, 400)["fields"]


@pytest.mark.parametrize("path,method", [("/api/booking/create", "post"), ("/api/booking/manage", "put"),
                                         ("/api/booking/manage", "delete"), ("/api/ai/booking", "post")])
def test_deeply_nested_json_is_a_400(client, world, path, method):
    nested = "[" * 1000 + "]" * 1000
    response = getattr(client, method)(path, data=nested, content_type="application/json")
    assert "nested" in error_of(response, 400)["message"]


def test_nesting_inside_strings_does_not_count(client, db, world):
    response = client.post("/api/booking/create", json=create_body(description="[" * 500 + "{" * 500))
    assert response.status_code == 201
    assert bookings(db) == 1


def test_an_oversized_body_is_a_413_with_the_error_shape(client, db, world, app):
    size = app.config["MAX_CONTENT_LENGTH"] + 1
    body = json.dumps(create_body(description="a" * size))
    error = error_of(client.post("/api/booking/create", data=body, content_type="application/json"), 413)
    assert error["code"] == "payload_too_large"
    assert bookings(db) == 0


@pytest.mark.parametrize("body", ["[1]", "1", "null", '"x"', "{\"limit\": 1e400}", "{\"limit\": \"nan\"}",
                                  "{\"limit\": 100000000000000000000}"])
def test_notifications_process_with_a_body_of_the_wrong_shape_is_a_400(client, body):
    response = client.post("/api/notifications/process", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert error_of(response, 400)["code"] == "invalid_request"
