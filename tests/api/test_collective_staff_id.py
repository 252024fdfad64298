"""On a collective booking page the JSON API books and shows everyone together, as the page and the
AI tools do: a `staff_id` naming one of its trainers changes nothing; one not on it is refused
(issue 16, item 2)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import time_machine
from sqlalchemy import select

from app.models import Booking

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def duo(make_org, make_trainer, make_appointment_type, make_link):
    """Ann works 09:00-13:00, Ben 11:00-17:00 on Mondays: together only 11:00-13:00."""
    org = make_org(slug="duo-gym", timezone="Europe/London")
    ann = make_trainer(org=org, name="Ann", email="ann@duo.example", hours={1: [("09:00", "13:00")]})
    ben = make_trainer(org=org, name="Ben", email="ben@duo.example", hours={1: [("11:00", "17:00")]})
    other = make_trainer(org=org, name="Cat", email="cat@duo.example")
    pt = make_appointment_type(org=org, name="Duo PT", duration_minutes=60, booking_window_days=None)
    make_link([ann, ben], [pt], type="collective", slug="duo")
    return ann, ben, other


def availability(client, **params):
    return client.get("/api/booking/availability", query_string={"link": "duo", "date": "2030-01-07", **params})


def test_availability_with_a_staff_id_is_still_everyones(client, duo):
    ann, ben, _ = duo
    together = availability(client).get_json()["slots"]
    assert [s["start"] for s in together] == ["2030-01-07T11:00:00Z", "2030-01-07T12:00:00Z"]
    for member in (ann, ben):
        named = availability(client, staff_id=str(member.id)).get_json()["slots"]
        assert named == together  # not Ann's 09:00 and 10:00 shown as the pair's


def test_a_staff_id_on_a_collective_page_books_everyone(client, db, duo):
    ann, ben, _ = duo
    response = client.post("/api/booking/create", json={
        "link_slug": "duo", "start_time": "2030-01-07T11:00:00Z", "attendee_name": "Jane Smith",
        "attendee_email": "jane@example.com", "staff_id": str(ann.id)})
    assert response.status_code == 201, response.get_json()
    rows = db.session.scalars(select(Booking).where(Booking.status == "confirmed")).all()
    assert {row.staff_id for row in rows} == {ann.id, ben.id} and len({row.group_id for row in rows}) == 1
    # A time only Ann has free is not the pair's, named or not.
    alone = client.post("/api/booking/create", json={
        "link_slug": "duo", "start_time": "2030-01-07T09:00:00Z", "attendee_name": "Joe Bloggs",
        "attendee_email": "joe@example.com", "staff_id": str(ann.id)})
    assert alone.status_code == 409 and alone.get_json()["error"]["code"] == "slot_taken"


def test_a_staff_id_not_on_the_page_is_refused(client, duo):
    _, _, other = duo
    for response in (availability(client, staff_id=str(other.id)), client.post("/api/booking/create", json={
            "link_slug": "duo", "start_time": "2030-01-07T11:00:00Z", "attendee_name": "Jane Smith",
            "attendee_email": "jane@example.com", "staff_id": str(other.id)})):
        assert response.status_code == 400 and "staff_id" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("value", [1893488400, 0, 1.5e9, True])
def test_a_numeric_start_time_is_a_clear_400_not_a_1970_clash(client, duo, value):
    """pydantic alone reads a number as a Unix time (a booking in 1970, answered 409 slot_taken):
    start_time and end_time are ISO 8601 text (issue 16, item 9)."""
    for field in ("start_time", "end_time"):
        body = {"link_slug": "duo", "start_time": "2030-01-07T11:00:00Z", "attendee_name": "Jane Smith",
                "attendee_email": "jane@example.com", field: value}
        response = client.post("/api/booking/create", json=body)
        assert response.status_code == 400, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "invalid_request" and field in error["fields"]
