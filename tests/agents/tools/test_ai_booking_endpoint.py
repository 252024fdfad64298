"""POST /api/ai/booking: the spec's six actions with an API key, through the same booking services."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from ai_helpers import MONDAY, book_body, error_of
from sqlalchemy import select

from app.agents.tools import ACTIONS
from app.models import ApiKey, Booking, BookingAudit


def audit_rows(db, booking_id=None):
    query = select(BookingAudit).order_by(BookingAudit.created_at, BookingAudit.action)
    if booking_id:
        query = query.where(BookingAudit.booking_id == uuid.UUID(str(booking_id)))
    return list(db.session.scalars(query))


# --- find_availability ---------------------------------------------------------------------------------

def test_find_availability_with_the_spec_example(ai, gym):
    response = ai("find_availability", organizationSlug="atlas-fitness", date=MONDAY, duration=60, limit=10)
    assert response.status_code == 200
    data = response.get_json()
    assert data["success"] is True
    assert data["appointmentType"] == {"id": str(gym.pt.id), "name": "Personal Training", "duration": 60}
    # Personal Training is on the Alex + Sam team page: its times as that page offers them, each
    # start once with the trainer its round-robin rule picks (eight hours), not each trainer's own.
    assert len(data["slots"]) == 8 and data["truncated"] is False and data["totalSlots"] == 8
    first = data["slots"][0]
    assert first["startTime"] == f"{MONDAY}T09:00:00Z" and first["endTime"] == f"{MONDAY}T10:00:00Z"
    assert first["localStart"] == f"{MONDAY}T09:00:00+00:00"
    assert first["appointmentTypeId"] == str(gym.pt.id)
    # Each slot names the page it would be booked through.
    assert {slot["bookingLinkSlug"] for slot in data["slots"]} == {"team-pt"}
    # Asked for a trainer: that trainer's times, through their own page first.
    alex = ai("find_availability", date=MONDAY, duration=60, staffId=str(gym.alex.id)).get_json()
    assert {(slot["staffId"], slot["bookingLinkSlug"]) for slot in alex["slots"]} == {(str(gym.alex.id), "alex")}


def test_find_availability_for_one_trainer_and_service(ai, gym):
    data = ai("find_availability", date=MONDAY, staffId=str(gym.alex.id), appointmentTypeId=str(gym.consult.id),
              limit=100).get_json()
    assert {s["staffId"] for s in data["slots"]} == {str(gym.alex.id)}
    assert data["appointmentType"]["name"] == "Consultation"
    assert data["totalSlots"] == 16 and data["truncated"] is False  # 30-minute slots, 09:00–17:00
    assert {s["bookingLinkSlug"] for s in data["slots"]} == {"alex"}


def test_find_availability_on_a_booking_page_in_another_zone(ai, gym):
    data = ai("find_availability", bookingLinkSlug="team-pt", startDate=MONDAY, endDate="2030-01-08",
              timezone="America/New_York", limit=3).get_json()
    assert data["timezone"] == "America/New_York"
    assert data["slots"][0]["localStart"].endswith("-05:00")
    assert all(s["bookingLinkSlug"] == "team-pt" for s in data["slots"])


def test_find_availability_does_not_offer_times_nobody_can_book_online(ai, gym, make_trainer, make_appointment_type):
    # A trainer on no booking page: their hours are not offered (book_slot could not book them).
    make_trainer(org=gym.org, name="Off-page Olly", email="olly@atlas.example")
    data = ai("find_availability", date=MONDAY, duration=30, limit=100).get_json()  # Consultation: Alex's page
    assert data["slots"] and {s["staffName"] for s in data["slots"]} == {"Alex Trainer"}
    for staff_id in (str(gym.alex.id), str(gym.sam.id)):
        named = ai("find_availability", date=MONDAY, duration=60, staffId=staff_id, limit=100).get_json()
        assert named["slots"] and "Off-page Olly" not in {s["staffName"] for s in named["slots"]}


def test_find_availability_errors_name_the_field(ai, gym):
    error = error_of(ai("find_availability", date=MONDAY, duration=45))
    assert error["code"] == "invalid_request" and "duration" in error["fields"]
    assert "45" in error["message"]
    error = error_of(ai("find_availability", startDate="2030-01-10", endDate="2030-01-08"))
    assert error["fields"] == {"endDate": "must not be before startDate"}
    assert "endDate" in error["message"] and "end_date" not in error["message"]
    response = ai("find_availability", bookingLinkSlug="rival-pt")
    assert response.status_code == 404 and "bookingLinkSlug" in error_of(response)["fields"]


def test_find_availability_cannot_search_another_organizations_page(ai, gym, rival):
    response = ai("find_availability", bookingLinkSlug="rival-pt", date=MONDAY)
    assert response.status_code == 404
    assert "Rita" not in response.get_data(as_text=True)


# --- book_slot -------------------------------------------------------------------------------------------

def test_book_slot_with_the_spec_example_books_through_the_trainers_page(ai, db, gym, key):
    response = ai("book_slot", **book_body(gym))
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["success"] is True and data["bookingLinkSlug"] == "alex"
    booking = data["booking"]
    assert (booking["startTime"], booking["endTime"]) == (f"{MONDAY}T09:00:00Z", f"{MONDAY}T10:00:00Z")
    assert booking["staff"] == {"id": str(gym.alex.id), "name": "Alex Trainer"}
    assert booking["attendee"] == {"name": "John Smith", "email": "john@example.com", "phone": "+447700900123"}
    assert data["manageUrl"].endswith(data["manageToken"])
    row = db.session.get(Booking, uuid.UUID(booking["id"]))
    assert row.source == "ai" and row.booking_link_id == gym.alex_page.id
    [audit] = audit_rows(db, row.id)
    assert (audit.actor_type, audit.actor_id, audit.action) == ("ai", str(key[0].id), "created")
    assert audit.ip_address == "127.0.0.1"


def test_book_slot_for_sam_goes_through_the_team_page(ai, db, gym):
    data = ai("book_slot", **book_body(gym, staffId=str(gym.sam.id))).get_json()
    assert data["bookingLinkSlug"] == "team-pt" and data["booking"]["staff"]["name"] == "Sam Trainer"


def test_book_slot_with_an_explicit_page_and_no_trainer_is_assigned_one(ai, gym):
    body = book_body(gym, bookingLinkSlug="team-pt")
    del body["staffId"]
    data = ai("book_slot", **body).get_json()
    assert data["bookingLinkSlug"] == "team-pt"
    assert data["booking"]["staff"]["id"] in {str(gym.alex.id), str(gym.sam.id)}


def test_book_slot_without_a_page_for_the_trainer_and_service_is_a_clear_error(ai, gym):
    # Consultations are only on Alex's page: Sam can't be booked for one.
    response = ai("book_slot", **book_body(gym, staffId=str(gym.sam.id), appointmentTypeId=str(gym.consult.id),
                                           endTime=f"{MONDAY}T09:30:00Z"))
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "no_booking_link"
    assert "bookingLinkSlug" in error["hint"] and "dashboard" in error["hint"]
    assert {p["slug"] for p in error["bookingPages"]} == {"alex", "team-pt"}


def test_book_slot_needs_a_service_or_a_page(ai, gym):
    body = book_body(gym)
    del body["appointmentTypeId"]
    error = error_of(ai("book_slot", **body))
    assert error["code"] == "invalid_request" and "appointmentTypeId" in error["fields"]


def test_slot_taken_lists_the_nearest_alternatives(ai, gym):
    assert ai("book_slot", **book_body(gym)).status_code == 201
    response = ai("book_slot", **book_body(gym, attendeeEmail="late@example.com"))
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "slot_taken" and "alternatives" in error["hint"]
    alternatives = error["alternatives"]
    assert alternatives and alternatives[0]["startTime"] == f"{MONDAY}T10:00:00Z"
    assert all(a["staffId"] == str(gym.alex.id) and a["bookingLinkSlug"] == "alex" for a in alternatives)
    # An alternative can be booked as it is.
    retry = book_body(gym, startTime=alternatives[0]["startTime"], endTime=alternatives[0]["endTime"],
                      attendeeEmail="late@example.com")
    assert ai("book_slot", **retry).status_code == 201


def test_book_slot_refuses_a_wrong_end_time_and_a_bad_email(ai, gym):
    error = error_of(ai("book_slot", **book_body(gym, endTime=f"{MONDAY}T09:45:00Z")))
    assert error["fields"] == {"endTime": "must be startTime + 60 minutes"}
    error = error_of(ai("book_slot", **book_body(gym, attendeeEmail="not-an-email")))
    assert "attendeeEmail" in error["fields"]


def test_book_slot_with_an_idempotency_key_books_once(ai, db, gym):
    first = ai("book_slot", **book_body(gym, idempotencyKey="abc-1"))
    again = ai("book_slot", **book_body(gym, idempotencyKey="abc-1"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["idempotentReplay"] is True
    assert again.get_json()["booking"]["id"] == first.get_json()["booking"]["id"]
    assert db.session.scalar(select(Booking.id).where(Booking.idempotency_key == "abc-1")) is not None


# --- reschedule, cancel, get ------------------------------------------------------------------------------

@pytest.fixture
def booked(ai, gym):
    return ai("book_slot", **book_body(gym)).get_json()


def test_reschedule_cancel_and_get_are_audited_with_the_key(ai, db, gym, key, booked):
    booking_id = booked["booking"]["id"]
    moved = ai("reschedule_booking", bookingId=booking_id, startTime=f"{MONDAY}T13:00:00Z")
    assert moved.status_code == 200 and moved.get_json()["booking"]["startTime"] == f"{MONDAY}T13:00:00Z"
    got = ai("get_booking", bookingId=booking_id).get_json()
    assert got["booking"]["startTime"] == f"{MONDAY}T13:00:00Z"
    assert got["canChangeUntil"] == f"{MONDAY}T01:00:00Z" and got["canChangeOnline"] is True
    cancelled = ai("cancel_booking", bookingId=booking_id, reason="Injured")
    assert cancelled.get_json()["booking"]["status"] == "cancelled"
    assert cancelled.get_json()["booking"]["cancellationReason"] == "Injured"
    rows = audit_rows(db, booking_id)
    assert sorted(r.action for r in rows) == ["cancelled", "created", "rescheduled"]  # time is frozen: same instant
    assert {(r.actor_type, r.actor_id) for r in rows} == {("ai", str(key[0].id))}


def test_reschedule_to_a_taken_time_offers_alternatives(ai, gym, booked):
    ai("book_slot", **book_body(gym, startTime=f"{MONDAY}T11:00:00Z", endTime=f"{MONDAY}T12:00:00Z",
                                attendeeEmail="other@example.com"))
    error = error_of(ai("reschedule_booking", bookingId=booked["booking"]["id"], startTime=f"{MONDAY}T11:00:00Z"))
    assert error["code"] == "slot_taken" and error["alternatives"]
    assert f"{MONDAY}T11:00:00Z" not in {a["startTime"] for a in error["alternatives"]}


def test_outside_cutoff_carries_the_policy(ai, db, gym, booked):
    gym.org.cancellation_cutoff_minutes = 24 * 60
    db.session.commit()
    response = ai("cancel_booking", bookingId=booked["booking"]["id"])
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "outside_cutoff"
    assert error["cutoffMinutes"] == 1440 and "1 day" in error["policy"]  # said as the pages say it
    assert "contact the gym" in error["hint"]
    assert db.session.get(Booking, uuid.UUID(booked["booking"]["id"])).status == "confirmed"


def test_cancel_twice_and_move_a_cancelled_booking(ai, gym, booked):
    booking_id = booked["booking"]["id"]
    ai("cancel_booking", bookingId=booking_id)
    assert error_of(ai("cancel_booking", bookingId=booking_id))["code"] == "already_cancelled"
    error = error_of(ai("reschedule_booking", bookingId=booking_id, startTime=f"{MONDAY}T14:00:00Z"))
    assert error["code"] == "booking_cancelled" and "book_slot" in error["hint"]


def test_a_booking_can_be_named_by_its_manage_token(ai, booked):
    got = ai("get_booking", manageToken=booked["manageToken"])
    assert got.status_code == 200 and got.get_json()["booking"]["id"] == booked["booking"]["id"]


def test_booking_id_or_manage_token_is_required(ai, booked):
    error = error_of(ai("get_booking"))
    assert error["code"] == "invalid_request" and "bookingId" in error["fields"]
    assert "bookingId" in error["validFields"] and "manageToken" in error["validFields"]


def test_unknown_booking_is_404(ai, gym):
    response = ai("get_booking", bookingId="00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_get_bookings_lists_and_filters(ai, gym, booked, make_booking):
    ai("book_slot", **book_body(gym, staffId=str(gym.sam.id), attendeeName="Mary Major",
                                attendeeEmail="mary@example.com"))
    data = ai("get_bookings").get_json()
    assert data["total"] == 2 and {b["attendee"]["name"] for b in data["bookings"]} == {"John Smith", "Mary Major"}
    data = ai("get_bookings", staffId=str(gym.sam.id)).get_json()
    assert [b["attendee"]["name"] for b in data["bookings"]] == ["Mary Major"]
    data = ai("get_bookings", search="john", startDate=MONDAY, endDate=MONDAY).get_json()
    assert [b["id"] for b in data["bookings"]] == [booked["booking"]["id"]]
    assert ai("get_bookings", status="cancelled").get_json()["total"] == 0
    data = ai("get_bookings", limit=1, page=2).get_json()
    assert (data["total"], data["pages"], len(data["bookings"])) == (2, 2, 1)


# --- another organization, keys and scopes -------------------------------------------------------------------

def test_another_organizations_slug_is_refused(ai, gym, rival):
    response = ai("find_availability", organizationSlug="rival-gym", date=MONDAY)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "organization_mismatch" and error["organizationSlug"] == "atlas-fitness"
    assert "atlas-fitness" in error["hint"]


def test_another_organizations_key_cannot_touch_our_bookings(ai, db, gym, rival, make_key, booked):
    _, rival_token = make_key(rival)
    booking_id = booked["booking"]["id"]
    for action, fields in [("get_booking", {}), ("cancel_booking", {}),
                           ("reschedule_booking", {"startTime": f"{MONDAY}T14:00:00Z"})]:
        response = ai(action, token=rival_token, bookingId=booking_id, **fields)
        assert response.status_code == 404, (action, response.get_json())
        assert "John" not in response.get_data(as_text=True)
    assert error_of(ai("get_booking", token=rival_token, manageToken=booked["manageToken"]))["code"] == "not_found"
    assert ai("get_bookings", token=rival_token).get_json()["total"] == 0
    assert db.session.get(Booking, uuid.UUID(booking_id)).status == "confirmed"
    # …nor book through our pages.
    body = book_body(gym, startTime=f"{MONDAY}T15:00:00Z", endTime=f"{MONDAY}T16:00:00Z")
    del body["organizationSlug"]
    assert error_of(ai("book_slot", token=rival_token, **body))["code"] == "no_booking_link"
    assert error_of(ai("book_slot", token=rival_token, bookingLinkSlug="alex", **body))["code"] == "not_found"
    assert len(db.session.scalars(select(Booking.id)).all()) == 1


@pytest.mark.parametrize("action, fields, scope", [
    ("find_availability", {"date": MONDAY}, "availability:read"),
    ("book_slot", None, "bookings:write"),
    ("cancel_booking", {"bookingId": "00000000-0000-4000-8000-000000000000"}, "bookings:write"),
    ("reschedule_booking", {"bookingId": "00000000-0000-4000-8000-000000000000",
                            "startTime": f"{MONDAY}T14:00:00Z"}, "bookings:write"),
    ("get_booking", {"bookingId": "00000000-0000-4000-8000-000000000000"}, "bookings:read"),
    ("get_bookings", {}, "bookings:read"),
])
def test_each_action_needs_its_scope(ai, db, gym, make_key, action, fields, scope):
    others = [s for s in ("availability:read", "bookings:read", "bookings:write") if s != scope]
    _, token = make_key(gym.org, scopes=others)
    response = ai(action, token=token, **(fields if fields is not None else book_body(gym)))
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "insufficient_scope" and error["requiredScope"] == scope
    assert "API keys" in error["hint"]
    _, allowed = make_key(gym.org, scopes=[scope])
    assert ai(action, token=allowed, **(fields if fields is not None else book_body(gym))).status_code != 403


def test_no_key_is_a_401_with_a_hint(client, gym):
    response = client.post("/api/ai/booking", json={"action": "find_availability", "date": MONDAY})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    error = error_of(response)
    assert error["code"] == "api_key_required"
    assert "Authorization: Bearer" in error["hint"] and "/dashboard/api-keys" in error["hint"]


@pytest.mark.parametrize("header", ["Bearer atlas_sk_not-a-real-key", "Bearer nonsense", "Basic dXNlcjpwYXNz",
                                    "Bearer " + "x" * 5000])
def test_a_wrong_key_is_a_401(client, gym, header):
    response = client.post("/api/ai/booking", json={"action": "find_availability"},
                           headers={"Authorization": header})
    assert response.status_code == 401
    assert error_of(response)["code"] in ("invalid_api_key", "api_key_required")


def test_a_revoked_key_is_refused(ai, db, gym, key):
    from app.services import api_keys

    assert ai("find_availability", date=MONDAY).status_code == 200
    api_keys.revoke_api_key(gym.org.id, key[0].id)
    response = ai("find_availability", date=MONDAY)
    assert response.status_code == 401 and error_of(response)["code"] == "invalid_api_key"


def test_last_used_is_recorded(ai, db, key):
    assert key[0].last_used_at is None
    ai("find_availability", date=MONDAY)
    db.session.expire_all()
    assert db.session.get(ApiKey, key[0].id).last_used_at == datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)


# --- malformed requests: always a 400 that says what is wrong --------------------------------------------------

def test_unknown_action_lists_the_valid_ones(ai):
    response = ai("book_everything")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "unknown_action" and "book_everything" in error["message"]
    assert error["validActions"] == list(ACTIONS)
    assert "find_availability" in error["hint"]


def test_missing_field_is_named_with_the_valid_fields(ai, gym):
    body = book_body(gym)
    del body["attendeeEmail"]
    response = ai("book_slot", **body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["fields"] == {"attendeeEmail": "required"}
    assert "attendeeEmail" in error["message"]
    assert set(error["requiredFields"]) == {"startTime", "attendeeName", "attendeeEmail"}
    assert "staffId" in error["validFields"] and "attendeeEmail" in error["hint"]


@pytest.mark.parametrize("field, value", [
    ("duration", "sixty"), ("limit", 0), ("limit", 1000), ("date", "15/03/2024"), ("staffId", "alex"),
    ("staffId", 42), ("appointmentTypeId", ["x"]), ("timezone", {"zone": "UTC"}),
])
def test_mistyped_field_is_named(ai, gym, field, value):
    response = ai("find_availability", **{field: value})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request" and list(error["fields"]) == [field]
    assert field in error["message"]


def test_a_time_without_an_offset_is_refused(ai, gym):
    error = error_of(ai("book_slot", **book_body(gym, startTime=f"{MONDAY}T09:00:00")))
    assert list(error["fields"]) == ["startTime"] and "timezone" in error["fields"]["startTime"]


def test_unknown_and_snake_case_fields_are_refused(ai, gym):
    error = error_of(ai("find_availability", staff_id=str(gym.alex.id), colour="red"))
    assert error["fields"] == {"staff_id": "unknown field", "colour": "unknown field"}
    assert "staffId" in error["validFields"]


@pytest.mark.parametrize("data, content_type", [
    ("{not json", "application/json"),
    ("[1, 2]", "application/json"),
    ("null", "application/json"),
    ('"find_availability"', "application/json"),
    ("", "application/json"),
    ("action=find_availability", "application/x-www-form-urlencoded"),
])
def test_malformed_body_is_a_400_with_an_example(client, key, data, content_type):
    response = client.post("/api/ai/booking", data=data, content_type=content_type,
                           headers={"Authorization": f"Bearer {key[1]}"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_json"
    assert error["validActions"] == list(ACTIONS) and error["example"]["action"] == "find_availability"


@pytest.mark.parametrize("body", [{}, {"action": None}, {"action": ""}, {"action": 7}, {"action": ["book_slot"]},
                                  {"action": "find_availability", "limit": None},
                                  {"action": "get_bookings", "status": "maybe"},
                                  {"action": "book_slot", "startTime": "2030-13-45T99:00:00Z"},
                                  {"action": "find_availability", "timezone": "Mars/Olympus"},
                                  {"action": "find_availability", "startDate": "2030-01-07", "date": "2030-01-07"},
                                  {"action": "find_availability", "startDate": "2030-01-01", "endDate": "2030-12-31"},
                                  {"action": "reschedule_booking", "bookingId": "nope", "startTime": "soon"}])
def test_bad_input_is_never_a_500(client, key, gym, body):
    response = client.post("/api/ai/booking", json=body, headers={"Authorization": f"Bearer {key[1]}"})
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert error["message"] and error["hint"]
    assert "validActions" in error or "validFields" in error


def test_get_is_not_allowed(client):
    response = client.get("/api/ai/booking")
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"


def test_changes_after_the_cutoff_window_use_the_injected_time(db, gym, key, booked):
    """run_tool takes `now` (as the services do): the cutoff is checked against it."""
    from app.agents import ToolError, principal_for_key, run_tool

    principal = principal_for_key(key[1])
    late = datetime(2030, 1, 7, 8, 30, tzinfo=timezone.utc)
    with pytest.raises(ToolError) as caught:
        run_tool("cancel_booking", {"bookingId": booked["booking"]["id"]}, principal, now=late)
    assert caught.value.code == "outside_cutoff" and caught.value.status == 409
    early = late - timedelta(hours=12)
    payload = run_tool("cancel_booking", {"bookingId": booked["booking"]["id"]}, principal, now=early)
    assert payload["booking"]["status"] == "cancelled"


def test_nothing_bookable_online_is_a_clear_error(client, make_org, make_trainer, make_appointment_type, make_key):
    org = make_org(slug="no-pages")
    make_trainer(org=org)
    make_appointment_type(org=org)
    _, token = make_key(org)
    response = client.post("/api/ai/booking", json={"action": "find_availability", "date": MONDAY},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "no_booking_link" and "booking page" in error["hint"]


def test_a_service_only_booked_together_is_searched_and_booked_on_its_collective_page(
        ai, db, gym, make_appointment_type, make_link):
    duo = make_appointment_type(org=gym.org, name="Duo session", duration_minutes=60, booking_window_days=None)
    make_link([gym.alex, gym.sam], [duo], type="collective", slug="duo", name="Train with both")
    found = ai("find_availability", date=MONDAY, appointmentTypeId=str(duo.id)).get_json()
    slot = found["slots"][0]
    assert slot["bookingLinkSlug"] == "duo" and set(slot["staffIds"]) == {str(gym.alex.id), str(gym.sam.id)}
    booked = ai("book_slot", staffId=slot["staffId"], appointmentTypeId=slot["appointmentTypeId"],
                startTime=slot["startTime"], attendeeName="Pat Pair", attendeeEmail="pat@example.com")
    assert booked.status_code == 201 and booked.get_json()["bookingLinkSlug"] == "duo"
    rows = db.session.scalars(select(Booking).where(Booking.attendee_email == "pat@example.com")).all()
    assert {row.staff_id for row in rows} == {gym.alex.id, gym.sam.id}  # both trainers' time is held


def test_a_collective_slot_is_booked_as_offered_even_when_a_trainers_own_page_offers_the_service(
        ai, db, gym, make_link):
    """Alex's own page and the pair's page both offer Personal Training: the pair's slot, passed back
    with its staffIds, books both trainers — not Alex alone on his own page (issue 16, item 3)."""
    make_link([gym.alex, gym.sam], [gym.pt], type="collective", slug="duo", name="Train with both")
    slot = ai("find_availability", date=MONDAY, bookingLinkSlug="duo").get_json()["slots"][0]
    assert set(slot["staffIds"]) == {str(gym.alex.id), str(gym.sam.id)}
    booked = ai("book_slot", staffId=slot["staffId"], staffIds=slot["staffIds"], startTime=slot["startTime"],
                appointmentTypeId=slot["appointmentTypeId"], attendeeName="Pat Pair", attendeeEmail="pat@example.com")
    assert booked.status_code == 201 and booked.get_json()["bookingLinkSlug"] == "duo"
    rows = db.session.scalars(select(Booking).where(Booking.attendee_email == "pat@example.com")).all()
    assert {row.staff_id for row in rows} == {gym.alex.id, gym.sam.id}
    # A page that does not book those trainers together is refused, not used to book one of them.
    wrong = ai("book_slot", staffIds=slot["staffIds"], bookingLinkSlug="alex", startTime=slot["startTime"],
               appointmentTypeId=slot["appointmentTypeId"], attendeeName="Al One", attendeeEmail="al@example.com")
    assert wrong.status_code == 400 and "staffIds" in error_of(wrong)["fields"]
    stranger = ai("book_slot", staffId=str(gym.owner.id), staffIds=slot["staffIds"], startTime=slot["startTime"],
                  appointmentTypeId=slot["appointmentTypeId"], attendeeName="Al One", attendeeEmail="al@example.com")
    assert stranger.status_code == 400
    assert db.session.scalar(select(Booking.id).where(Booking.attendee_email == "al@example.com")) is None


def test_every_service_of_a_duration_is_searched_and_each_slot_names_its_service(ai, gym, make_appointment_type,
                                                                                 make_link):
    """Two 60-minute services: an agent asking for 60 minutes finds both, not only the first by
    name, and each slot says which it is (issue 16, item 4)."""
    mobility = make_appointment_type(org=gym.org, name="Mobility Clinic", duration_minutes=60,
                                     booking_window_days=None)
    make_link([gym.sam], [mobility], slug="sam-mobility", name="Mobility with Sam")
    found = ai("find_availability", date=MONDAY, duration=60, limit=100).get_json()
    services = {(s["appointmentTypeId"], s["appointmentTypeName"]) for s in found["slots"]}
    assert services == {(str(mobility.id), "Mobility Clinic"), (str(gym.pt.id), "Personal Training")}
    assert {t["name"] for t in found["appointmentTypes"]} == {"Mobility Clinic", "Personal Training"}
    starts = [s["startTime"] for s in found["slots"]]
    assert starts == sorted(starts)
    mobility_slot = next(s for s in found["slots"] if s["appointmentTypeId"] == str(mobility.id))
    assert mobility_slot["bookingLinkSlug"] == "sam-mobility" and mobility_slot["staffId"] == str(gym.sam.id)
    booked = ai("book_slot", staffId=mobility_slot["staffId"], appointmentTypeId=mobility_slot["appointmentTypeId"],
                startTime=mobility_slot["startTime"], attendeeName="Mo Bility", attendeeEmail="mo@example.com")
    assert booked.status_code == 201 and booked.get_json()["booking"]["appointmentType"]["name"] == "Mobility Clinic"


def test_list_services_names_every_bookable_service_with_its_trainers_and_pages(ai, gym, make_appointment_type):
    make_appointment_type(org=gym.org, name="Not online", duration_minutes=45)  # on no page: not listed
    answer = ai("list_services").get_json()
    assert answer["success"] is True
    by_name = {s["name"]: s for s in answer["services"]}
    assert list(by_name) == ["Consultation", "Personal Training"]
    pt = by_name["Personal Training"]
    assert pt["id"] == str(gym.pt.id) and pt["duration"] == 60
    assert {t["name"] for t in pt["trainers"]} == {"Alex Trainer", "Sam Trainer"}
    assert {p["slug"] for p in pt["bookingPages"]} == {"alex", "team-pt"}
    assert {t["name"]: sorted(t["serviceIds"]) for t in answer["trainers"]} == {
        "Alex Trainer": sorted([str(gym.pt.id), str(gym.consult.id)]), "Sam Trainer": [str(gym.pt.id)]}
    sams = ai("list_services", staffId=str(gym.sam.id)).get_json()
    assert [s["name"] for s in sams["services"]] == ["Personal Training"]
    # The not-found hint points to a listing that exists.
    missing = ai("get_booking", bookingId=str(uuid.uuid4()))
    assert missing.status_code == 404 and "list_services" in error_of(missing)["hint"]


def test_agents_booking_a_team_service_get_the_trainer_round_robin_picks(ai, db, gym):
    """Personal Training is on Alex's own page and on the Alex + Sam team page. Thirty agents each
    taking the first time offered used to all book Alex (his slots sort first); now the team page's
    fairness rule spreads them (issue 16, item 5). A customer who asks for a trainer still gets them."""
    for i in range(30):
        found = ai("find_availability", appointmentTypeId=str(gym.pt.id), startDate=MONDAY,
                   endDate="2030-01-18", limit=1).get_json()
        slot = found["slots"][0]
        assert slot["bookingLinkSlug"] == "team-pt"
        booked = ai("book_slot", staffId=slot["staffId"], staffIds=slot["staffIds"], startTime=slot["startTime"],
                    appointmentTypeId=slot["appointmentTypeId"], bookingLinkSlug=slot["bookingLinkSlug"],
                    attendeeName=f"Member {i}", attendeeEmail=f"member{i}@example.com")
        assert booked.status_code == 201, booked.get_json()
    counts = Counter(db.session.scalars(select(Booking.staff_id).where(Booking.status == "confirmed")))
    assert counts == {gym.alex.id: 15, gym.sam.id: 15}
    # Asked for Sam: Sam's times, booked with Sam.
    sams = ai("find_availability", appointmentTypeId=str(gym.pt.id), staffId=str(gym.sam.id), startDate=MONDAY,
              endDate="2030-01-18", limit=1).get_json()["slots"][0]
    assert sams["staffId"] == str(gym.sam.id)
    booked = ai("book_slot", staffId=sams["staffId"], startTime=sams["startTime"],
                appointmentTypeId=sams["appointmentTypeId"], bookingLinkSlug=sams["bookingLinkSlug"],
                attendeeName="Asked For Sam", attendeeEmail="sam-fan@example.com")
    assert booked.get_json()["booking"]["staff"]["id"] == str(gym.sam.id)
