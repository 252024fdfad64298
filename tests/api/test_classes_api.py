"""GET /api/classes, POST /api/classes/book, and a class spot's token on /api/booking/manage: the
contract, the errors, and 200 concurrent bookings of one session over real HTTP."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from api_helpers import post, run_threads
from sqlalchemy import func, select

from app.models import ClassAudit, ClassBooking, ClassSession, Notification

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # a Sunday; London is UTC+0
MONDAY_SIX = datetime(2030, 1, 7, 18, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def frozen_now(request):
    if "live_server" in request.fixturenames:  # real threads: freeze nothing, book far ahead instead
        yield
        return
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def gym(make_org, make_user, make_class_type, make_class_session):
    """A London gym with Spin (3 places, Sam) on Monday 18:00 and Yoga (Kim) on Tuesday 07:00."""
    org = make_org(slug="gym", name="The Gym", timezone="Europe/London")
    sam = make_user(org=org, name="Sam Spin")
    kim = make_user(org=org, name="Kim Yoga")
    spin_type = make_class_type(org=org, name="Spin", capacity=3, location="Studio 1", price_pennies=800)
    yoga_type = make_class_type(org=org, name="Yoga", duration_minutes=60, capacity=10)
    spin = make_class_session(ctype=spin_type, instructor=sam, start=MONDAY_SIX)
    yoga = make_class_session(ctype=yoga_type, instructor=kim, start=datetime(2030, 1, 8, 7, 0, tzinfo=timezone.utc))
    return org, spin, yoga, sam, kim


def book(client, session, n=1, **overrides):
    values = {"session_id": str(session.id), "attendee_name": f"Person {n}",
              "attendee_email": f"person{n}@example.com"}
    values.update(overrides)
    return client.post("/api/classes/book", json=values)


# --- the timetable ------------------------------------------------------------------------------------

def test_lists_the_weeks_sessions_with_places_and_waitlists(client, gym):
    org, spin, yoga, sam, kim = gym
    for n in range(3):
        assert book(client, spin, n).status_code == 201
    assert book(client, spin, 9, join_waitlist=True).status_code == 201
    response = client.get("/api/classes", query_string={"org": "gym", "start_date": "2030-01-07",
                                                       "end_date": "2030-01-13"})
    assert response.status_code == 200
    data = response.get_json()
    assert data["success"] is True and data["timezone"] == "Europe/London"
    assert (data["start_date"], data["end_date"]) == ("2030-01-07", "2030-01-13")
    assert data["organization"] == {"slug": "gym", "name": "The Gym"}
    first, second = data["sessions"]
    assert first == {
        "id": str(spin.id), "class_type_id": str(spin.class_type_id), "name": "Spin", "description": None,
        "color": "#2563eb", "start": "2030-01-07T18:00:00Z", "end": "2030-01-07T18:45:00Z",
        "local_start": "2030-01-07T18:00:00+00:00", "local_end": "2030-01-07T18:45:00+00:00", "duration": 45,
        "instructor_id": str(sam.id), "instructor_name": "Sam Spin", "location": "Studio 1", "capacity": 3,
        "booked": 3, "spots_left": 0, "waitlist_length": 1, "status": "scheduled", "full": True,
        "waitlist_open": True, "bookable": True, "price_pennies": 800, "currency": "GBP"}
    assert second["id"] == str(yoga.id) and second["spots_left"] == 10 and second["waitlist_length"] == 0


def test_filters_and_local_times_in_the_zone_asked_for(client, gym):
    org, spin, yoga, sam, kim = gym
    query = {"org": "gym", "start_date": "2030-01-07", "timezone": "America/New_York"}
    only_yoga = client.get("/api/classes", query_string={**query, "class_type_id": str(yoga.class_type_id)})
    assert [s["id"] for s in only_yoga.get_json()["sessions"]] == [str(yoga.id)]
    by_sam = client.get("/api/classes", query_string={**query, "instructor_id": str(sam.id)}).get_json()
    assert [s["id"] for s in by_sam["sessions"]] == [str(spin.id)]
    assert by_sam["sessions"][0]["local_start"] == "2030-01-07T13:00:00-05:00"
    # Tuesday 07:00 in London is Tuesday 02:00 in New York: a range of Monday alone there leaves it out.
    monday = client.get("/api/classes", query_string={**query, "end_date": "2030-01-07"}).get_json()
    assert [s["id"] for s in monday["sessions"]] == [str(spin.id)]


def test_a_cancelled_session_is_listed_as_cancelled_and_not_bookable(client, db, gym):
    org, spin, yoga, sam, kim = gym
    from app.services import classes
    from app.services.bookings import Actor

    classes.cancel_session(org.id, yoga.id, actor=Actor("staff", id="x"), reason="Instructor ill")
    sessions = client.get("/api/classes", query_string={"org": "gym"}).get_json()["sessions"]
    cancelled = next(s for s in sessions if s["id"] == str(yoga.id))
    assert cancelled["status"] == "cancelled" and cancelled["bookable"] is False
    assert cancelled["waitlist_open"] is False
    refused = book(client, yoga)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "session_cancelled"


@pytest.mark.parametrize("query, field", [
    ({}, "org"),
    ({"org": "gym", "start_date": "2030-02-30"}, "start_date"),
    ({"org": "gym", "start_date": "2030-01-01", "end_date": "2030-06-01"}, "end_date"),
    ({"org": "gym", "start_date": "2030-01-09", "end_date": "2030-01-08"}, "end_date"),
    ({"org": "gym", "end_date": "2030-01-08"}, "start_date"),
    ({"org": "gym", "start_date": "9999-12-30"}, "start_date"),
    ({"org": "gym", "timezone": "London"}, "timezone"),
    ({"org": "gym", "class_type_id": "not-a-uuid"}, "class_type_id"),
    ({"org": "x" * 81}, "org"),
])
def test_bad_queries_are_400_naming_the_field(client, gym, query, field):
    response = client.get("/api/classes", query_string=query)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and field in error["fields"], error


def test_unknown_organization_is_404(client, gym):
    response = client.get("/api/classes", query_string={"org": "nope"})
    assert response.status_code == 404 and response.get_json()["success"] is False


def test_another_organizations_sessions_are_not_listed(client, gym, make_org, make_class_type, make_class_session):
    other = make_org(slug="other")
    make_class_session(ctype=make_class_type(org=other, name="Theirs"))
    names = [s["name"] for s in client.get("/api/classes", query_string={"org": "gym"}).get_json()["sessions"]]
    assert "Theirs" not in names and names == ["Spin", "Yoga"]


# --- booking a spot ------------------------------------------------------------------------------------

def test_book_returns_201_with_the_spot_and_manage_url(client, db, gym):
    org, spin, *_ = gym
    response = book(client, spin, attendee_phone="+44 7700 900123")
    assert response.status_code == 201
    data = response.get_json()
    booking = data["booking"]
    assert booking["kind"] == "class" and booking["status"] == "confirmed" and booking["waitlist_position"] is None
    assert booking["start"] == "2030-01-07T18:00:00Z" and booking["session"]["id"] == str(spin.id)
    assert booking["session"]["booked"] == 1 and booking["session"]["spots_left"] == 2
    assert booking["attendee"] == {"name": "Person 1", "email": "person1@example.com", "phone": "+447700900123"}
    assert data["manage_url"] == f"http://localhost/booking/manage/{data['manage_token']}"
    spot = db.session.scalars(select(ClassBooking)).one()
    assert str(spot.id) == booking["id"] and spot.source == "api"
    audit = db.session.scalars(select(ClassAudit).where(ClassAudit.class_booking_id == spot.id)).one()
    assert (audit.actor_type, audit.action) == ("attendee", "booked")
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.class_booking_id == spot.id)) >= 1


def test_a_full_class_is_409_class_full_unless_joining_the_waitlist(client, gym):
    org, spin, *_ = gym
    for n in range(3):
        book(client, spin, n)
    full = book(client, spin, 5)
    assert full.status_code == 409
    error = full.get_json()["error"]
    assert error["code"] == "class_full" and error["waitlist_open"] is True
    first = book(client, spin, 5, join_waitlist=True)
    second = book(client, spin, 6, join_waitlist=True)
    assert first.status_code == second.status_code == 201
    assert [r.get_json()["booking"]["status"] for r in (first, second)] == ["waitlisted", "waitlisted"]
    assert [r.get_json()["booking"]["waitlist_position"] for r in (first, second)] == [1, 2]


def test_the_same_person_twice_is_409_already_booked(client, gym):
    org, spin, *_ = gym
    assert book(client, spin).status_code == 201
    again = book(client, spin, attendee_email="PERSON1@example.com")
    error = again.get_json()["error"]
    assert again.status_code == 409 and error["code"] == "already_booked" and error["existing_status"] == "confirmed"


def test_a_started_session_is_409(client, gym):
    org, spin, *_ = gym
    with time_machine.travel(MONDAY_SIX + timedelta(minutes=1), tick=False):
        response = book(client, spin)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "session_started"


def test_unknown_session_is_404(client, gym):
    import uuid

    response = book(client, type("S", (), {"id": uuid.uuid4()}))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "session_not_found"


@pytest.mark.parametrize("overrides, field", [
    ({"session_id": "not-a-uuid"}, "session_id"),
    ({"attendee_name": ""}, "attendee_name"),
    ({"attendee_email": "x" * 300}, "attendee_email"),
    ({"attendee_email": "not an email"}, "attendee_email"),
    ({"attendee_phone": "12"}, "attendee_phone"),
    ({"join_waitlist": "true"}, "join_waitlist"),
    ({"join_waitlist": 1}, "join_waitlist"),
    ({"attendee_timezone": "Mars/Base"}, "attendee_timezone"),
    ({"surprise": True}, "surprise"),
])
def test_bad_bodies_are_400_naming_the_field(client, db, gym, overrides, field):
    org, spin, *_ = gym
    response = book(client, spin, **overrides)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and field in error["fields"], error
    assert db.session.scalar(select(func.count()).select_from(ClassBooking)) == 0


@pytest.mark.parametrize("payload", [[], "text", 42, None])
def test_a_body_that_is_not_an_object_is_400(client, gym, payload):
    response = client.post("/api/classes/book", json=payload)
    assert response.status_code == 400 and response.get_json()["error"]["fields"] == {"body": "expected a JSON object"}


def test_nul_bytes_and_huge_values_are_refused_not_500(client, gym):
    org, spin, *_ = gym
    assert book(client, spin, attendee_name="Nul\x00l").status_code == 400
    assert client.get("/api/classes", query_string={"org": "gym\x00"}).status_code == 400
    assert book(client, spin, session_id=str(10 ** 40)).status_code == 400


# --- the manage endpoints with a class spot's token --------------------------------------------------------

def test_manage_get_shows_the_spot_with_its_waitlist_position(client, gym):
    org, spin, *_ = gym
    for n in range(3):
        book(client, spin, n)
    token = book(client, spin, 7, join_waitlist=True).get_json()["manage_token"]
    response = client.get("/api/booking/manage", query_string={"token": token})
    assert response.status_code == 200
    data = response.get_json()
    assert data["kind"] == "class" and data["booking"]["kind"] == "class"
    assert data["booking"]["status"] == "waitlisted" and data["booking"]["waitlist_position"] == 1
    assert data["booking"]["session"]["name"] == "Spin" and data["booking"]["session"]["waitlist_length"] == 1
    assert data["can_cancel"] is True and data["can_reschedule"] is False
    assert data["can_cancel_until"] == "2030-01-07T18:00:00Z"
    assert data["late_cancel_from"] == "2030-01-07T06:00:00Z"  # the default 12-hour late-cancel window


def test_manage_delete_cancels_and_promotes_the_first_waiting(client, db, gym):
    org, spin, *_ = gym
    tokens = [book(client, spin, n).get_json()["manage_token"] for n in range(3)]
    waiting = [book(client, spin, n, join_waitlist=True).get_json()["manage_token"] for n in (10, 11)]
    response = client.delete("/api/booking/manage", json={"token": tokens[0], "reason": "Away"})
    assert response.status_code == 200
    data = response.get_json()
    assert data["kind"] == "class" and data["booking"]["status"] == "cancelled"
    assert data["booking"]["cancel_kind"] == "customer" and data["booking"]["cancellation_reason"] == "Away"
    first = client.get("/api/booking/manage", query_string={"token": waiting[0]}).get_json()["booking"]
    second = client.get("/api/booking/manage", query_string={"token": waiting[1]}).get_json()["booking"]
    assert (first["status"], first["waitlist_position"]) == ("confirmed", None)
    assert (second["status"], second["waitlist_position"]) == ("waitlisted", 1)
    db.session.expire_all()
    assert db.session.get(ClassSession, spin.id).booked_count == 3
    again = client.delete("/api/booking/manage", json={"token": tokens[0]})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "booking_cancelled"


def test_manage_delete_leaves_the_waitlist(client, db, gym):
    org, spin, *_ = gym
    for n in range(3):
        book(client, spin, n)
    token = book(client, spin, 20, join_waitlist=True).get_json()["manage_token"]
    later = book(client, spin, 21, join_waitlist=True).get_json()["manage_token"]
    response = client.delete("/api/booking/manage", query_string={"token": token})
    assert response.status_code == 200
    assert response.get_json()["booking"]["cancel_kind"] == "left_waitlist"
    assert client.get("/api/booking/manage", query_string={"token": later}).get_json()["booking"][
        "waitlist_position"] == 1
    db.session.expire_all()
    assert db.session.get(ClassSession, spin.id).booked_count == 3


def test_manage_put_refuses_to_move_a_class_spot(client, gym):
    org, spin, *_ = gym
    token = book(client, spin).get_json()["manage_token"]
    for body in ({"token": token, "start_time": "2030-01-08T18:00:00Z"}, {"token": token}):
        response = client.put("/api/booking/manage", json=body)
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "class_not_reschedulable"
    by_query = client.put(f"/api/booking/manage?token={token}", json={"start_time": "2030-01-08T18:00:00Z"})
    assert by_query.status_code == 409


def test_manage_with_a_wrong_token_is_still_404(client, gym):
    for call in (lambda: client.get("/api/booking/manage", query_string={"token": "nope"}),
                 lambda: client.delete("/api/booking/manage", json={"token": "nope"}),
                 lambda: client.put("/api/booking/manage", json={"token": "nope", "start_time": "2030-01-08T18:00:00Z"})):
        assert call().status_code == 404


def test_cancel_after_the_start_is_409(client, gym):
    org, spin, *_ = gym
    token = book(client, spin).get_json()["manage_token"]
    with time_machine.travel(MONDAY_SIX + timedelta(minutes=5), tick=False):
        got = client.get("/api/booking/manage", query_string={"token": token}).get_json()
        assert got["can_cancel"] is False
        response = client.delete("/api/booking/manage", json={"token": token})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "session_started"


def test_the_openapi_document_describes_both_endpoints(client):
    document = client.get("/api/openapi.json").get_json()
    listing = document["paths"]["/api/classes"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"org", "start_date", "end_date", "class_type_id",
                                                          "instructor_id", "timezone"}
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ClassesResponse")
    booking = document["paths"]["/api/classes/book"]["post"]
    body = document["components"]["schemas"][
        booking["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert body["properties"]["join_waitlist"]["type"] == "boolean"
    assert set(body["required"]) == {"session_id", "attendee_name", "attendee_email"}
    assert {"201", "400", "404", "409"} <= set(booking["responses"])
    manage = document["paths"]["/api/booking/manage"]["get"]["responses"]["200"]["content"]["application/json"]
    assert manage["schema"]["$ref"].endswith("/ManageAnswer")
    assert len(document["components"]["schemas"]["ManageAnswer"]["anyOf"]) == 2


def test_answers_fit_their_documented_shapes(client, gym):
    """The closed response models (app/api/shapes.py) accept what the views answer."""
    from app.api import shapes

    org, spin, *_ = gym
    created = book(client, spin)
    shapes.ClassBookingCreated.model_validate(created.get_json())
    shapes.ClassesResponse.model_validate(client.get("/api/classes", query_string={"org": "gym"}).get_json())
    token = created.get_json()["manage_token"]
    got = client.get("/api/booking/manage", query_string={"token": token}).get_json()
    assert isinstance(shapes.ManageAnswer.model_validate(got).root, shapes.ManagedClassBooking)
    gone = client.delete("/api/booking/manage", json={"token": token}).get_json()
    assert isinstance(shapes.ManageChangeAnswer.model_validate(gone).root, shapes.ClassBookingAnswer)


# --- the race ---------------------------------------------------------------------------------------------

def test_two_hundred_concurrent_bookings_of_twenty_places(live_server, db, make_org, make_class_type,
                                                           make_class_session):
    org = make_org(slug="race-gym")
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    session = make_class_session(ctype=make_class_type(org=org, capacity=20), start=start)
    answers = run_threads(200, lambda i: post(f"{live_server}/api/classes/book", {
        "session_id": str(session.id), "attendee_name": f"Racer {i}", "attendee_email": f"racer{i}@example.com",
        "join_waitlist": True}))
    codes = Counter(status for status, _ in answers)
    assert codes == Counter({201: 200}), (codes, [body for status, body in answers if status != 201][:3])
    bookings = [body["booking"] for _, body in answers]
    assert Counter(b["status"] for b in bookings) == Counter({"confirmed": 20, "waitlisted": 180})
    assert all(b["waitlist_position"] is None for b in bookings if b["status"] == "confirmed")
    assert sorted(b["waitlist_position"] for b in bookings if b["status"] == "waitlisted") == list(range(1, 181))
    db.session.expire_all()
    assert db.session.get(ClassSession, session.id).booked_count == 20
    rows = db.session.scalars(select(ClassBooking).where(ClassBooking.session_id == session.id)).all()
    assert Counter(r.status for r in rows) == Counter({"confirmed": 20, "waitlisted": 180})
    assert sorted(r.waitlist_seq for r in rows if r.status == "waitlisted") == list(range(1, 181))
