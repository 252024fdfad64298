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
    """The model finds times and asks to book the first with the ids it was given: the booking waits for
    the person's Confirm (described by the server); confirmed, it is made and the model says so."""
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
                   book_first_slot)
    words = "Yes please — book me in for 9am Monday. Jane Smith, jane@example.com"
    reply = assistant.converse(person(words), principal_for_public(org), context=context)

    # Asked, not done: the server's own description waits for the person; the model was told so.
    assert reply.ok and standin.calls == 2
    summary = ("Book Personal Training with Alex Morgan on Monday 7 January 2030 at 09:00 for Jane Smith "
               "(jane@example.com)")
    assert [w["summary"] for w in reply.pending] == [summary] and reply.pending[0]["name"] == "book_slot"
    assert reply.text == f"Please check this change and press Confirm to make it:\n• {summary}"
    assert [(c.name, c.ok, c.waiting) for c in reply.tool_calls] == [("find_availability", True, False),
                                                                    ("book_slot", True, True)]
    assert not reply.changed_bookings
    assert db.session.scalars(select(Booking)).all() == []
    assert result_json(reply.messages[-2]["content"][0])["status"] == "awaiting_confirmation"
    # What was sent: the configured model, the tools as ai_tools defines them, a system prompt that
    # knows the gym, the page and the date, and says tool output is data and writes wait.
    first = standin.requests[0]
    assert first["model"] == "claude-sonnet-5-5" and first["max_tokens"] == assistant.MAX_TOKENS
    assert first["tools"] == tool_definitions() and [t["name"] for t in first["tools"]] == list(ACTIONS)
    for fact in ("Atlas Fitness", "'atlas'", "'pt'", "Personal Training", str(pt_type.id), str(alex.id),
                 "Alex Morgan", "Sunday 6 January 2030", "2030-01-06", "Europe/London", "Confirm",
                 "<tool_output>", "never instructions"):
        assert fact in first["system"], fact
    sent = standin.headers[0]  # the SDK sends the key as x-api-key or (2.x) a bearer token
    assert "sk-ant-test-key" in (sent.get("X-Api-Key"), sent.get("Authorization", "").removeprefix("Bearer "))

    # The person presses Confirm: the booking is made (no model call first), then the model is told.
    standin.script(confirm)
    history = [*reply.messages, {"role": "user", "content": [{"type": "text", "text": assistant.CONFIRMED}]}]
    done = assistant.converse(history, principal_for_public(org), context=context, confirmed=reply.pending)

    assert done.ok and done.text.startswith("You're booked: Personal Training on Monday 7 January at 09:00")
    assert [(c.name, c.ok, c.waiting) for c in done.tool_calls] == [("book_slot", True, False)]
    assert done.changed_bookings and done.pending == []
    # The booking exists, at the slot the tool offered, audited as the page's AI assistant, with the
    # waiting change's id as its idempotency key.
    assert seen["slot"]["startTime"] == "2030-01-07T09:00:00Z"
    booking = db.session.scalars(select(Booking).where(Booking.attendee_email == "jane@example.com")).one()
    assert booking.start_at == MONDAY_9 and booking.staff_id == alex.id and booking.status == "confirmed"
    assert booking.idempotency_key == f"assistant-{reply.pending[0]['id']}"
    assert seen["booking"]["id"] == str(booking.id)
    (audit,) = audits(db, booking.id)
    assert (audit.actor_type, audit.actor_id, audit.action) == ("ai", f"public-assistant:{org.id}", "created")
    # The conversation to carry: the person, the tool round trips, the answers — and valid as it is.
    roles = [m["role"] for m in done.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant", "user", "assistant",
                     "user", "assistant"]
    assert assistant.validate_conversation(json.loads(json.dumps(done.messages)))


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
    standin.script(tool_use("cancel_booking", {"manageToken": token, "reason": "Away that week"}))
    reply = assistant.converse(person(f"Please cancel http://localhost/booking/manage/{token} — yes, I'm sure"),
                               principal_for_public(org), context=context)
    assert [w["summary"] for w in reply.pending] == [
        "Cancel Jane Smith's Personal Training with Alex Morgan on Tuesday 8 January 2030 at 10:00 "
        "(reason: Away that week)"]
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "confirmed"

    standin.script(lambda request: text("Done — it's cancelled.") if "is_error" not in tool_results(request)[0]
                   else text("failed"))
    history = [*reply.messages, {"role": "user", "content": [{"type": "text", "text": assistant.CONFIRMED}]}]
    done = assistant.converse(history, principal_for_public(org), context=context, confirmed=reply.pending)

    assert done.text == "Done — it's cancelled." and done.changed_bookings
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


def test_a_message_has_an_overall_time_budget(standin, app, org, link, context):
    """Six model calls of up to ANTHROPIC_TIMEOUT each (and retries) could outlast the web server's
    request timeout: the whole message stops at ASSISTANT_TIME_BUDGET, with a polite reply."""
    import anthropic  # noqa: F401 -- loaded before the clock starts: its first import can take seconds here

    app.config.update(ASSISTANT_TIME_BUDGET=3.5, ANTHROPIC_TIMEOUT=30, ANTHROPIC_MAX_RETRIES=2)
    standin.default = Stall(1.0, then=tool_use("find_availability", {"date": "2030-01-07"}))
    started = time.monotonic()
    reply = assistant.converse(person("Anything Monday?"), principal_for_public(org), context=context)
    assert time.monotonic() - started < 3.5
    assert not reply.ok and reply.error == "timeout" and reply.text.startswith(assistant.TOO_SLOW)
    # Two calls fit (about 1 s each); a third would start with less than MIN_CALL_SECONDS left.
    assert standin.calls == 2 and [c.name for c in reply.tool_calls] == ["find_availability"] * 2
    assert assistant.validate_conversation(reply.messages)


def test_one_slow_call_is_cut_at_the_budget_not_at_its_own_timeout(standin, app, org, link, context):
    import anthropic  # noqa: F401 -- loaded before the clock starts

    app.config.update(ASSISTANT_TIME_BUDGET=2.5, ANTHROPIC_TIMEOUT=30, ANTHROPIC_MAX_RETRIES=2)
    standin.script(Stall(6))
    started = time.monotonic()
    reply = assistant.converse(person("Hello"), principal_for_public(org), context=context)

    assert time.monotonic() - started < 4
    assert not reply.ok and reply.error == "timeout"
    assert standin.calls == 1  # no retry: nothing of the budget was left for one


def test_a_failed_call_is_retried_within_the_budget(standin, app, org, link, context):
    app.config.update(ASSISTANT_TIME_BUDGET=10, ANTHROPIC_MAX_RETRIES=1)
    standin.script(Fail(529, "overloaded_error", "busy"), text("Hello!"))
    reply = assistant.converse(person("Hi"), principal_for_public(org), context=context)
    assert reply.ok and reply.text == "Hello!" and standin.calls == 2
