"""The natural-language booking assistant: Claude with the AI booking tools, in a bounded tool-use loop.

`converse()` takes the conversation so far (Messages API format, ending with the person's new
message), asks the model, runs every tool it asks for through `run_tool` (dispatch.py) with the
caller's principal — so the assistant can do exactly what that principal may do through the JSON API,
checked the same way — and returns the reply, the tool calls made and the conversation to keep.

The conversation lives with the client, not on the server: the panel carries it in a hidden field,
signed (so it cannot be edited), bound to who it belongs to (one gym's page, or one member of staff)
and expiring. A server-side session would have to fit Flask's 4 KB cookie (one list of free times
does not) or add a store that every web worker shares; a signed transcript needs neither, works in
the no-JavaScript form post exactly as with htmx, and lets two tabs hold two conversations. It is
capped (`compact`) and validated again with pydantic when it comes back.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.agents.dispatch import run_tool
from app.agents.errors import ToolError
from app.agents.principals import Principal
from app.agents.tools import tool_definitions
from app.extensions import db

log = logging.getLogger(__name__)

MAX_TOKENS = 1024                    # per model call: replies are a few sentences
HISTORY_MESSAGES = 40                # messages kept between requests (tool round trips included)
HISTORY_CHARS = 24_000               # and their size as JSON, before the signed state compresses it
MESSAGE_CHARS = 1000                 # one message typed by a person
STATE_MAX_AGE = 24 * 3600            # seconds a conversation can be picked up again
WRITE_TOOLS = frozenset({"book_slot", "reschedule_booking", "cancel_booking"})

UNAVAILABLE = "Sorry — the assistant can't answer just now. Please try again in a moment"
TOO_SLOW = "Sorry — the assistant is taking too long to answer just now. Please try again in a moment"
TOO_MANY_STEPS = ("Sorry — that took more steps than I'm allowed for one message, so I've stopped. "
                  "Nothing else was changed. Could you say again, more simply, what you'd like?")
NO_ANSWER = "Sorry, I don't have an answer to that. Could you put it another way?"


# --- the conversation, as it travels and as it is checked ---------------------------------------------

class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextBlock(_Block):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=HISTORY_CHARS)


class ToolUseBlock(_Block):
    type: Literal["tool_use"]
    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=128)
    input: dict[str, Any]


class ToolResultBlock(_Block):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1, max_length=200)
    content: str = Field(max_length=200_000)
    is_error: bool = False


Block = Annotated[TextBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")]


class Message(_Block):
    role: Literal["user", "assistant"]
    content: list[Block] = Field(min_length=1, max_length=50)


_transcript = TypeAdapter(list[Message])


class ConversationExpired(Exception):
    """A carried conversation that is too old, not ours, tampered with or malformed: start afresh."""


def _serializer(audience: str) -> URLSafeTimedSerializer:
    # The audience ("public:<page slug>", "staff:<user id>") is part of the signature: a conversation
    # signed for one page or person is refused by every other.
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"atlas-assistant:{audience}")


def encode_conversation(messages: list[dict], audience: str) -> str:
    """The conversation as a signed, compressed token for the page to carry (capped first)."""
    return _serializer(audience).dumps(compact(messages)) if messages else ""


def decode_conversation(token: str | None, audience: str) -> list[dict]:
    """The conversation a page sent back ([] for none); ConversationExpired when it can't be used."""
    if not token:
        return []
    try:
        data = _serializer(audience).loads(token, max_age=STATE_MAX_AGE)
    except BadSignature as exc:  # includes SignatureExpired
        raise ConversationExpired(str(exc)) from None
    return validate_conversation(data)


