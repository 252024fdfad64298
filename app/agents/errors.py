"""Errors an agent can act on: a stable code, a message in the tools' terms, and a hint saying what to
do next.

`ToolError` is what every tool raises and every way in turns into its answer (the JSON API's error
shape, an MCP error result, a tool_result the model reads). Invalid arguments and the services'
errors are translated here: field names become the tools' camelCase ones, and each code gets its hint.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from app.agents.schemas import ToolInput, input_fields, required_fields
from app.services.bookings import SlotTaken
from app.services.errors import Conflict, InvalidRequest, NotFound, ServiceError
from app.services.scheduling.engine import Slot
from app.timeformat import iso_utc


class ToolError(Exception):
    """A failure an agent can act on: a stable code, a message, a hint saying what to do next."""

    def __init__(self, code: str, message: str, *, hint: str | None = None, status: int = 400,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        """The error object of the JSON API ({"code", "message", "hint", ...details})."""
        return {"code": self.code, "message": self.message, "hint": self.hint, **self.details}

    def as_payload(self) -> dict[str, Any]:
        """The whole answer of a failed call: {"success": false, "error": {...}}."""
        return {"success": False, "error": self.as_dict()}


HINTS = {
    "too_soon": "That time is inside the service's minimum notice: call find_availability for the first "
                "times that can still be booked.",
    "too_far_ahead": "That time is beyond the service's booking window: offer an earlier time from "
                     "find_availability.",
    "slot_taken": "Offer the customer one of the alternatives (each can be passed to the same action as it "
                  "is), or call find_availability for other times.",
    "outside_cutoff": "Online changes are closed this close to the start: ask the customer to contact the gym "
                      "directly.",
    "booking_cancelled": "A cancelled booking can't be moved: make a new one with book_slot.",
    "already_cancelled": "Nothing to do: the booking is already cancelled.",
    "booking_finished": "The booking has already taken place; it can't be changed.",
    "idempotency_conflict": "Use a new idempotencyKey for a different booking.",
    "type_removed": "Make a new booking with book_slot and cancel this one.",
    "link_inactive": "The booking page it was made on is offline, so it can't be moved online: the customer can "
                     "cancel it (cancel_booking) and book a new time with book_slot, or ask the gym to move it.",
    "type_not_offered": "Its booking page no longer offers this service, so it can't be moved online: the customer "
                        "can cancel it (cancel_booking) and book what is offered now, or ask the gym to move it.",
    "no_booking_link": "Pass bookingLinkSlug, or ask an admin to add this trainer and service to a public "
                       "booking page in the dashboard.",
    "class_full": "The class is full: if waitlistOpen is true, ask the customer whether to join its waitlist "
                  "(book_class again with joinWaitlist true); else offer another session from find_classes.",
    "already_booked": "Nothing to do: this customer already has a spot (or a place on the waitlist) in this class; "
                      "their confirmation email has the manage link.",
    "session_cancelled": "This class was cancelled: offer another session from find_classes.",
    "session_started": "This class has already started: offer a later session from find_classes.",
    "session_busy": "Many people are booking this class right now: try again in a moment.",
    "session_not_found": "Check the sessionId: find_classes lists the gym's sessions.",
    "not_found": "Check the id; get_bookings lists bookings and list_services lists services and trainers.",
    "invalid_request": "Correct the fields named in `fields` and call again.",
}
RESERVED_DETAILS = frozenset({"code", "message", "hint", "status"})
# Service field names (snake_case) that differ from the tools' camelCase ones.
FIELD_NAMES = {"link": "bookingLinkSlug", "date_from": "startDate", "date_to": "endDate",
               "start_time": "startTime", "token": "manageToken"}


def _field_name(name: str) -> str:
    return FIELD_NAMES.get(name) or to_camel(name)


def _camel_message(message: str) -> str:
    """Service messages name snake_case fields; agents know them by their camelCase names."""
    return re.sub(r"\b[a-z]+(?:_[a-z]+)+\b", lambda m: _field_name(m.group(0)), message)


def field_details(model: type[ToolInput]) -> dict:
    """What an agent needs to correct a call: the fields the tool takes, and those it requires."""
    return {"validFields": input_fields(model), "requiredFields": required_fields(model)}


def fields_hint(name: str, model: type[ToolInput]) -> str:
    required = ", ".join(required_fields(model)) or "none"
    return (f"{name} takes: {', '.join(input_fields(model))} (required: {required}). "
            "GET /api/ai/tools has the full schema.")


def validation_error(name: str, model: type[ToolInput], exc: ValidationError) -> ToolError:
    """Arguments the tool's model refused, as `invalid_request` naming each field and its problem."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"]) or "arguments"
        if error["type"] == "missing":
            problem = "required"
        elif error["type"] == "extra_forbidden":
            problem = "unknown field"
        else:
            problem = error["msg"].removeprefix("Value error, ")
        fields.setdefault(loc, problem)
    summary = "; ".join(f"{key}: {value}" for key, value in fields.items())
    return ToolError("invalid_request", f"{name}: {summary}.", hint=fields_hint(name, model),
                     details={"fields": fields, **field_details(model)})


def alternative_json(slot: Slot, link_slug: str | None = None) -> dict:
    """A free time offered when the one asked for was taken (ready to pass to book_slot)."""
    out = {"startTime": iso_utc(slot.start), "endTime": iso_utc(slot.end), "staffId": slot.staff_id,
           "staffName": slot.staff_name, "appointmentTypeId": slot.appointment_type_id}
    if link_slug:
        out["bookingLinkSlug"] = link_slug
    return out


def from_service_error(exc: ServiceError, model: type[ToolInput], *, link_slug: str | None = None) -> ToolError:
    """A service's error in the tools' terms: camelCase names, a hint, the status it stands for.
    `model`: the arguments of the tool that called the service; `link_slug`: the booking page the
    error's alternatives are times of."""
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    details: dict[str, Any] = {}
    for key, value in exc.details.items():
        # A detail named like a member of the error (already_booked carries the spot's `status`) is
        # given as existing<Name>, so it never replaces the error's own code, message, hint or status.
        name = to_camel(key)
        details[f"existing{name[0].upper()}{name[1:]}" if name in RESERVED_DETAILS else name] = value
    if isinstance(exc, SlotTaken):
        details["alternatives"] = [alternative_json(slot, link_slug) for slot in exc.alternatives]
    if exc.fields:
        details["fields"] = {_field_name(key): _camel_message(value) for key, value in exc.fields.items()}
    if isinstance(exc, InvalidRequest):
        details.update(field_details(model))
    default = "not_found" if isinstance(exc, NotFound) else "invalid_request" if isinstance(exc, InvalidRequest) \
        else None
    return ToolError(exc.code, _camel_message(exc.message), hint=HINTS.get(exc.code) or HINTS.get(default),
                     status=status, details=details)
