"""The booking assistant's chat panel, shared by the public booking page and the dashboard.

Both endpoints do the same thing with a different principal: read the form (the person's message and
the signed conversation), call `converse`, and answer with the whole page (a plain form post) or, for
htmx, the new exchange appended to the log plus the form swapped out of band (fresh state, empty box).
The log is a persistent role="log" live region, so a screen reader announces only what was added;
swapping the whole panel instead would replace the live region and lose (or repeat) the announcement.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import current_app, get_template_attribute, make_response
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.agents.assistant import (
    MESSAGE_CHARS,
    AssistantReply,
    ConversationExpired,
    converse,
    decode_conversation,
    encode_conversation,
    exchanges,
)
from app.agents.principals import Principal

MACROS = "_macros/assistant.html"
ACTION_LABELS = {
    "find_availability": ("Checked free times", "Couldn't check free times"),
    "book_slot": ("Booked", "Booking didn't go through"),
    "reschedule_booking": ("Moved the booking", "Couldn't move the booking"),
    "cancel_booking": ("Cancelled the booking", "Couldn't cancel the booking"),
    "get_booking": ("Looked up the booking", "Couldn't look up the booking"),
    "get_bookings": ("Looked through bookings", "Couldn't look through bookings"),
}
EXPIRED = ("This conversation had expired, so I've started a new one. If you were in the middle of "
           "something, please tell me again.")
_URL = re.compile(r"https?://[^\s<>\"']+")


def enabled() -> bool:
    """The assistant exists only when the deployment has a key for it."""
    return bool(current_app.config["ANTHROPIC_API_KEY"])


class AssistantForm(FlaskForm):
    message = TextAreaField("Your message", validators=[DataRequired("Please type a message first."),
                                                        Length(max=MESSAGE_CHARS, message=f"Please keep it under "
                                                                                          f"{MESSAGE_CHARS} characters.")])
    state = HiddenField()


@dataclass
class Action:
    label: str
    ok: bool


@dataclass
class Entry:
    """One bubble: what the person said, or the assistant's answer with what it did first."""

    who: str                                  # "person" | "assistant" | "notice"
    paragraphs: list[list[tuple[str, str | None]]] = field(default_factory=list)  # [(text, href)]
    actions: list[Action] = field(default_factory=list)
    failed: bool = False


@dataclass
class Panel:
    """What the panel shows: the conversation, the form, and the signed state it posts back."""

    action: str
    state: str = ""
    entries: list[Entry] = field(default_factory=list)
    new_from: int = 0                          # entries from here on are this response's (htmx appends them)
    message: str = ""
    errors: list[str] = field(default_factory=list)
    changed: bool = False                      # a booking was made, moved or cancelled
    restarted: bool = False                    # the posted conversation could not be used: a new one began


def _segments(text: str) -> list[list[tuple[str, str | None]]]:
    """Plain text as paragraphs of (text, link) pieces: only addresses on this site become links."""
    own = current_app.config["APP_URL"]
    paragraphs = []
    for para in re.split(r"\n\s*\n", text.strip()):
        pieces: list[tuple[str, str | None]] = []
        last = 0
        for match in _URL.finditer(para):
            url = match.group(0).rstrip(".,;:!?)")
            if own and (url == own or url.startswith(own + "/")):
                pieces.append((para[last:match.start()], None))
                pieces.append((url, url))
                last = match.start() + len(url)
        pieces.append((para[last:], None))
        paragraphs.append([p for p in pieces if p[0]])
    return paragraphs


def entries(messages: list[dict]) -> list[Entry]:
    """The conversation as bubbles: each exchange is the person's message and one answer."""
    out: list[Entry] = []
    for exchange in exchanges(messages):
        person = " ".join(b["text"] for b in exchange[0]["content"] if b["type"] == "text")
        out.append(Entry("person", _segments(person)))
        answer = Entry("assistant")
        names: dict[str, str] = {}
        texts: list[str] = []
        for message in exchange[1:]:
            for block in message["content"]:
                if block["type"] == "text":
                    texts.append(block["text"])
                elif block["type"] == "tool_use":
                    names[block["id"]] = block["name"]
                elif block["type"] == "tool_result":
                    name = names.get(block["tool_use_id"], "")
                    ok = not block.get("is_error")
                    labels = ACTION_LABELS.get(name, (name, name))
                    answer.actions.append(Action(labels[0] if ok else labels[1], ok))
        answer.paragraphs = [p for text in texts for p in _segments(text)]
        if answer.paragraphs or answer.actions:
            out.append(answer)
    return out


def handle(principal: Principal, *, context: dict, audience: str, action: str) -> tuple[Panel, int]:
    """Read the posted form, answer it, and say what the panel now shows (and the status to answer with)."""
    form = AssistantForm()
    panel = Panel(action=action)
    try:
        history = decode_conversation(form.state.data, audience)
        expired = False
    except ConversationExpired as exc:
        current_app.logger.info("assistant: conversation not picked up (%s)", exc)
        history, expired = [], True
    panel.entries = entries(history)
    panel.state = encode_conversation(history, audience)
    if not form.validate():
        panel.message = form.message.data or ""
        panel.errors = [e for errors in form.errors.values() for e in errors]
        panel.new_from = len(panel.entries)
        return panel, 422
    text = form.message.data.strip()
    reply: AssistantReply = converse([*history, {"role": "user", "content": [{"type": "text", "text": text}]}],
                                     principal, context=context)
    panel.state = encode_conversation(reply.messages, audience)
    shown = entries(reply.messages)
    panel.new_from = 0 if expired else len(shown) - len(entries(reply.messages[len(history):]))
    if expired:
        shown.insert(0, Entry("notice", _segments(EXPIRED)))
    if not reply.ok and shown and shown[-1].who == "assistant":
        shown[-1].failed = True
    panel.entries = shown
    panel.changed = reply.changed_bookings
    panel.restarted = expired
    return panel, 200


def fragment_response(panel: Panel, status: int):
    """The htmx answer: the new bubbles for the log (all of them after a restart) and the form, out of band."""
    if status == 422:
        body = get_template_attribute(MACROS, "form")(panel)
        response = make_response(body, status)
        response.headers["HX-Retarget"] = "#assistant-form"
        response.headers["HX-Reswap"] = "outerHTML"
    else:
        body = get_template_attribute(MACROS, "reply")(panel)
        response = make_response(body, status)
        if panel.restarted:
            response.headers["HX-Reswap"] = "innerHTML scroll:bottom"
    response.vary.add("HX-Request")
    return response
