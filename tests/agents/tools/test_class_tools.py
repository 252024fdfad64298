"""The class tools, find_classes and book_class: what they answer, the waitlist, scopes, the organization,
the audit and the action log — through POST /api/ai/booking, the MCP server and the assistant's
confirmation. Time is frozen on Sunday 2030-01-06 12:00 UTC (../conftest.py)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import anyio
import pytest
from ai_helpers import error_of
from mcp import Client
from sqlalchemy import func, select

from app.models import AiActionLog, ClassAudit, ClassBooking, ClassSession

MONDAY_SIX = datetime(2030, 1, 7, 18, 0, tzinfo=timezone.utc)


@pytest.fixture
def timetable(gym, make_class_type, make_class_session):
    """Spin with Alex on Monday 18:00 (2 places) and Yoga with Sam on Wednesday 07:00 (10 places)."""
    spin_type = make_class_type(org=gym.org, name="Spin", capacity=2, location="Studio 1")
    yoga_type = make_class_type(org=gym.org, name="Yoga", duration_minutes=60, capacity=10)
    spin = make_class_session(ctype=spin_type, instructor=gym.alex, start=MONDAY_SIX)
    yoga = make_class_session(ctype=yoga_type, instructor=gym.sam,
                              start=datetime(2030, 1, 9, 7, 0, tzinfo=timezone.utc))
    return spin, yoga


def spot(session, n=1, **overrides) -> dict:
    values = {"sessionId": str(session.id), "attendeeName": f"Person {n}", "attendeeEmail": f"person{n}@example.com"}
    values.update(overrides)
    return values


def test_find_classes_lists_sessions_to_come_with_places(ai, gym, timetable):
    spin, yoga = timetable
    response = ai("find_classes", startDate="2030-01-06", endDate="2030-01-12")
    assert response.status_code == 200
    data = response.get_json()
    assert data["success"] is True and data["timezone"] == "Europe/London" and data["totalClasses"] == 2
    assert [c["name"] for c in data["classTypes"]] == ["Spin", "Yoga"]
    first = data["classes"][0]
    assert first == {
        "sessionId": str(spin.id), "classTypeId": str(spin.class_type_id), "name": "Spin",
        "startTime": "2030-01-07T18:00:00Z", "endTime": "2030-01-07T18:45:00Z",
        "localStart": "2030-01-07T18:00:00+00:00", "localEnd": "2030-01-07T18:45:00+00:00", "duration": 45,
        "instructorId": str(gym.alex.id), "instructorName": "Alex Trainer", "location": "Studio 1",
        "status": "scheduled", "capacity": 2, "booked": 0, "spotsLeft": 2, "waitlistLength": 0, "full": False,
        "waitlistOpen": True, "bookable": True}
    assert data["classes"][1]["sessionId"] == str(yoga.id)


def test_find_classes_filters_by_class_instructor_and_dates(ai, gym, timetable):
    spin, yoga = timetable
    by_type = ai("find_classes", startDate="2030-01-06", classTypeId=str(yoga.class_type_id)).get_json()
    assert [c["sessionId"] for c in by_type["classes"]] == [str(yoga.id)]
    by_instructor = ai("find_classes", startDate="2030-01-06", instructorId=str(gym.alex.id)).get_json()
    assert [c["sessionId"] for c in by_instructor["classes"]] == [str(spin.id)]
    one_day = ai("find_classes", date="2030-01-09").get_json()
    assert [c["sessionId"] for c in one_day["classes"]] == [str(yoga.id)]
    limited = ai("find_classes", startDate="2030-01-06", limit=1).get_json()
    assert len(limited["classes"]) == 1 and limited["truncated"] is True and limited["totalClasses"] == 2
    none = ai("find_classes", date="2030-02-01").get_json()
    assert none["classes"] == [] and "hint" in none


def test_find_classes_refuses_a_bad_range_naming_the_field(ai, gym, timetable):
    too_long = ai("find_classes", startDate="2030-01-06", endDate="2030-06-06")
    assert too_long.status_code == 400 and "endDate" in error_of(too_long)["fields"]
    bad_zone = ai("find_classes", timezone="London")
    assert bad_zone.status_code == 400 and error_of(bad_zone)["suggestion"] == "Europe/London"


def test_find_classes_shows_only_the_keys_organization(ai, gym, timetable, rival, make_class_type, make_class_session):
    make_class_session(ctype=make_class_type(org=rival, name="Rival Spin"), start=MONDAY_SIX)
    names = [c["name"] for c in ai("find_classes", startDate="2030-01-06").get_json()["classes"]]
    assert "Rival Spin" not in names and names == ["Spin", "Yoga"]


def test_book_class_books_a_spot_audited_as_the_key(ai, db, gym, key, timetable):
    spin, _ = timetable
    response = ai("book_class", **spot(spin, attendeePhone="+44 7700 900123"))
    assert response.status_code == 201
    data = response.get_json()
    booking = data["classBooking"]
    assert booking["kind"] == "class" and booking["status"] == "confirmed" and booking["waitlistPosition"] is None
    assert booking["session"]["sessionId"] == str(spin.id) and booking["session"]["spotsLeft"] == 1
    assert booking["attendee"]["phone"] == "+447700900123"
    assert data["manageUrl"] == f"http://localhost/booking/manage/{data['manageToken']}"
    row = db.session.scalars(select(ClassBooking).where(ClassBooking.id == uuid.UUID(booking["id"]))).one()
    assert row.source == "ai"
    audit = db.session.scalars(select(ClassAudit).where(ClassAudit.class_booking_id == row.id)).one()
    assert (audit.actor_type, audit.actor_id, audit.action) == ("ai", str(key[0].id), "booked")
    db.session.expire_all()
    logged = db.session.scalars(select(AiActionLog).where(AiActionLog.action == "book_class")).one()
    assert (logged.outcome, logged.status, logged.api_key_id) == ("ok", 201, key[0].id)


def test_a_full_class_is_class_full_then_the_waitlist_on_request(ai, db, gym, timetable):
    spin, _ = timetable
    assert [ai("book_class", **spot(spin, n)).status_code for n in (1, 2)] == [201, 201]
    full = ai("book_class", **spot(spin, 3))
    assert full.status_code == 409
    error = error_of(full)
    assert error["code"] == "class_full" and error["waitlistOpen"] is True and "joinWaitlist" in error["hint"]
    waiting = ai("book_class", **spot(spin, 3, joinWaitlist=True))
    assert waiting.status_code == 201
    data = waiting.get_json()
    assert data["classBooking"]["status"] == "waitlisted" and data["classBooking"]["waitlistPosition"] == 1
    assert "number 1 on its waitlist" in data["message"]
    again = ai("book_class", **spot(spin, 3, joinWaitlist=True))
    assert again.status_code == 409
    assert error_of(again)["code"] == "already_booked" and error_of(again)["existingStatus"] == "waitlisted"
    db.session.expire_all()
    assert db.session.get(ClassSession, spin.id).booked_count == 2


@pytest.mark.parametrize("overrides, field", [
    ({"joinWaitlist": "true"}, "joinWaitlist"),
    ({"joinWaitlist": 1}, "joinWaitlist"),
    ({"sessionId": "spin-on-monday"}, "sessionId"),
    ({"attendeeEmail": None}, "attendeeEmail"),
    ({"session_id": "x"}, "session_id"),
])
def test_book_class_refuses_bad_arguments_naming_them(ai, db, gym, timetable, overrides, field):
    spin, _ = timetable
    response = ai("book_class", **spot(spin, **overrides))
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert db.session.scalar(select(func.count()).select_from(ClassBooking)) == 0


def test_another_organizations_session_is_not_found(ai, db, gym, rival, make_class_type, make_class_session):
    theirs = make_class_session(ctype=make_class_type(org=rival, name="Rival Spin"), start=MONDAY_SIX)
    response = ai("book_class", **spot(theirs))
    assert response.status_code == 404 and error_of(response)["code"] == "session_not_found"
    assert db.session.scalar(select(func.count()).select_from(ClassBooking)) == 0


def test_book_class_needs_the_write_scope(ai, db, gym, timetable, make_key):
    spin, _ = timetable
    _, reader = make_key(gym.org, scopes=("availability:read",), name="Reader")
    assert ai("find_classes", token=reader, startDate="2030-01-06").status_code == 200
    refused = ai("book_class", token=reader, **spot(spin))
    assert refused.status_code == 403 and error_of(refused)["requiredScope"] == "bookings:write"
    assert db.session.scalar(select(func.count()).select_from(ClassBooking)) == 0
    _, writer = make_key(gym.org, scopes=("bookings:write",), name="Writer")
    assert error_of(ai("find_classes", token=writer))["code"] == "insufficient_scope"


def test_the_tools_endpoint_lists_the_class_tools_with_their_scopes(client):
    data = client.get("/api/ai/tools").get_json()
    assert data["scopes"]["find_classes"] == "availability:read" and data["scopes"]["book_class"] == "bookings:write"
    book = next(t for t in data["tools"] if t["name"] == "book_class")
    assert book["input_schema"]["properties"]["joinWaitlist"] == {
        "type": "boolean", "default": False, "description": book["input_schema"]["properties"]["joinWaitlist"][
            "description"]}
    assert set(book["input_schema"]["required"]) == {"sessionId", "attendeeName", "attendeeEmail"}


def test_mcp_lists_and_runs_the_class_tools(app, db, gym, key, timetable):
    from app.agents.mcp import build_server

    spin, _ = timetable
    db.session.rollback()  # the tools run in worker threads with their own sessions
    server = build_server(app, key[1])

    async def work():
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            found = await client.call_tool("find_classes", {"startDate": "2030-01-06"})
            booked = await client.call_tool("book_class", {"sessionId": found.structured_content["classes"][0][
                "sessionId"], "attendeeName": "Mia Mcp", "attendeeEmail": "mia@example.com"})
            return tools, found, booked

    tools, found, booked = anyio.run(work)
    hints = {t.name: (t.annotations.read_only_hint, t.annotations.destructive_hint) for t in tools}
    assert hints["find_classes"] == (True, None) and hints["book_class"] == (False, False)
    assert found.is_error is False and booked.is_error is False
    assert booked.structured_content["classBooking"]["session"]["sessionId"] == str(spin.id)
    audit = db.session.scalars(select(ClassAudit).where(ClassAudit.action == "booked")).one()
    assert (audit.actor_type, audit.actor_id) == ("ai", str(key[0].id))


def test_the_assistant_describes_a_class_booking_for_confirmation(db, gym, timetable):
    """A book_class the assistant's model asks for is checked and described from the database, not run."""
    from app.agents.confirmations import describe_write
    from app.agents.dispatch import check_tool
    from app.agents.principals import principal_for_public

    spin, _ = timetable
    principal = principal_for_public(gym.org)

    def describe(arguments):
        return check_tool("book_class", arguments, principal,
                          describe=lambda name, args, who: describe_write(name, args, who, "Europe/London"))

    assert describe(spot(spin, 7)) == ("Book Person 7 (person7@example.com) into Spin with Alex Trainer on "
                                       "Monday 7 January 2030 at 18:00")
    for n in (1, 2):
        from app.services import classes
        from app.services.bookings import Actor

        classes.book_class(session_id=spin.id, attendee_name=f"P{n}", attendee_email=f"p{n}@example.com",
                           actor=Actor("attendee"))
    assert describe(spot(spin, 7, joinWaitlist=True)).startswith("Put Person 7 (person7@example.com) on the "
                                                                  "waitlist for Spin")
    assert db.session.scalar(select(func.count()).select_from(ClassBooking)) == 2  # nothing booked by describing
    db.session.expire_all()
    logged = db.session.scalars(select(AiActionLog).where(AiActionLog.action == "book_class")).all()
    assert {row.outcome for row in logged} == {"awaiting_confirmation"}


def test_the_assistant_may_not_describe_another_gyms_session(db, gym, rival, make_class_type, make_class_session):
    from app.agents.confirmations import describe_write
    from app.agents.dispatch import check_tool
    from app.agents.errors import ToolError
    from app.agents.principals import principal_for_public

    theirs = make_class_session(ctype=make_class_type(org=rival, name="Rival Spin"), start=MONDAY_SIX)
    with pytest.raises(ToolError) as refused:
        check_tool("book_class", spot(theirs), principal_for_public(gym.org),
                   describe=lambda name, args, who: describe_write(name, args, who, "Europe/London"))
    assert refused.value.code == "session_not_found" and refused.value.status == 404
