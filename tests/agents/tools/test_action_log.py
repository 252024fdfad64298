"""Every tool call an agent makes — read, change or refusal — is in the AI action log with its key,
and owners and admins see that log on the API keys page."""
from __future__ import annotations

import uuid

from ai_helpers import book_body
from sqlalchemy import select


def _log(db):
    from app.models import AiActionLog

    db.session.expire_all()
    return db.session.scalars(select(AiActionLog).order_by(AiActionLog.created_at, AiActionLog.action)).all()


def test_reads_changes_and_refusals_are_all_logged_with_the_key(db, gym, key, make_key, ai):
    row, _ = key
    assert ai("find_availability", date="2030-01-07", limit=3).status_code == 200
    booked = ai("book_slot", **book_body(gym))
    assert booked.status_code == 201
    booking_id = booked.get_json()["booking"]["id"]
    assert ai("book_slot", **book_body(gym)).status_code == 409  # the same time again: slot_taken
    _, read_only = make_key(gym.org, scopes=("availability:read",), name="Reader")
    assert ai("cancel_booking", token=read_only, bookingId=booking_id).status_code == 403

    entries = {(e.action, e.outcome): e for e in _log(db)}  # time is frozen: all share one timestamp
    assert len(_log(db)) == 4
    assert {k: e.status for k, e in entries.items()} == {
        ("find_availability", "ok"): 200, ("book_slot", "ok"): 201, ("book_slot", "slot_taken"): 409,
        ("cancel_booking", "insufficient_scope"): 403}
    read = entries["find_availability", "ok"]
    assert read.api_key_id == row.id and read.actor_id == str(row.id)
    assert entries["book_slot", "ok"].booking_id == uuid.UUID(booking_id)
    refused = entries["cancel_booking", "insufficient_scope"]
    assert refused.api_key_id != row.id and refused.booking_id == uuid.UUID(booking_id)
    assert all(e.organization_id == gym.org.id for e in entries.values())


def test_logging_does_not_raise_the_schedule_version(db, gym, ai):
    from app.models import Organization

    db.session.expire_all()
    before = db.session.get(Organization, gym.org.id).schedule_version
    ai("find_availability", date="2030-01-07", limit=1)
    db.session.expire_all()
    assert db.session.get(Organization, gym.org.id).schedule_version == before


def test_the_api_keys_page_shows_what_agents_did(signed_in, db, gym, ai, rival, make_key):
    ai("find_availability", date="2030-01-07", limit=1)
    _, rival_token = make_key(rival, name="Rival bot")
    ai("find_availability", token=rival_token, date="2030-01-07", limit=1)
    client, _ = signed_in(gym.owner)
    page = client.get("/dashboard/api-keys").get_data(as_text=True)
    assert "What agents did" in page and "find_availability" in page and "Claude" in page
    assert "Rival bot" not in page  # another organization's activity is not shown
