"""POST /api/booking/create and /api/booking/manage: the spec's contract, errors, limits, races."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from api_helpers import post, run_threads
from sqlalchemy import func, select

from app.models import Booking, BookingAudit

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def frozen_now(request):
    if "live_server" in request.fixturenames:  # real threads: freeze nothing, book far ahead instead
        yield
        return
    with time_machine.travel(NOW, tick=False):
        yield


def body(**overrides):
    values = {"link_slug": "pt", "start_time": "2030-01-07T09:00:00Z", "end_time": "2030-01-07T10:00:00Z",
              "attendee_name": "Jane Smith", "attendee_email": "jane@example.com",
              "attendee_phone": "+44 7700 900123", "description": "Initial consultation",
              "location_details": "Main gym floor"}
    values.update(overrides)
    return values


def test_create_returns_201_with_booking_and_manage_url(client, world):
    _, alex, pt = world
    response = client.post("/api/booking/create", json=body())
    assert response.status_code == 201
    data = response.get_json()
    assert data["success"] is True
    booking = data["booking"]
    assert booking["status"] == "confirmed"
    assert (booking["start"], booking["end"]) == ("2030-01-07T09:00:00Z", "2030-01-07T10:00:00Z")
    assert booking["staff"] == {"id": str(alex.id), "name": "Alex"}
    assert booking["appointment_type"]["id"] == str(pt.id)
    assert booking["attendee"] == {"name": "Jane Smith", "email": "jane@example.com", "phone": "+447700900123"}
    assert data["manage_url"] == f"http://localhost/booking/manage/{data['manage_token']}"


def test_manage_get_put_delete(client, db, world):
    token = client.post("/api/booking/create", json=body()).get_json()["manage_token"]
    got = client.get("/api/booking/manage", query_string={"token": token})
    assert got.status_code == 200 and got.get_json()["booking"]["status"] == "confirmed"
    moved = client.put("/api/booking/manage", json={"token": token, "start_time": "2030-01-07T13:00:00Z"})
    assert moved.status_code == 200 and moved.get_json()["booking"]["start"] == "2030-01-07T13:00:00Z"
    cancelled = client.delete("/api/booking/manage", json={"token": token, "reason": "Away"})
    assert cancelled.status_code == 200
    assert cancelled.get_json()["booking"]["status"] == "cancelled"
    again = client.put("/api/booking/manage", json={"token": token, "start_time": "2030-01-07T14:00:00Z"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "booking_cancelled"
    actions = [a.action for a in db.session.scalars(select(BookingAudit).order_by(BookingAudit.created_at))]
    assert actions == ["created", "rescheduled", "cancelled"]


def test_cutoff_is_a_clear_409(client, db, world):
    org, _, _ = world
    token = client.post("/api/booking/create", json=body()).get_json()["manage_token"]
    with time_machine.travel(datetime(2030, 1, 7, 0, 0, tzinfo=timezone.utc), tick=False):
        response = client.delete("/api/booking/manage", json={"token": token})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "outside_cutoff" and "12 hours" in error["message"]


def test_taken_slot_is_409_with_alternatives(client, world):
    assert client.post("/api/booking/create", json=body()).status_code == 201
    response = client.post("/api/booking/create", json=body(attendee_email="b@example.com"))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "slot_taken" and error["message"]
    assert error["alternatives"][0]["start"] == "2030-01-07T10:00:00Z"


def test_idempotency_key_header(client, db, world):
    first = client.post("/api/booking/create", json=body(), headers={"Idempotency-Key": "retry-1"})
    second = client.post("/api/booking/create", json=body(), headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == 201 and second.status_code == 200
    assert second.get_json()["booking"]["id"] == first.get_json()["booking"]["id"]
    assert second.get_json()["idempotent_replay"] is True
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (body(attendee_email="nope"), "attendee_email"),
        (body(attendee_phone="call me"), "attendee_phone"),
        (body(attendee_name=""), "attendee_name"),
        (body(start_time="yesterday"), "start_time"),
        (body(start_time="2030-01-07T09:00:00"), "start_time"),
        (body(end_time="2030-01-07T09:30:00Z"), "end_time"),
        (body(staff_id="nope"), "staff_id"),
        (body(surprise="field"), "surprise"),
        ({k: v for k, v in body().items() if k != "link_slug"}, "link_slug"),
    ],
)
def test_field_named_errors(client, db, world, payload, field):
    response = client.post("/api/booking/create", json=payload)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and field in error["fields"]
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


@pytest.mark.parametrize("raw", ["", "not json", "[1, 2]", "null"])
def test_malformed_bodies_are_400(client, world, raw):
    response = client.post("/api/booking/create", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["success"] is False


def test_unknown_link_404_and_bad_token_404(client, world):
    assert client.post("/api/booking/create", json=body(link_slug="nope")).status_code == 404
    assert client.get("/api/booking/manage", query_string={"token": "forged"}).status_code == 404
    assert client.get("/api/booking/manage").status_code == 400
    assert client.delete("/api/booking/manage", json={"token": "forged"}).status_code == 404


@pytest.fixture
def limited_config(app_config):
    return dict(app_config, RATELIMIT_ENABLED=True, RATELIMIT_BOOKING_CREATE="2/minute")


def test_rate_limit_is_429_with_retry_after(make_app, limited_config, world):
    app = make_app(limited_config)
    client = app.test_client()
    codes = [client.post("/api/booking/create", json=body(link_slug="nope")).status_code for _ in range(3)]
    assert codes == [404, 404, 429]
    response = client.post("/api/booking/create", json=body(link_slug="nope"))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"]["code"] == "rate_limited"


# --- races over real HTTP --------------------------------------------------------------------

FAR = datetime(2031, 3, 3, 9, 0, tzinfo=timezone.utc)  # a Monday, UTC+0 in London


def post_json(url: str, payload: dict) -> int:
    return post(url, payload)[0]


def test_fifty_clients_race_for_one_slot(live_server, db, world):
    start = FAR.strftime("%Y-%m-%dT%H:%M:%SZ")
    codes = run_threads(50, lambda i: post_json(
        f"{live_server}/api/booking/create",
        body(start_time=start, end_time=None, attendee_email=f"racer{i}@example.com")))
    assert Counter(codes) == Counter({201: 1, 409: 49}), Counter(codes)
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_two_hundred_requests_over_twenty_slots(live_server, db, world):
    slots = [FAR + timedelta(days=day, hours=hour) for day in range(4) for hour in range(5)]  # Mon–Thu 9–13
    codes = run_threads(200, lambda i: post_json(
        f"{live_server}/api/booking/create",
        body(start_time=slots[i % 20].strftime("%Y-%m-%dT%H:%M:%SZ"), end_time=None,
             attendee_email=f"member{i}@example.com")))
    assert all(code in (201, 409) for code in codes), Counter(codes)
    assert codes.count(201) == 20
    db.session.expire_all()
    bookings = db.session.scalars(select(Booking).order_by(Booking.start_at)).all()
    assert len(bookings) == 20
    assert all(a.end_at <= b.start_at for a, b in zip(bookings, bookings[1:]))


def test_rate_limits_are_kept_in_redis_when_configured(make_app, limited_config, world):
    """With REDIS_URL set the counters live in Redis, so every worker process shares one budget."""
    import redis

    url = "redis://127.0.0.1:6379/15"
    store = redis.Redis.from_url(url)
    try:
        store.flushdb()
    except redis.ConnectionError:
        pytest.fail("Redis at 127.0.0.1:6379 is not reachable (CI starts it; see .ci/run)")
    client = make_app(dict(limited_config, REDIS_URL=url, RATELIMIT_STORAGE_URI=url)).test_client()
    codes = [client.post("/api/booking/create", json=body(link_slug="nope")).status_code for _ in range(3)]
    assert codes == [404, 404, 429]
    keys = [key.decode() for key in store.keys("*")]
    assert any("booking/create" in key or "create" in key for key in keys), keys
    store.flushdb()


def test_reschedule_accepts_the_end_time_as_create_does(client, world):
    """A client that mirrors the create body sends end_time when it moves a booking too: checked
    against the duration, as on create."""
    token = client.post("/api/booking/create", json=body()).get_json()["manage_token"]
    wrong = client.put("/api/booking/manage", json={"token": token, "start_time": "2030-01-07T13:00:00Z",
                                                    "end_time": "2030-01-07T13:30:00Z"})
    assert wrong.status_code == 400 and "end_time" in wrong.get_json()["error"]["fields"]
    moved = client.put("/api/booking/manage", json={"token": token, "start_time": "2030-01-07T13:00:00Z",
                                                    "end_time": "2030-01-07T14:00:00Z"})
    assert moved.status_code == 200
    assert moved.get_json()["booking"]["end"] == "2030-01-07T14:00:00Z"
