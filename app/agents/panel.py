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

from app.agents import turns
from app.agents.assistant import (
    AWAITING,
    CONFIRMED,
    MESSAGE_CHARS,
    WRITE_TOOLS,
    AssistantReply,
    Conversation,
    ConversationExpired,
    converse,
    declined,
    decode_conversation,
    encode_conversation,
    exchanges,
    read_data,
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
    "list_services": ("Looked at the services", "Couldn't look at the services"),
    "find_classes": ("Checked the classes", "Couldn't check the classes"),
    "book_class": ("Booked the class", "Class booking didn't go through"),
}
WAITING = "Waiting for your confirmation"
EXPIRED = ("This conversation had expired, so I've started a new one. If you were in the middle of "
           "something, please tell me again.")
NOTHING_WAITING = "Nothing was waiting for your confirmation any more, so nothing was changed."
BUSY = "That message is still being answered. Please wait a moment, then look again."
_URL = re.compile(r"https?://[^\s<>\"']+")


def enabled() -> bool:
    """The assistant exists only when the deployment has a key for it."""
    return bool(current_app.config["ANTHROPIC_API_KEY"])


class AssistantForm(FlaskForm):
    message = TextAreaField("Your message", validators=[DataRequired("Please type a message first."),
                                                        Length(max=MESSAGE_CHARS, message=f"Please keep it under "
                                                                                          f"{MESSAGE_CHARS} characters.")])
    state = HiddenField()
    decision = HiddenField()     # the Confirm / Don't buttons: "confirm" or "decline"


@dataclass
class Action:
    label: str
    ok: bool
    waiting: bool = False


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
    pending: list[dict] = field(default_factory=list)   # changes waiting for Confirm (their summaries)


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
                    data = read_data(block["content"]) if ok and name in WRITE_TOOLS else None
                    if isinstance(data, dict) and data.get("status") == AWAITING:
                        answer.actions.append(Action(WAITING, ok=True, waiting=True))
                    else:
                        answer.actions.append(Action(labels[0] if ok else labels[1], ok))
        answer.paragraphs = [p for text in texts for p in _segments(text)]
        if answer.paragraphs or answer.actions:
            out.append(answer)
    return out


def handle(principal: Principal, *, context: dict, audience: str, action: str) -> tuple[Panel, int]:
    """Read the posted form, answer it, and say what the panel now shows (and the status to answer with).

    The form carries either a typed message or a decision on the changes waiting for confirmation
    (Confirm runs them; Don't drops them, without asking the model). Each state answers one request
    once (turns.py): the same post again shows the same answer and does nothing."""
    form = AssistantForm()
    panel = Panel(action=action)
    try:
        carried = decode_conversation(form.state.data, audience)
        expired = False
    except ConversationExpired as exc:
        current_app.logger.info("assistant: conversation not picked up (%s)", exc)
        carried, expired = Conversation(), True
    history = carried.messages
    panel.entries = entries(history)
    panel.state = encode_conversation(history, audience, carried.pending)
    panel.pending = carried.pending
    panel.new_from = len(panel.entries)
    decision = form.decision.data if form.decision.data in ("confirm", "decline") else None
    if decision and not carried.pending:
        # An old page, or a state whose changes were decided already: say so; never guess.
        panel.entries.append(Entry("notice", _segments(EXPIRED if expired else NOTHING_WAITING)))
        panel.restarted = expired
        return panel, 200
    if decision:
        request = f"{decision}:" + ",".join(write["id"] for write in carried.pending)
    elif not form.validate():
        panel.message = form.message.data or ""
        panel.errors = [e for errors in form.errors.values() for e in errors]
        return panel, 422
    else:
        request = "message:" + form.message.data.strip()
    claim = turns.claim(principal.organization_id, audience, carried.turn, request)
    if claim.answer is not None:
        return _shown_again(panel, claim.answer, audience), 200
    if claim.busy:
        panel.entries.append(Entry("notice", _segments(BUSY)))
        panel.state = form.state.data or ""
        return panel, 200
    try:
        if decision == "confirm":
            said = "\n".join([CONFIRMED, *(f"• {write['summary']}" for write in carried.pending)])
            reply = converse([*history, {"role": "user", "content": [{"type": "text", "text": said}]}],
                             principal, context=context, confirmed=carried.pending)
        elif decision == "decline":
            reply = declined(history)
        else:
            reply = converse([*history, {"role": "user", "content": [{"type": "text", "text": request[8:]}]}],
                             principal, context=context)
    except BaseException:
        turns.release(claim)
        raise
    _show(panel, reply, len(history), audience, expired)
    if reply.ok or decision == "confirm":
        turns.answered(claim, {"state": panel.state, "new_from": panel.new_from, "changed": panel.changed,
                               "restarted": panel.restarted, "failed": bool(panel.entries and panel.entries[-1].failed)})
    else:  # the model could not be reached and nothing was changed: the same message may try again
        turns.release(claim)
    return panel, 200


def _show(panel: Panel, reply: AssistantReply, before: int, audience: str, expired: bool) -> None:
    panel.state = encode_conversation(reply.messages, audience, reply.pending)
    panel.pending = reply.pending
    shown = entries(reply.messages)
    panel.new_from = 0 if expired else len(shown) - len(entries(reply.messages[before:]))
    if expired:
        shown.insert(0, Entry("notice", _segments(EXPIRED)))
    if not reply.ok and shown and shown[-1].who == "assistant":
        shown[-1].failed = True
    panel.entries = shown
    panel.changed = reply.changed_bookings
    panel.restarted = expired


def _shown_again(panel: Panel, answer: dict, audience: str) -> Panel:
    """A repeated post: the panel exactly as the first one left it (nothing is run again)."""
    try:
        carried = decode_conversation(answer["state"], audience)
    except ConversationExpired:
        carried = Conversation()
    panel.state, panel.pending = answer["state"], carried.pending
    panel.entries = entries(carried.messages)
    if answer.get("restarted"):
        panel.entries.insert(0, Entry("notice", _segments(EXPIRED)))
    if answer.get("failed") and panel.entries and panel.entries[-1].who == "assistant":
        panel.entries[-1].failed = True
    panel.new_from = min(int(answer.get("new_from") or 0), len(panel.entries))
    panel.changed = bool(answer.get("changed"))
    panel.restarted = bool(answer.get("restarted"))
    return panel


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
