"""Who a tool call acts for: an API key, a member of staff's assistant, the public booking assistant."""
from __future__ import annotations

import uuid

import pytest
from ai_helpers import MONDAY, book_body
from sqlalchemy import select

from app.agents import (
    ToolError,
    principal_for_key,
    principal_for_public,
    principal_for_staff,
    run_tool,
)
from app.models import Booking, BookingAudit


def fails(name, arguments, principal) -> ToolError:
    with pytest.raises(ToolError) as caught:
        run_tool(name, arguments, principal)
    return caught.value


def test_principal_for_key(gym, key):
    principal = principal_for_key(key[1])
    assert principal.organization_id == gym.org.id and principal.organization_slug == "atlas-fitness"
    assert principal.scopes == {"availability:read", "bookings:read", "bookings:write"}
    assert principal.actor.type == "ai" and principal.actor.id == str(key[0].id)
    assert principal.key_id == key[0].id and principal.manage_token_required is False
    assert principal_for_key("atlas_sk_nope") is None and principal_for_key("") is None


def test_owner_assistant_has_every_scope_and_is_audited_as_the_assistant(db, gym):
    principal = principal_for_staff(gym.owner)
    assert principal.scopes == {"availability:read", "bookings:read", "bookings:write"}
    payload = run_tool("book_slot", book_body(gym), principal)
    audit = db.session.scalars(select(BookingAudit).where(
        BookingAudit.booking_id == uuid.UUID(payload["booking"]["id"]))).one()
    assert (audit.actor_type, audit.actor_id) == ("ai", f"assistant:{gym.owner.id}")


def test_trainer_assistant_reads_only_their_own_bookings_and_changes_none(gym, make_booking):
    mine = make_booking(staff=gym.alex, attendee_name="Mine")
    theirs = make_booking(staff=gym.sam, attendee_name="Theirs")
    principal = principal_for_staff(gym.alex)
    listed = run_tool("get_bookings", {}, principal)
    assert [b["attendee"]["name"] for b in listed["bookings"]] == ["Mine"]
    assert run_tool("get_booking", {"bookingId": str(mine.id)}, principal)["booking"]["id"] == str(mine.id)
    assert fails("get_booking", {"bookingId": str(theirs.id)}, principal).status == 403
    assert fails("get_bookings", {"staffId": str(gym.sam.id)}, principal).status == 403
    error = fails("cancel_booking", {"bookingId": str(mine.id)}, principal)
    assert error.code == "insufficient_scope" and error.status == 403
    assert run_tool("find_availability", {"date": MONDAY}, principal)["slots"]


def test_public_assistant_books_and_changes_only_with_the_manage_token(db, gym):
    principal = principal_for_public(gym.org)
    assert principal.manage_token_required is True
    booked = run_tool("book_slot", book_body(gym), principal)
    token, booking_id = booked["manageToken"], booked["booking"]["id"]

    error = fails("cancel_booking", {"bookingId": booking_id}, principal)
    assert (error.code, error.status) == ("manage_token_required", 403)
    assert "confirmation email" in error.hint
    assert fails("get_bookings", {}, principal).code == "insufficient_scope"
    assert fails("get_booking", {"bookingId": booking_id}, principal).code == "insufficient_scope"

    assert run_tool("get_booking", {"manageToken": token}, principal)["booking"]["id"] == booking_id
    moved = run_tool("reschedule_booking", {"manageToken": token, "startTime": f"{MONDAY}T14:00:00Z"}, principal)
    assert moved["booking"]["startTime"] == f"{MONDAY}T14:00:00Z"
    # A token and an id that name different bookings: not found, nothing revealed.
    other = run_tool("book_slot", book_body(gym, attendeeEmail="b@example.com"), principal)
    error = fails("cancel_booking", {"manageToken": token, "bookingId": other["booking"]["id"]}, principal)
    assert error.code == "not_found"
    run_tool("cancel_booking", {"manageToken": token, "reason": "Moving away"}, principal)
    assert db.session.get(Booking, uuid.UUID(booking_id)).status == "cancelled"
    actors = {a.actor_id for a in db.session.scalars(select(BookingAudit))}
    assert actors == {f"public-assistant:{gym.org.id}"}


def test_public_assistant_of_another_gym_cannot_use_our_tokens(gym, rival):
    booked = run_tool("book_slot", book_body(gym), principal_for_public(gym.org))
    error = fails("get_booking", {"manageToken": booked["manageToken"]}, principal_for_public(rival))
    assert error.code == "not_found" and error.status == 404