def validate_conversation(data: Any) -> list[dict]:
    """Check a conversation's shape (pydantic), that it alternates from the person's turn and that every
    tool call is answered: the Messages API would refuse anything else."""
    try:
        messages = [m.model_dump(exclude_defaults=False) for m in _transcript.validate_python(data)]
    except ValidationError as exc:
        raise ConversationExpired(f"malformed conversation: {exc.error_count()} errors") from None
    if len(messages) > HISTORY_MESSAGES:
        raise ConversationExpired("conversation too long")
    pending: set[str] = set()
    for i, message in enumerate(messages):
        if message["role"] != ("user" if i % 2 == 0 else "assistant"):
            raise ConversationExpired("roles do not alternate")
        results = {b["tool_use_id"] for b in message["content"] if b["type"] == "tool_result"}
        uses = {b["id"] for b in message["content"] if b["type"] == "tool_use"}
        if message["role"] == "user" and (results != pending or uses):
            raise ConversationExpired("tool results do not answer the tool calls")
        if message["role"] == "assistant" and results:
            raise ConversationExpired("tool results in an assistant turn")
        pending = uses if message["role"] == "assistant" else set()
    if pending or (messages and messages[-1]["role"] != "assistant"):
        raise ConversationExpired("conversation does not end with a reply")
    for message in messages:
        for block in message["content"]:
            if block["type"] != "tool_result":
                continue
            if not block["is_error"]:
                del block["is_error"]  # the API's default; keeps the state small
    return messages


def _is_person(message: dict) -> bool:
    """A turn typed by the person (not one carrying tool results)."""
    return message["role"] == "user" and all(b["type"] == "text" for b in message["content"])


def exchanges(messages: list[dict]) -> list[list[dict]]:
    """The conversation cut into exchanges: a person's message and everything up to their next one."""
    out: list[list[dict]] = []
    for message in messages:
        if _is_person(message) or not out:
            out.append([])
        out[-1].append(message)
    return out


def _collapse(exchange: list[dict]) -> list[dict]:
    """An exchange without its tool round trips: what the person said and what they were told."""
    said = [b for b in exchange[0]["content"] if b["type"] == "text"]
    told = [b["text"] for m in exchange[1:] if m["role"] == "assistant" for b in m["content"] if b["type"] == "text"]
    return [{"role": "user", "content": said},
            {"role": "assistant", "content": [{"type": "text", "text": "\n\n".join(told) or NO_ANSWER}]}]


def _size(parts: list[list[dict]]) -> tuple[int, int]:
    flat = [m for part in parts for m in part]
    return len(flat), len(json.dumps(flat, separators=(",", ":")))


