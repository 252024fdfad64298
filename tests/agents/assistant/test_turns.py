"""Each assistant turn is answered once (issue 16, item 7): the state the panel carries holds a turn
key, and the same state posted again with the same request — a double click, a resent form, a request
replayed within the day — is answered from what the first post did: no second booking, no second
model call."""
from __future__ import annotations

from datetime import datetime, timezone

from anthropic_standin import Fail, result_json, text, tool_results, tool_use
from assistant_helpers import HTMX, said, state_of
from assistant_helpers import text as body
from sqlalchemy import func, select

from app.models import AssistantTurn, Booking, BookingAudit


def post(client, url, token, message, state="", decision=None, headers=HTMX):
    data = {"csrf_token": token, "message": message, "state": state}
    if decision:
        data["decision"] = decision
    return client.post(url, data=data, headers=headers)


def book_request(alex, pt_type):
    return tool_use("book_slot", {"startTime": "2030-01-07T09:00:00Z", "staffId": str(alex.id),
                                  "appointmentTypeId": str(pt_type.id), "attendeeName": "Tom Client",
                                  "attendeeEmail": "tom@example.com"})


def test_yes_book_it_posted_twice_makes_one_booking(owner, signed_in, standin, link, alex, pt_type, db):
    staff, token = signed_in(owner)
    standin.script(text("Monday 9:00 is free with Alex. Shall I book Tom in?"), book_request(alex, pt_type),
                   lambda request: text("Booked: " + result_json(tool_results(request)[0])["booking"]["id"]))
    first = post(staff, "/dashboard/assistant", token, "Is Monday 9am free for Tom Client, tom@example.com?")
    state = state_of(first)

    # "Yes, book it", twice from the same page (a double click; the browser resending the form).
    asked = post(staff, "/dashboard/assistant", token, "Yes, book it", state=state)
    again = post(staff, "/dashboard/assistant", token, "Yes, book it", state=state)
    assert standin.calls == 2 and body(again) == body(asked)

    # Confirm, twice from the same state: one booking, one model call, the same answer both times.
    done = post(staff, "/dashboard/assistant", token, "", state=state_of(asked), decision="confirm")
    replay = post(staff, "/dashboard/assistant", token, "", state=state_of(asked), decision="confirm")
    assert standin.calls == 3
    assert said(replay) == said(done) and state_of(replay) == state_of(done)
    assert replay.headers["HX-Trigger"] == "bookingChanged"
    (booking,) = db.session.scalars(select(Booking)).all()
    assert said(done)[-1][1].endswith(f"Booked: {booking.id}")
    assert len(db.session.scalars(select(BookingAudit)).all()) == 1

    # Without JavaScript the same: the page again, from the stored answer.
    page = post(staff, "/dashboard/assistant", token, "", state=state_of(asked), decision="confirm", headers={})
    assert page.status_code == 200 and "<html" in body(page) and said(page)[-1] == said(done)[-1]
    assert standin.calls == 3 and db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_a_failed_answer_can_be_tried_again(owner, signed_in, standin, link):
    """A message the model could not answer did nothing: sending it again asks again."""
    staff, token = signed_in(owner)
    standin.script(text("Hello!"), Fail(500), text("Monday has 9:00 and 10:00."))
    state = state_of(post(staff, "/dashboard/assistant", token, "Hi"))
    failed = post(staff, "/dashboard/assistant", token, "Anything Monday?", state=state)
    assert "assistant-msg--failed" in body(failed)
    retried = post(staff, "/dashboard/assistant", token, "Anything Monday?", state=state)
    assert said(retried)[-1] == ("assistant", "Monday has 9:00 and 10:00.") and standin.calls == 3


def test_two_tabs_going_their_own_ways_are_two_turns(owner, signed_in, standin, link):
    staff, token = signed_in(owner)
    standin.script(text("Hello!"), text("Monday: 9:00."), text("Tuesday: 10:00."))
    state = state_of(post(staff, "/dashboard/assistant", token, "Hi"))
    monday = post(staff, "/dashboard/assistant", token, "Monday?", state=state)
    tuesday = post(staff, "/dashboard/assistant", token, "Tuesday?", state=state)
    assert said(monday)[-1][1] == "Monday: 9:00." and said(tuesday)[-1][1] == "Tuesday: 10:00."


def test_a_turn_being_answered_is_not_answered_twice(app, owner, signed_in, standin, link, db):
    """The same request arriving while the first is still being answered (a claim without an answer)
    is told so; a claim left by a process that died is taken over once it is clearly abandoned."""
    from app.agents import assistant, turns

    staff, token = signed_in(owner)
    standin.script(text("Hello!"), text("Taken over."))
    state = state_of(post(staff, "/dashboard/assistant", token, "Hi"))
    turn = assistant.decode_conversation(state, f"staff:{owner.id}").turn
    claim = turns.claim(owner.organization_id, f"staff:{owner.id}", turn, "message:Still there?")
    assert claim.key_hash and claim.answer is None and not claim.busy

    busy = post(staff, "/dashboard/assistant", token, "Still there?", state=state)
    assert said(busy)[-1] == ("notice", "That message is still being answered. Please wait a moment, then look again.")
    assert standin.calls == 1 and state_of(busy) == state

    row = db.session.get(AssistantTurn, claim.key_hash)
    row.created_at = datetime(2030, 1, 6, 11, 58, tzinfo=timezone.utc)  # two minutes before the frozen now
    db.session.commit()
    taken = post(staff, "/dashboard/assistant", token, "Still there?", state=state)
    assert said(taken)[-1] == ("assistant", "Taken over.") and standin.calls == 2


def test_turns_older_than_a_conversation_are_purged(app, owner, signed_in, standin, link, db):
    staff, token = signed_in(owner)
    db.session.add(AssistantTurn(key_hash="0" * 64, organization_id=owner.organization_id, answer={"state": ""},
                                 created_at=datetime(2030, 1, 5, 11, 0, tzinfo=timezone.utc)))  # 25 hours ago
    db.session.commit()
    standin.script(text("Hello!"), text("Again."))
    state = state_of(post(staff, "/dashboard/assistant", token, "Hi"))
    post(staff, "/dashboard/assistant", token, "Hi again", state=state)
    assert db.session.get(AssistantTurn, "0" * 64) is None
    assert db.session.scalar(select(func.count()).select_from(AssistantTurn)) == 1
