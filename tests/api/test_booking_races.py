"""Races the database itself must settle, over real HTTP with real threads (one connection each):
a time and the buffer after it booked at once, and one request retried many times at once."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from api_helpers import post, run_threads
from sqlalchemy import func, select

from app.models import Booking

FAR = datetime(2031, 3, 3, 10, 0, tzinfo=timezone.utc)  # a Monday, UTC+0 in London


@pytest.fixture
def world(make_org, make_trainer, make_appointment_type, make_link):
    org = make_org(slug="gym", timezone="Europe/London")
    alex = make_trainer(org=org, name="Alex")
    pt = make_appointment_type(org=org, name="PT", duration_minutes=60, buffer_after_minutes=15,
                               booking_window_days=None)
    make_link([alex], [pt], slug="pt")
    return org, alex, pt


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_time_and_the_buffer_after_it_are_never_both_booked(live_server, db, world):
    """PT is 60 minutes with a 15-minute buffer after: 10:00 and 11:00 cannot both be booked. Twenty
    requests for each, released together, three times: each time exactly one of the two is booked."""
    for day in range(3):
        ten = FAR + timedelta(days=day)
        starts = [ten if i % 2 == 0 else ten + timedelta(hours=1) for i in range(40)]
        results = run_threads(40, lambda i: post(f"{live_server}/api/booking/create", {
            "link_slug": "pt", "start_time": iso(starts[i]), "attendee_name": f"Racer {i}",
            "attendee_email": f"racer{day}-{i}@example.com"}))
        codes = Counter(code for code, _ in results)
        assert codes == Counter({201: 1, 409: 39}), codes
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 3


def test_every_retry_of_one_request_gets_its_booking(live_server, db, world):
    """Ten copies of one request with one Idempotency-Key, released together, twenty times over: one
    201 and nine 200 replays of the same booking each time — never a 409."""
    for round_ in range(20):
        weekday = round_ // 3  # three rounds a weekday, at 10:00, 12:00 and 14:00
        start = FAR + timedelta(days=7 + weekday // 5 * 7 + weekday % 5, hours=2 * (round_ % 3))
        payload = {"link_slug": "pt", "start_time": iso(start), "attendee_name": "Jane Smith",
                   "attendee_email": f"jane{round_}@example.com"}
        results = run_threads(10, lambda i: post(f"{live_server}/api/booking/create", payload,
                                                 {"Idempotency-Key": f"jane-{round_}"}))
        codes = Counter(code for code, _ in results)
        assert codes == Counter({201: 1, 200: 9}), (round_, codes, [r for c, r in results if c >= 400][:1])
        assert len({answer["booking"]["id"] for _, answer in results}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 20