def compact(messages: list[dict]) -> list[dict]:
    """The conversation cut down to HISTORY_MESSAGES and HISTORY_CHARS: older exchanges lose their tool
    round trips first (the model can look things up again; ids are never guessed), then the oldest
    exchanges go. The result still starts with the person and answers every tool call."""
    parts = exchanges(messages)

    def too_big() -> bool:
        count, chars = _size(parts)
        return count > HISTORY_MESSAGES or chars > HISTORY_CHARS

    while too_big():
        detailed = [i for i, part in enumerate(parts) if len(part) > 2]
        if len(parts) > 1 and detailed and detailed[0] < len(parts) - 1:
            parts[detailed[0]] = _collapse(parts[detailed[0]])
        elif len(parts) > 1:
            parts.pop(0)
        elif len(parts[0]) > 2:
            parts[0] = _collapse(parts[0])
        else:
            # One exchange of a typed message and a (very long) answer: keep the answer's beginning.
            answer = "\n\n".join(b["text"] for b in parts[0][-1]["content"] if b["type"] == "text")
            parts[0][-1] = {"role": "assistant", "content": [{"type": "text", "text": answer[:HISTORY_CHARS // 2] + "…"}]}
            break
    return [m for part in parts for m in part]


# --- talking to the model -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict
    ok: bool
    error_code: str | None = None


@dataclass
class AssistantReply:
    """What the assistant said, what it did, and the conversation to carry into the next message."""

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    ok: bool = True
    error: str | None = None    # "unavailable" | "timeout" | "turn_limit" when ok is False

    @property
    def changed_bookings(self) -> bool:
        return any(call.ok and call.name in WRITE_TOOLS for call in self.tool_calls)


def system_prompt(context: dict, now: dt.datetime) -> str:
    """The instructions for one conversation: who the assistant works for, where, and the rules.

    `context`: organization {name, slug, timezone}; timezone (the zone to speak in); either
    booking_page {slug, name, type, url, services [{id, name, duration, price}], trainers [{id, name}]}
    on a public page, or user {name, role} in the dashboard."""
    org = context["organization"]
    tz = context.get("timezone") or org["timezone"]
    local = now.astimezone(ZoneInfo(tz))
    lines = []
    page = context.get("booking_page")
    user = context.get("user")
    if page:
        lines += [
            f"You are the booking assistant of {org['name']} (organization slug {org['slug']!r}), a gym, on its "
            f"public booking page {page['name']!r} (bookingLinkSlug {page['slug']!r}, {page['url']}). You help "
            "visitors find a free time, book it, and move or cancel a booking they have already made.",
            "",
            "Services on this page (appointmentTypeId, name, length, price):",
            *[f"- {s['id']}: {s['name']}, {s['duration']} minutes, {s.get('price') or 'free'}"
              for s in page["services"]],
            "Trainers on this page (staffId, name):" if page["trainers"] else "",
            *[f"- {t['id']}: {t['name']}" for t in page["trainers"]],
        ]
    else:
        lines += [
            f"You are the booking assistant in the staff dashboard of {org['name']} (organization slug "
            f"{org['slug']!r}), a gym. You are helping {user['name']}, whose role is {user['role']}. You find "
            "free times, book customers in, and look up, move and cancel bookings — as far as their role "
            "allows: the tools refuse what it doesn't, and then you say so.",
        ]
    lines += [
        "",
        f"The gym's time zone is {org['timezone']}; speak in {tz} times. It is now "
        f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} there (today is {local.date().isoformat()}).",
        "",
        "Rules:",
        "- Every fact about free times, bookings, trainers and prices comes from the tools or from this "
        "message. Never invent times, ids, tokens, names or prices; pass ids and times exactly as a tool "
        "gave them (a slot's startTime, staffId, staffIds, appointmentTypeId and bookingLinkSlug go to book_slot unchanged).",
        "- Before book_slot, reschedule_booking or cancel_booking, tell the person exactly what you are "
        "about to do (service, trainer, day and local time) and wait for them to confirm it in a later "
        "message. Never book a time they have not confirmed.",
        "- To book you need the customer's name and email address: ask for them; never make them up.",
    ]
    if page:
        lines += [
            f"- Search and book with bookingLinkSlug {page['slug']!r} unless the person asks for something "
            "this page does not offer.",
            "- To look up, move or cancel a booking you need its manage link, from the confirmation email "
            "(…/booking/manage/<token>) or a text message (…/m/<token>): pass the token part as manageToken. "
            "Without it, explain that they "
            "can find it in that email. Never show or repeat a manage link other than the one they gave or "
            "the one book_slot returned for the booking you just made.",
            "- After booking, give the manage link book_slot returned so they can change or cancel later.",
        ]
    lines += [
        "- When a tool answers with an error, explain it in plain words and offer what its hint suggests "
        "(for a time just taken, offer the alternatives it lists).",
        "- Only help with bookings at this gym. Answer briefly, in plain text without Markdown, and give "
        "times as the gym says them, like \"Tuesday 8 January at 10:00\".",
    ]
    return "\n".join(lines)


def _text_blocks(content) -> list[dict]:
    return [{"type": "text", "text": b.text} for b in content if b.type == "text" and b.text.strip()]


def _run(block, principal: Principal, now: dt.datetime | None) -> tuple[dict, ToolCall]:
    """One tool call as the tool_result to send back: the payload, or the error for the model to act on."""
    arguments = block.input if isinstance(block.input, dict) else {}
    try:
        payload = run_tool(block.name, arguments, principal, now=now)
    except ToolError as exc:
        error = exc
    except Exception:  # a defect in a tool: tell the model it failed, keep the page up, log it loudly
        db.session.rollback()
        log.exception("assistant: tool %s failed for %s", block.name, principal.actor.id)
        error = ToolError("internal_error", "Something went wrong on our side running this action.",
                          hint="Apologise and suggest the booking page or contacting the gym.")
    else:
        result = {"type": "tool_result", "tool_use_id": block.id, "content": json.dumps(payload, default=str)}
        return result, ToolCall(block.name, arguments, ok=True)
    result = {"type": "tool_result", "tool_use_id": block.id, "content": json.dumps(error.as_payload(), default=str),
              "is_error": True}
    return result, ToolCall(block.name, arguments, ok=False, error_code=error.code)


def _client():
    import anthropic  # imported here: an app without a key never loads the SDK

    config = current_app.config
    return anthropic.Anthropic(api_key=config["ANTHROPIC_API_KEY"], base_url=config["ANTHROPIC_BASE_URL"],
                               timeout=config["ANTHROPIC_TIMEOUT"], max_retries=config["ANTHROPIC_MAX_RETRIES"])


def converse(messages: list[dict], principal: Principal, *, context: dict,
             now: dt.datetime | None = None) -> AssistantReply:
    """Answer the conversation's last message (the person's), using the tools as `principal`.

    Promises: at most ASSISTANT_MAX_TURNS model calls; every tool call goes through run_tool with this
    principal (a refusal goes back to the model as an error result, so it can explain or recover); a
    failure to reach the model — connection, timeout, any error status — becomes a polite reply, logged,
    never an exception. The returned `messages` always alternate and answer every tool call, so they can
    be sent again with the next message."""
    import anthropic

    given_now = now  # tools read the clock themselves unless a time was injected
    now = now or dt.datetime.now(dt.timezone.utc)
    config = current_app.config
    max_turns = max(1, config["ASSISTANT_MAX_TURNS"])
    later = context.get("fallback") or ""
    conversation = list(messages)
    calls: list[ToolCall] = []
    system = system_prompt(context, now)
    tools = tool_definitions()

    def finish(said: list[dict], *, failure: str | None = None, error: str | None = None) -> AssistantReply:
        # The reply closes the conversation with an assistant turn, so it can be sent again as it is.
        content = [*said, {"type": "text", "text": failure}] if failure else said
        content = content or [{"type": "text", "text": NO_ANSWER}]
        conversation.append({"role": "assistant", "content": content})
        return AssistantReply(text="\n\n".join(b["text"] for b in content), tool_calls=calls,
                              messages=conversation, ok=failure is None, error=error)

    try:
        with _client() as client:
            for turn in range(max_turns):
                response = client.messages.create(model=config["ANTHROPIC_MODEL"], max_tokens=MAX_TOKENS,
                                                  system=system, tools=tools, messages=conversation)
                said = _text_blocks(response.content)
                uses = [b for b in response.content if b.type == "tool_use"]
                if response.stop_reason != "tool_use" or not uses:
                    # A finished answer (a cut-off tool call is dropped: its input may be incomplete).
                    return finish(said)
                if turn == max_turns - 1:
                    # The last call allowed still wants tools: run none (the model would never see
                    # their results) and say so.
                    log.warning("assistant: stopped after %d model calls for %s", max_turns, principal.actor.id)
                    return finish(said, failure=TOO_MANY_STEPS, error="turn_limit")
                conversation.append({"role": "assistant", "content": [
                    *said, *({"type": "tool_use", "id": b.id, "name": b.name, "input": b.input} for b in uses)]})
                results = []
                for block in uses:
                    result, call = _run(block, principal, given_now)
                    results.append(result)
                    calls.append(call)
                conversation.append({"role": "user", "content": results})
    except anthropic.APITimeoutError:
        log.warning("assistant: the Messages API timed out (after %d tool calls)", len(calls))
        return finish([], failure=f"{TOO_SLOW}{later}.", error="timeout")
    except anthropic.APIStatusError as exc:
        level = logging.ERROR if exc.status_code in (400, 401, 403, 404) else logging.WARNING
        log.log(level, "assistant: the Messages API answered %s: %s", exc.status_code, exc.message)
        return finish([], failure=f"{UNAVAILABLE}{later}.", error="unavailable")
    except anthropic.AnthropicError as exc:  # connection refused, DNS, a malformed answer…
        log.warning("assistant: the Messages API could not be used: %s", type(exc).__name__)
        return finish([], failure=f"{UNAVAILABLE}{later}.", error="unavailable")
    raise AssertionError("unreachable: the last turn returns")
