"""converse(): the tool-use loop against the Messages API stand-in, through the real anthropic SDK."""
from __future__ import annotations

import json
import socket
import time

import pytest
from anthropic_standin import Fail, Stall, result_json, text, tool_results, tool_use
from assistant_helpers import MONDAY_9
from sqlalchemy import select

from app.agents import (
    ACTIONS,
    assistant,
    principal_for_public,
    principal_for_staff,
    tool_definitions,
)
from app.models import Booking, BookingAudit


def person(words: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": words}]}]


@pytest.fixture
def context(org, link, pt_type, alex):
    return {
        "organization": {"name": org.name, "slug": org.slug, "timezone": org.timezone},
        "timezone": org.timezone,
        "booking_page": {"slug": link.slug, "name": link.name, "type": link.type, "url": "http://localhost/book/pt",
                         "services": [{"id": str(pt_type.id), "name": pt_type.name, "duration": 60, "price": "£50.00"}],
                         "trainers": [{"id": str(alex.id), "name": alex.name}]},
        "fallback": ", or choose a time with the calendar on this page",
    }


def audits(db, booking_id) -> list[BookingAudit]:
    return db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking_id)
                              .order_by(BookingAudit.created_at)).all()


def test_books_a_slot_found_with_find_availability(standin, org, link, alex, pt_type, context, db):
    """The model finds times, books the first one with the ids it was given, then says so."""
    seen = {}

    def book_first_slot(request):
        (result,) = tool_results(request)
        assert "is_error" not in result
        slot = result_json(result)["slots"][0]
        seen["slot"] = slot
        return tool_use("book_slot", {"startTime": slot["startTime"], "staffId": slot["staffId"],
                                      "appointmentTypeId": slot["appointmentTypeId"],
                                      "bookingLinkSlug": slot["bookingLinkSlug"],
                                      "attendeeName": "Jane Smith", "attendeeEmail": "jane@example.com"})

    def confirm(request):
        (result,) = tool_results(request)
        booking = result_json(result)["booking"]
        seen["booking"] = booking
        return text(f"You're booked: Personal Training on Monday 7 January at 09:00 with Alex. "
                    f"To change it: {result_json(result)['manageUrl']}")

    standin.script(tool_use("find_availability", {"date": "2030-01-07", "bookingLinkSlug": "pt"},
                            say="Let me look at Monday."),
                   book_first_slot, confirm)
    reply = assistant.converse(person("Yes please — book me in for 9am Monday. Jane Smith, jane@example.com"),
                               principal_for_public(org), context=context)

    assert reply.ok and reply.error is None
    assert reply.text.startswith("You're booked: Personal Training on Monday 7 January at 09:00")
    assert [(c.name, c.ok) for c in reply.tool_calls] == [("find_availability", True), ("book_slot", True)]
    assert reply.changed_bookings
    # What was sent: the configured model, the six tools as ai_tools defines them, a system prompt
    # that knows the gym, the page and the date.
    first = standin.requests[0]
    assert first["model"] == "claude-sonnet-5-5" and first["max_tokens"] == assistant.MAX_TOKENS
    assert first["tools"] == tool_definitions() and [t["name"] for t in first["tools"]] == list(ACTIONS)
    for fact in ("Atlas Fitness", "'atlas'", "'pt'", "Personal Training", str(pt_type.id), str(alex.id),
                 "Alex Morgan", "Sunday 6 January 2030", "2030-01-06", "Europe/London", "confirm"):
        assert fact in first["system"], fact
    sent = standin.headers[0]  # the SDK sends the key as x-api-key or (2.x) a bearer token
    assert "sk-ant-test-key" in (sent.get("X-Api-Key"), sent.get("Authorization", "").removeprefix("Bearer "))
    # The booking exists, at the slot the tool offered, audited as the page's AI assistant.
    assert seen["slot"]["startTime"] == "2030-01-07T09:00:00Z"
    booking = db.session.scalars(select(Booking).where(Booking.attendee_email == "jane@example.com")).one()
    assert booking.start_at == MONDAY_9 and booking.staff_id == alex.id and booking.status == "confirmed"
    assert seen["booking"]["id"] == str(booking.id)
    (audit,) = audits(db, booking.id)
    assert (audit.actor_type, audit.actor_id, audit.action) == ("ai", f"public-assistant:{org.id}", "created")
    # The conversation to carry: the person, the tool round trips, the answer — and valid as it is.
    roles = [m["role"] for m in reply.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert assistant.validate_conversation(json.loads(json.dumps(reply.messages)))


def test_public_assistant_cannot_cancel_without_the_manage_token(standin, org, link, booked, context, db):
    """The refusal goes back to the model as an error result (is_error) it can explain; nothing changes."""
    booking, token = booked()
    answered = {}

    def explain(request):
        (result,) = tool_results(request)
        answered["result"] = result
        return text("I can only cancel with the link from your confirmation email. Could you paste it?")

    standin.script(tool_use("cancel_booking", {"bookingId": str(booking.id)}), explain)
    reply = assistant.converse(person("Cancel my booking " + str(booking.id)), principal_for_public(org),
                               context=context)

    result = answered["result"]
    assert result["is_error"] is True
    error = result_json(result)
    assert error["success"] is False and error["error"]["code"] == "manage_token_required"
    assert reply.ok and reply.text.startswith("I can only cancel with the link")
    assert [(c.name, c.ok, c.error_code) for c in reply.tool_calls] == [("cancel_booking", False,
                                                                          "manage_token_required")]
    assert not reply.changed_bookings
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "confirmed"
    assert [a.action for a in audits(db, booking.id)] == ["created"]


def test_public_assistant_cancels_with_the_manage_token(standin, org, link, booked, context, db):
    booking, token = booked()
    standin.script(tool_use("cancel_booking", {"manageToken": token, "reason": "Away that week"}),
                   lambda request: text("Done — it's cancelled.") if "is_error" not in tool_results(request)[0]
                   else text("failed"))
    reply = assistant.converse(person(f"Please cancel http://localhost/booking/manage/{token} — yes, I'm sure"),
                               principal_for_public(org), context=context)

    assert reply.text == "Done — it's cancelled." and reply.changed_bookings
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "cancelled"
    assert [(a.actor_type, a.actor_id, a.action) for a in audits(db, booking.id)][-1] == \
        ("ai", f"public-assistant:{org.id}", "cancelled")


def test_a_trainers_assistant_may_not_book(standin, make_user, org, link, alex, pt_type, db):
    """The dashboard's permissions hold: a trainer's assistant gets insufficient_scope back."""
    trainer = alex
    standin.script(tool_use("book_slot", {"startTime": "2030-01-07T09:00:00Z", "staffId": str(alex.id),
                                          "appointmentTypeId": str(pt_type.id), "attendeeName": "Jane Smith",
                                          "attendeeEmail": "jane@example.com"}),
                   lambda request: text(result_json(tool_results(request)[0])["error"]["code"]))
    context = {"organization": {"name": org.name, "slug": org.slug, "timezone": org.timezone},
               "user": {"name": trainer.name, "role": trainer.role}}
    reply = assistant.converse(person("Book Jane in at 9 on Monday"), principal_for_staff(trainer), context=context)

    assert reply.text == "insufficient_scope" and not reply.tool_calls[0].ok
    assert "helping Alex Morgan, whose role is staff" in standin.requests[0]["system"]
    assert db.session.scalars(select(Booking)).all() == []


def test_model_calls_are_bounded(standin, app, org, link, context):
    """A model that keeps asking for tools is stopped after ASSISTANT_MAX_TURNS calls, politely."""
    app.config["ASSISTANT_MAX_TURNS"] = 3
    standin.default = lambda request: tool_use("find_availability", {"date": "2030-01-07"})
    reply = assistant.converse(person("Anything Monday?"), principal_for_public(org), context=context)

    assert standin.calls == 3
    assert not reply.ok and reply.error == "turn_limit" and reply.text == assistant.TOO_MANY_STEPS
    # The third call's tools were not run: the model would never have seen their results.
    assert [c.name for c in reply.tool_calls] == ["find_availability", "find_availability"]
    assert assistant.validate_conversation(reply.messages)


@pytest.mark.parametrize("status, kind", [(500, "api_error"), (529, "overloaded_error"),
                                          (429, "rate_limit_error"), (401, "authentication_error"),
                                          (400, "invalid_request_error")])
def test_api_errors_become_a_polite_reply(standin, org, link, context, status, kind, caplog):
    standin.script(Fail(status, kind, "nope"))
    reply = assistant.converse(person("Hello"), principal_for_public(org), context=context)

    assert not reply.ok and reply.error == "unavailable"
    assert reply.text == (f"{assistant.UNAVAILABLE}, or choose a time with the calendar on this page.")
    assert f"answered {status}" in caplog.text
    assert assistant.validate_conversation(reply.messages)


def test_a_timeout_becomes_a_polite_reply(standin, app, org, link, context):
    app.config["ANTHROPIC_TIMEOUT"] = 0.5
    standin.script(Stall(3))
    started = time.monotonic()
    reply = assistant.converse(person("Hello"), principal_for_public(org), context=context)

    assert time.monotonic() - started < 2.5
    assert not reply.ok and reply.error == "timeout" and reply.text.startswith(assistant.TOO_SLOW)


def test_an_unreachable_api_becomes_a_polite_reply(app, org, link, context):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.config["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    reply = assistant.converse(person("Hello"), principal_for_public(org), context=context)

    assert not reply.ok and reply.error == "unavailable"


def test_a_failure_after_a_tool_call_keeps_what_was_done(standin, org, link, context):
    """The API failing mid-exchange: the tool call made is reported and the conversation stays valid."""
    standin.script(tool_use("find_availability", {"date": "2030-01-07"}), Fail(500))
    reply = assistant.converse(person("Anything Monday?"), principal_for_public(org), context=context)

    assert not reply.ok and [c.name for c in reply.tool_calls] == ["find_availability"]
    assert [m["role"] for m in reply.messages] == ["user", "assistant", "user", "assistant"]
    assert assistant.validate_conversation(reply.messages)


def test_an_answer_without_text_gets_a_fallback(standin, org, link, context):
    standin.script({"content": [], "stop_reason": "end_turn"})
    reply = assistant.converse(person("…"), principal_for_public(org), context=context)
    assert reply.ok and reply.text == assistant.NO_ANSWER
