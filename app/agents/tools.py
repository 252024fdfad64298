"""AI booking tools: the spec's six actions, one definition each, shared by every way an agent comes in.

POST /api/ai/booking, GET /api/ai/tools, the MCP server and the in-app assistants all go through
`tool_definitions()` and `run_tool()`. Each tool's arguments are one pydantic model: it validates
the call and is also where the tool's JSON Schema comes from, so what agents are told and what is
accepted cannot drift apart. The tools call the same services as the public booking API
(`search_slots`, `create_booking`, `reschedule_booking`, `cancel_booking`, the dashboard's booking
queries): there is no second path for any booking rule.

Arguments and answers use the spec's camelCase names (organizationSlug, staffId, startTime…), so an
agent can pass a slot it was given straight back to book_slot.
"""
from __future__ import annotations

import copy
import datetime as dt
import functools
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from flask import current_app, has_app_context
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy import select

from app.extensions import db
from app.models import API_KEY_SCOPES, AppointmentType, Booking, Organization
from app.models.bookings import BOOKING_STATUSES
from app.services import api_keys, catalog, reports
from app.services.bookings.lifecycle import Actor, SlotTaken, cancel_booking, create_booking, reschedule_booking
from app.services.bookings.manage_links import get_booking_by_token, manage_url
from app.services.errors import Conflict, InvalidRequest, NotFound, ServiceError
from app.services.scheduling.cache import app_cache
from app.services.scheduling.search import link_staff, search_slots
from app.services.zones import require_zone
from app.timeformat import iso_local, iso_utc

log = logging.getLogger(__name__)

ACTIONS: tuple[str, ...] = ("find_availability", "book_slot", "reschedule_booking", "cancel_booking",
                            "get_booking", "get_bookings")
ALL_SCOPES = frozenset(API_KEY_SCOPES)


# --- who is calling --------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    """Who a tool call acts for: one organization, with scopes, audited as `actor`."""

    organization_id: uuid.UUID
    organization_slug: str
    scopes: frozenset[str]
    actor: Actor                      # Actor("ai", id=...): written to booking_audit by the services
    key_id: uuid.UUID | None = None
    # The public booking assistant: get/reschedule/cancel need the booking's manage token.
    manage_token_required: bool = False
    # A trainer's dashboard assistant: bookings are read only when they are this trainer's own
    # (the dashboard's own rule). None: the whole organization.
    own_bookings_of: uuid.UUID | None = None


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


def principal_for_key(token: str) -> Principal | None:
    """The principal of an active API key (None for an unknown, malformed or revoked key)."""
    key = api_keys.authenticate(token)
    if key is None:
        return None
    org_slug = db.session.scalar(select(Organization.slug).where(Organization.id == key.organization_id))
    return Principal(organization_id=key.organization_id, organization_slug=org_slug,
                     scopes=frozenset(key.scopes or ()) & ALL_SCOPES, actor=Actor("ai", id=str(key.id)),
                     key_id=key.id)


def principal_for_staff(user) -> Principal:
    """A signed-in member of staff's dashboard assistant.

    Owners and admins get all three scopes. A trainer gets what the dashboard lets a trainer do:
    find free times and read their own bookings (trainers do not book, move or cancel there)."""
    actor = Actor("ai", id=f"assistant:{user.id}")
    if user.role in ("owner", "admin"):
        return Principal(user.organization_id, user.organization.slug, ALL_SCOPES, actor)
    return Principal(user.organization_id, user.organization.slug,
                     frozenset({"availability:read", "bookings:read"}), actor, own_bookings_of=user.id)


def principal_for_public(org) -> Principal:
    """The public booking assistant of an organization's pages: finds times and books; changes and
    reads a booking only with its manage token, like the public manage pages."""
    return Principal(org.id, org.slug, frozenset({"availability:read", "bookings:write"}),
                     Actor("ai", id=f"public-assistant:{org.id}"), manage_token_required=True)


# --- the arguments: one model per tool ----------------------------------------------------------

def _iso_text(value):
    """Dates and times come as ISO 8601 text, as the schema says (pydantic alone would also read a
    number as a Unix time: 42 would be a booking in 1970)."""
    if isinstance(value, (str, dt.date)):
        return value
    raise ValueError("expected an ISO 8601 string")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_text)]
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class ToolInput(BaseModel):
    """Arguments common to every tool. Names are camelCase on the wire; unknown names are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, alias_generator=to_camel,
                              validate_by_alias=True, validate_by_name=False)

    organization_slug: str | None = Field(
        None, max_length=80,
        description="The gym's slug, e.g. 'atlas-fitness'. Optional: defaults to the organization of the "
                    "API key, and a different one is refused.")


class FindAvailabilityInput(ToolInput):
    date: IsoDate | None = Field(None, description="One local date, YYYY-MM-DD. Or give startDate/endDate.")
    start_date: IsoDate | None = Field(None, description="First local date of a range (default: today).")
    end_date: IsoDate | None = Field(
        None, description="Last local date of the range, inclusive; at most 62 days (default: 7 days).")
    duration: int | None = Field(None, ge=1, le=1440,
                                 description="Length in minutes: picks the service of that length.")
    appointment_type_id: uuid.UUID | None = Field(None, description="The service (appointment type) id.")
    staff_id: uuid.UUID | None = Field(None, description="Only this trainer's free times.")
    booking_link_slug: str | None = Field(
        None, max_length=80, description="Search one public booking page (e.g. a team page) instead of the "
                                         "whole organization.")
    timezone: str | None = Field(
        None, max_length=64, description="IANA zone the dates are read in and local times given in "
                                         "(default: the gym's).")
    limit: int = Field(10, ge=1, le=100, description="At most this many slots, earliest first.")


class BookSlotInput(ToolInput):
    start_time: IsoDateTime = Field(
        description="Start, ISO 8601 with a UTC offset or Z, e.g. 2024-03-15T10:00:00Z (a slot's startTime).")
    attendee_name: str = Field(min_length=1, max_length=200, description="The customer's full name.")
    attendee_email: str = Field(min_length=3, max_length=254, description="The customer's email address.")
    staff_id: uuid.UUID | None = Field(
        None, description="The trainer (a slot's staffId). Omit on a team page to have one assigned.")
    appointment_type_id: uuid.UUID | None = Field(
        None, description="The service (a slot's appointmentTypeId). Required unless bookingLinkSlug is given.")
    end_time: IsoDateTime | None = Field(None, description="End; if given it must equal start + the duration.")
    attendee_phone: str | None = Field(
        None, max_length=40, description="Phone with country code, e.g. +44 7700 900123 (for SMS reminders).")
    attendee_timezone: str | None = Field(None, max_length=64,
                                          description="The customer's IANA zone for their messages.")
    description: str | None = Field(None, max_length=2000, description="Notes for the trainer.")
    location_details: str | None = Field(None, max_length=500, description="Where, if not the usual place.")
    booking_link_slug: str | None = Field(
        None, max_length=80, description="Book through this public booking page (a slot's bookingLinkSlug). "
                                         "Default: the page that offers this trainer and service.")
    idempotency_key: str | None = Field(
        None, max_length=255, description="Any unique string: a retry with the same key returns the first "
                                          "booking instead of booking twice.")


class BookingRefInput(ToolInput):
    booking_id: uuid.UUID | None = Field(None, description="The booking's id (from book_slot or get_bookings).")
    manage_token: str | None = Field(
        None, max_length=128, description="The token from the customer's manage link "
                                          "(/booking/manage/<token>); instead of, or as well as, bookingId.")


class RescheduleBookingInput(BookingRefInput):
    start_time: IsoDateTime = Field(description="The new start, ISO 8601 with a UTC offset or Z.")
    staff_id: uuid.UUID | None = Field(
        None, description="Move to another trainer of the same booking page (default: the same trainer).")


class CancelBookingInput(BookingRefInput):
    reason: str | None = Field(None, max_length=500, description="Why, for the trainer and the records.")


class GetBookingInput(BookingRefInput):
    pass


class GetBookingsInput(ToolInput):
    when: Literal["upcoming", "past", "all"] = Field(
        "upcoming", description="upcoming (not yet ended), past, or all. Ignored when dates are given.")
    start_date: IsoDate | None = Field(None, description="From this local date (YYYY-MM-DD).")
    end_date: IsoDate | None = Field(None, description="Until this local date, inclusive.")
    status: Literal[BOOKING_STATUSES] | None = Field(None, description="Only bookings with this status.")
    staff_id: uuid.UUID | None = Field(None, description="Only this trainer's bookings.")
    search: str | None = Field(None, max_length=100, description="Part of the customer's name or email.")
    timezone: str | None = Field(None, max_length=64, description="IANA zone for the dates (default: the gym's).")
    limit: int = Field(20, ge=1, le=100, description="Bookings per page.")
    page: int = Field(1, ge=1, le=10_000, description="Page number, from 1.")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    model: type[ToolInput]
    scope: str
    handler: Callable[[Any, Principal, dt.datetime], dict]
    read_only: bool = True


# --- tool definitions ----------------------------------------------------------------------------

def _clean_schema(node):
    """Pydantic's JSON Schema, tidied for models: no titles, `X or null` shown as X (omit the field
    instead of sending null), no `default: null`."""
    if isinstance(node, list):
        return [_clean_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: value for key, value in node.items() if key != "title"}
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(option for option in options if option != {"type": "null"})
        node = {**{k: v for k, v in node.items() if k != "anyOf"}, **other}
        if node.get("default", "x") is None:
            del node["default"]
    # `properties` maps field names to schemas: clean the schemas, never the names.
    return {key: ({name: _clean_schema(prop) for name, prop in value.items()} if key == "properties"
                  else _clean_schema(value))
            for key, value in node.items()}


def input_schema(model: type[ToolInput]) -> dict:
    """The JSON Schema of a tool's arguments, generated from the model that validates them."""
    schema = _clean_schema(model.model_json_schema(by_alias=True, mode="validation"))
    schema.setdefault("required", [])
    return schema


def tool_definitions() -> list[dict]:
    """The six tools in Claude's tool format: name, description, input_schema (JSON Schema)."""
    return copy.deepcopy(_definitions())


@functools.cache
def _definitions() -> list[dict]:
    # Built once per process (the models never change at run time); callers get their own copy.
    return [{"name": tool.name, "description": tool.description, "input_schema": input_schema(tool.model)}
            for tool in TOOLS.values()]


def tool_fields(name: str) -> list[str]:
    """The argument names a tool accepts (camelCase), in the order of its schema."""
    return [info.alias or key for key, info in TOOLS[name].model.model_fields.items()]


# --- running a tool --------------------------------------------------------------------------------

def run_tool(name: str, arguments: dict, principal: Principal, *, now: dt.datetime | None = None) -> dict:
    """Run one tool for `principal`: validate the arguments with the tool's model, check the scope and
    the organization, call the services. Returns the success payload ({"success": True, ...});
    raises ToolError for anything the caller can correct or should know. Every call, whatever its
    outcome, is written to the AI action log (ai_action_log) with the key and the actor."""
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        payload = _run_tool(name, arguments, principal, now)
    except ToolError as exc:
        _record(name, arguments, principal, exc.code, exc.status, None, now)
        raise
    _record(name, arguments, principal, "ok", 201 if name == "book_slot" else 200, payload, now)
    return payload


def _record(name, arguments, principal: Principal, outcome: str, status: int, payload: dict | None,
            now: dt.datetime) -> None:
    """One row of the action log, in its own commit; a failure to log never fails the call."""
    from app.models import AiActionLog

    booking_id = None
    candidate = ((payload or {}).get("booking") or {}).get("id") if isinstance(payload, dict) else None
    if candidate is None and isinstance(arguments, dict):
        candidate = arguments.get("bookingId")
    try:
        booking_id = uuid.UUID(str(candidate)) if candidate else None
    except ValueError:
        booking_id = None
    try:
        db.session.add(AiActionLog(
            organization_id=principal.organization_id, api_key_id=principal.key_id,
            actor_id=str(principal.actor.id or "")[:100], action=str(name)[:40], outcome=outcome[:40],
            status=status, booking_id=booking_id, ip_address=(principal.actor.ip or None) and principal.actor.ip[:45],
            created_at=now))
        db.session.commit()
    except Exception:  # noqa: BLE001 (the action happened; losing its log line must not undo that)
        db.session.rollback()
        log.exception("could not write the AI action log")


def _run_tool(name: str, arguments: dict, principal: Principal, now: dt.datetime) -> dict:
    tool = TOOLS.get(name) if isinstance(name, str) else None
    if tool is None:
        raise ToolError("unknown_action", f"There is no action called {name!r}.",
                        hint=f"Use one of: {', '.join(ACTIONS)}.", details={"validActions": list(ACTIONS)})
    if not isinstance(arguments, dict):
        raise ToolError("invalid_request", f"{name}: the arguments must be a JSON object.",
                        hint=_fields_hint(name), details=_field_details(name))
    _check_scope(tool, arguments, principal)
    try:
        args = tool.model.model_validate(arguments)
    except ValidationError as exc:
        raise _validation_error(name, exc) from None
    _check_organization(args, principal)
    try:
        payload = tool.handler(args, principal, now)
    except (ServiceError, ToolError) as exc:
        error = exc if isinstance(exc, ToolError) else _from_service_error(name, exc)
        log.info("ai %s by %s (%s): %s", name, principal.actor.id, principal.organization_slug, error.code)
        raise error from None
    log.info("ai %s by %s (%s): ok", name, principal.actor.id, principal.organization_slug)
    return payload


def _check_scope(tool: Tool, arguments: dict, principal: Principal) -> None:
    if tool.scope in principal.scopes:
        return
    # The public assistant reads a booking it holds the manage token of, as the manage page does.
    if tool.name == "get_booking" and principal.manage_token_required and arguments.get("manageToken"):
        return
    raise ToolError(
        "insufficient_scope", f"Not allowed to {tool.name.replace('_', ' ')}: that needs the {tool.scope!r} scope.",
        hint=("An owner or admin can create a key with that permission in the dashboard under API keys."
              if principal.key_id is not None else
              "This assistant cannot do that here: ask a member of staff, or use the booking's manage link."),
        status=403, details={"requiredScope": tool.scope, "scopes": sorted(principal.scopes)})


def _check_organization(args: ToolInput, principal: Principal) -> None:
    slug = args.organization_slug
    if slug and slug.casefold() != principal.organization_slug.casefold():
        raise ToolError(
            "organization_mismatch", f"This key belongs to {principal.organization_slug!r}, not {slug!r}.",
            hint=f"Use organizationSlug {principal.organization_slug!r} (or leave it out), or a key of that "
                 "organization.", status=403, details={"organizationSlug": principal.organization_slug})


# --- errors an agent can act on ---------------------------------------------------------------------

HINTS = {
    "slot_taken": "Offer the customer one of the alternatives (each can be passed to the same action as it "
                  "is), or call find_availability for other times.",
    "outside_cutoff": "Online changes are closed this close to the start: ask the customer to contact the gym "
                      "directly.",
    "booking_cancelled": "A cancelled booking can't be moved: make a new one with book_slot.",
    "already_cancelled": "Nothing to do: the booking is already cancelled.",
    "booking_finished": "The booking has already taken place; it can't be changed.",
    "idempotency_conflict": "Use a new idempotencyKey for a different booking.",
    "type_removed": "Make a new booking with book_slot and cancel this one.",
    "no_booking_link": "Pass bookingLinkSlug, or ask an admin to add this trainer and service to a public "
                       "booking page in the dashboard.",
    "not_found": "Check the id; get_bookings lists bookings and find_availability lists trainers and services.",
    "invalid_request": "Correct the fields named in `fields` and call again.",
}
# Service field names (snake_case) that differ from the tools' camelCase ones.
FIELD_NAMES = {"link": "bookingLinkSlug", "date_from": "startDate", "date_to": "endDate",
               "start_time": "startTime", "token": "manageToken"}


def _field_name(name: str) -> str:
    return FIELD_NAMES.get(name) or to_camel(name)


def _camel_message(message: str) -> str:
    """Service messages name snake_case fields; agents know them by their camelCase names."""
    return re.sub(r"\b[a-z]+(?:_[a-z]+)+\b", lambda m: _field_name(m.group(0)), message)


def _field_details(name: str) -> dict:
    model = TOOLS[name].model
    return {"validFields": tool_fields(name),
            "requiredFields": [info.alias for info in model.model_fields.values() if info.is_required()]}


def _fields_hint(name: str) -> str:
    details = _field_details(name)
    required = ", ".join(details["requiredFields"]) or "none"
    return (f"{name} takes: {', '.join(details['validFields'])} (required: {required}). "
            "GET /api/ai/tools has the full schema.")


def _validation_error(name: str, exc: ValidationError) -> ToolError:
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
    return ToolError("invalid_request", f"{name}: {summary}.", hint=_fields_hint(name),
                     details={"fields": fields, **_field_details(name)})


def _slot_json_from_dict(slot: dict, link_slug: str | None = None) -> dict:
    out = {"startTime": slot["start"], "endTime": slot["end"], "staffId": slot.get("staff_id"),
           "staffName": slot.get("staff_name"), "appointmentTypeId": slot.get("appointment_type_id")}
    if link_slug:
        out["bookingLinkSlug"] = link_slug
    return out


def _from_service_error(name: str, exc: ServiceError, *, link_slug: str | None = None) -> ToolError:
    """A service's error in the tools' terms: camelCase names, a hint, the status it stands for.
    `link_slug`: the booking page the error's alternatives are times of."""
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    details: dict[str, Any] = {}
    for key, value in exc.details.items():
        if key == "alternatives":
            value = [_slot_json_from_dict(slot, link_slug) for slot in value or []]
        details[to_camel(key)] = value
    if exc.fields:
        details["fields"] = {_field_name(key): _camel_message(value) for key, value in exc.fields.items()}
    if isinstance(exc, InvalidRequest):
        details.update(_field_details(name))
    default = "not_found" if isinstance(exc, NotFound) else "invalid_request" if isinstance(exc, InvalidRequest) \
        else None
    return ToolError(exc.code, _camel_message(exc.message), hint=HINTS.get(exc.code) or HINTS.get(default),
                     status=status, details=details)


# --- shapes of the answers ---------------------------------------------------------------------------

def booking_json(booking: Booking, staff_name: str | None = None, type_name: str | None = None) -> dict:
    """A booking as the tools show it: UTC times, and local ones in the customer's zone."""
    tz = booking.attendee_timezone or "UTC"
    if staff_name is None and booking.staff is not None:
        staff_name = booking.staff.name
    if type_name is None and booking.appointment_type is not None:
        type_name = booking.appointment_type.name
    return {
        "id": str(booking.id),
        "status": booking.status,
        "startTime": iso_utc(booking.start_at),
        "endTime": iso_utc(booking.end_at),
        "localStart": iso_local(booking.start_at, tz),
        "localEnd": iso_local(booking.end_at, tz),
        "timezone": tz,
        "duration": booking.duration_minutes,
        "staff": {"id": str(booking.staff_id), "name": staff_name},
        "appointmentType": ({"id": str(booking.appointment_type_id), "name": type_name}
                            if booking.appointment_type_id else None),
        "attendee": {"name": booking.attendee_name, "email": booking.attendee_email,
                     "phone": booking.attendee_phone},
        "description": booking.description,
        "locationDetails": booking.location_details,
        "cancellationReason": booking.cancellation_reason,
        "createdAt": iso_utc(booking.created_at),
    }


# --- which public booking page a booking goes through -------------------------------------------------

@dataclass(frozen=True)
class _Page:
    slug: str
    name: str
    type: str
    staff_ids: frozenset[str]
    type_ids: frozenset[str]


def _pages(org_id: uuid.UUID) -> list[_Page]:
    """The organization's active public booking pages, with their active staff and services."""
    return [
        _Page(link.slug, link.name, link.type, frozenset(str(m.id) for m in link_staff(link)),
              frozenset(str(t.id) for t in link.appointment_types if t.is_active))
        for link in catalog.booking_links(org_id) if link.is_public and link.is_active
    ]


def _ranked_pages(pages: list[_Page], staff_id: str | None, type_id: str, *,
                  together: bool = True) -> list[_Page]:
    """The pages through which `type_id` can be booked (with `staff_id`, if given), best first.

    With a trainer: their individual page first, then a round-robin team page, and only then a
    collective page they are on (it books every trainer of the page; `together=False` leaves those
    out). Without one: a round-robin page (someone is assigned), then a collective page, then an
    individual page."""
    if staff_id:
        order = {"individual": 0, "round_robin": 1, **({"collective": 2} if together else {})}
    else:
        order = {"round_robin": 0, "collective": 1, "individual": 2}
    matches = [page for page in pages if type_id in page.type_ids and page.type in order
               and (staff_id is None or staff_id in page.staff_ids) and page.staff_ids]
    return sorted(matches, key=lambda page: (order[page.type], page.name.casefold(), page.slug))


def resolve_booking_link(org_id: uuid.UUID, *, staff_id: uuid.UUID | str | None,
                         appointment_type_id: uuid.UUID | str | None, booking_link_slug: str | None = None,
                         pages: list[_Page] | None = None) -> _Page:
    """The public booking page a booking of this trainer and service goes through, in this organization.

    An explicit slug must name an active public page of the organization. Otherwise the page offering
    both the trainer and the service, preferring the trainer's own page. Raises NotFound, InvalidRequest
    or ToolError `no_booking_link` (with a hint) when there is none."""
    pages = _pages(org_id) if pages is None else pages
    if booking_link_slug:
        for page in pages:
            if page.slug == booking_link_slug:
                return page
        raise NotFound(f"No public booking page called {booking_link_slug!r} in this organization.",
                       fields={"link": "not a public booking page of this organization"})
    if appointment_type_id is None:
        raise InvalidRequest("Say which service: appointmentTypeId (or a bookingLinkSlug).",
                             fields={"appointment_type_id": "required unless bookingLinkSlug is given"})
    staff = str(staff_id) if staff_id else None
    ranked = _ranked_pages(pages, staff, str(appointment_type_id))
    if not staff:
        individual = [page for page in ranked if page.type == "individual"]
        if ranked and ranked[0].type == "individual" and len({s for p in individual for s in p.staff_ids}) > 1:
            raise InvalidRequest("Several trainers offer this service: say which one with staffId.",
                                 fields={"staff_id": "required: several trainers offer this service"})
    if not ranked:
        raise ToolError(
            "no_booking_link", "No public booking page offers this service" + (" with this trainer." if staff else "."),
            hint=HINTS["no_booking_link"], status=409,
            details={"staffId": staff, "appointmentTypeId": str(appointment_type_id),
                     "bookingPages": [{"slug": p.slug, "name": p.name, "type": p.type} for p in pages]})
    return ranked[0]


# --- the six handlers ----------------------------------------------------------------------------------

def _cache_seconds() -> int:
    return int(current_app.config.get("AVAILABILITY_CACHE_SECONDS", 0)) if has_app_context() else 0


def _slot_json(slot, tz: str, duration: int, link_slug: str | None) -> dict:
    return {
        "startTime": iso_utc(slot.start), "endTime": iso_utc(slot.end),
        "localStart": iso_local(slot.start, tz), "localEnd": iso_local(slot.end, tz), "duration": duration,
        "staffId": slot.staff_id, "staffName": slot.staff_name, "staffIds": list(slot.staff_ids),
        "appointmentTypeId": slot.appointment_type_id, "bookingLinkSlug": link_slug,
    }


def _find_availability(args: FindAvailabilityInput, principal: Principal, now: dt.datetime) -> dict:
    common = dict(date_=args.date, start_date=args.start_date, end_date=args.end_date, duration=args.duration,
                  staff_id=str(args.staff_id) if args.staff_id else None, timezone_name=args.timezone, now=now,
                  cache=app_cache(), cache_seconds=_cache_seconds())
    pages = _pages(principal.organization_id)
    type_id = str(args.appointment_type_id) if args.appointment_type_id else None
    link_slug = args.booking_link_slug
    if link_slug:
        resolve_booking_link(principal.organization_id, staff_id=None, appointment_type_id=None,
                             booking_link_slug=link_slug, pages=pages)
    else:
        staff = common["staff_id"]
        type_id = _service_to_search(pages, type_id, args.duration, staff)
        offered = [p for p in pages if type_id in p.type_ids and (staff is None or staff in p.staff_ids)]
        if type_id and offered and all(p.type == "collective" for p in offered):
            # Only a page that books its trainers together offers it: their shared times are on that page.
            link_slug = min(offered, key=lambda p: (p.name.casefold(), p.slug)).slug
            common["staff_id"] = None
    if link_slug:
        search = search_slots(link_slug=link_slug, appointment_type_id=type_id, **common)
        found = [(slot, link_slug) for slot in search.slots]
    else:
        search = search_slots(org_slug=principal.organization_slug, appointment_type_id=type_id, **common)
        route: dict[tuple[str, str], str | None] = {}
        found = []
        for slot in search.slots:
            key = (slot.staff_id, slot.appointment_type_id)
            if key not in route:
                # One trainer's free time is not the whole collective's: offer it on their own pages.
                ranked = _ranked_pages(pages, slot.staff_id, slot.appointment_type_id, together=False)
                route[key] = ranked[0].slug if ranked else None
            if route[key]:  # times nobody can book online are not offered
                found.append((slot, route[key]))
    tz = search.timezone
    shown = found[:args.limit]
    payload = {
        "success": True,
        "organization": {"slug": search.organization_slug, "name": search.organization_name},
        "timezone": tz, "startDate": search.start_date.isoformat(), "endDate": search.end_date.isoformat(),
        "appointmentType": {"id": search.appointment_type_id, "name": search.appointment_type_name,
                            "duration": search.duration_minutes},
        "slots": [_slot_json(slot, tz, search.duration_minutes, slug) for slot, slug in shown],
        "totalSlots": len(found),
        "truncated": len(found) > len(shown),
    }
    if not found:
        payload["hint"] = "No free times in this range: try later dates (startDate/endDate) or another trainer."
    return payload


def _service_to_search(pages: list[_Page], type_id: str | None, duration: int | None,
                       staff_id: str | None) -> str | None:
    """Without a page, search a service that can be booked online: the one asked for, else the first
    (by name) of that duration, else the first of all. None: leave the choice to search_slots."""
    if type_id:
        return type_id
    bookable = {t for p in pages if p.staff_ids and (staff_id is None or staff_id in p.staff_ids)
                for t in p.type_ids}
    if not bookable:
        where = " with this trainer." if staff_id else "."
        raise ToolError("no_booking_link", "Nothing can be booked online" + where, hint=HINTS["no_booking_link"],
                        status=409)
    types = db.session.scalars(
        select(AppointmentType).where(AppointmentType.id.in_([uuid.UUID(t) for t in bookable]))
        .order_by(AppointmentType.name, AppointmentType.id)
    ).all()
    if duration:
        types = [t for t in types if t.duration_minutes == duration]
    return str(types[0].id) if types else None


def _book_slot(args: BookSlotInput, principal: Principal, now: dt.datetime) -> dict:
    page = resolve_booking_link(principal.organization_id, staff_id=args.staff_id,
                                appointment_type_id=args.appointment_type_id,
                                booking_link_slug=args.booking_link_slug)
    # A collective page books every trainer on it: naming one would book that trainer alone.
    staff_id = str(args.staff_id) if args.staff_id and page.type != "collective" else None
    try:
        result = create_booking(
            link_slug=page.slug, start_time=args.start_time, end_time=args.end_time,
            attendee_name=args.attendee_name, attendee_email=args.attendee_email,
            attendee_phone=args.attendee_phone, attendee_timezone=args.attendee_timezone,
            appointment_type_id=str(args.appointment_type_id) if args.appointment_type_id else None,
            staff_id=staff_id, description=args.description, location_details=args.location_details,
            idempotency_key=args.idempotency_key, actor=principal.actor, source="ai", now=now,
        )
    except SlotTaken as exc:  # the alternatives are times on the same page: say which
        raise _from_service_error("book_slot", exc, link_slug=page.slug) from None
    payload = {"success": True,
               "booking": booking_json(result.booking, result.staff_name, result.appointment_type_name),
               "bookingLinkSlug": page.slug}
    if result.created:
        payload["manageToken"] = result.manage_token
        payload["manageUrl"] = manage_url(result.manage_token)
    else:
        payload["idempotentReplay"] = True
        payload["message"] = "This idempotencyKey was used before: this is the booking it made."
    return payload


def _load_booking(args: BookingRefInput, principal: Principal) -> Booking:
    """The booking a call names, visible to the principal (another organization's: not found)."""
    if args.manage_token:
        booking = get_booking_by_token(args.manage_token)
        if booking.organization_id != principal.organization_id or (args.booking_id and booking.id != args.booking_id):
            raise NotFound("This booking link is not valid.", fields={"token": "not a manage token of this booking"})
        return booking
    if principal.manage_token_required:
        raise ToolError("manage_token_required", "A booking can only be looked up or changed with its manage link.",
                        hint="Ask the customer for the link in their confirmation email (/booking/manage/<token>) "
                             "and pass the token as manageToken.", status=403,
                        details={"fields": {"manageToken": "required"}})
    if args.booking_id is None:
        raise InvalidRequest("Say which booking: bookingId (or manageToken).",
                             fields={"booking_id": "required (or manageToken)"})
    booking = reports.get_booking(principal.organization_id, args.booking_id)
    if principal.own_bookings_of is not None and booking.staff_id != principal.own_bookings_of:
        raise ToolError("forbidden", "This is another trainer's booking.",
                        hint="Trainers see their own bookings; an owner or admin can see all.", status=403)
    return booking


def _change_payload(booking: Booking) -> dict:
    return {"success": True, "booking": booking_json(booking)}


def _reschedule_booking(args: RescheduleBookingInput, principal: Principal, now: dt.datetime) -> dict:
    booking = _load_booking(args, principal)
    moved = reschedule_booking(booking.id, start_time=args.start_time,
                               staff_id=str(args.staff_id) if args.staff_id else None, actor=principal.actor, now=now)
    return _change_payload(moved)


def _cancel_booking(args: CancelBookingInput, principal: Principal, now: dt.datetime) -> dict:
    booking = _load_booking(args, principal)
    return _change_payload(cancel_booking(booking.id, reason=args.reason, actor=principal.actor, now=now))


def _get_booking(args: GetBookingInput, principal: Principal, now: dt.datetime) -> dict:
    booking = _load_booking(args, principal)
    org = db.session.get(Organization, booking.organization_id)
    until = booking.start_at - dt.timedelta(minutes=org.cancellation_cutoff_minutes)
    return {"success": True, "booking": booking_json(booking), "canChangeUntil": iso_utc(until),
            "canChangeOnline": booking.is_active and now < until,
            "cancellationCutoffMinutes": org.cancellation_cutoff_minutes}


def _get_bookings(args: GetBookingsInput, principal: Principal, now: dt.datetime) -> dict:
    org = db.session.get(Organization, principal.organization_id)
    tz = require_zone(args.timezone, default=org.timezone)
    staff_id = args.staff_id
    if principal.own_bookings_of is not None:
        if staff_id is not None and staff_id != principal.own_bookings_of:
            raise ToolError("forbidden", "Trainers see only their own bookings.",
                            hint="Leave staffId out to list your own.", status=403)
        staff_id = principal.own_bookings_of
    filters = reports.BookingFilter(status=args.status, staff_id=staff_id, date_from=args.start_date,
                                    date_to=args.end_date, q=args.search, when=args.when)
    page = reports.list_bookings(principal.organization_id, tz, filters, page=args.page, per_page=args.limit, now=now)
    return {"success": True, "bookings": [booking_json(b) for b in page.bookings], "total": page.total,
            "page": page.page, "pages": page.pages, "limit": page.per_page, "timezone": tz}


TOOLS: dict[str, Tool] = {tool.name: tool for tool in (
    Tool("find_availability",
         "Find free times to book at the gym. Returns slots (earliest first), each with startTime, endTime, "
         "staffId, appointmentTypeId and bookingLinkSlug: pass those to book_slot unchanged. Filter by date or "
         "startDate/endDate, duration or appointmentTypeId (the service), staffId (a trainer), or "
         "bookingLinkSlug (one booking page). Times are UTC (…Z) with local times in `timezone`.",
         FindAvailabilityInput, "availability:read", _find_availability),
    Tool("book_slot",
         "Book a free time for a customer. Use a slot from find_availability (startTime, staffId, "
         "appointmentTypeId) and the customer's name and email. The time is checked again when booking; if it "
         "was just taken the error `slot_taken` lists the nearest free alternatives. Returns the booking and "
         "the customer's manage link. The customer is emailed a confirmation.",
         BookSlotInput, "bookings:write", _book_slot, read_only=False),
    Tool("reschedule_booking",
         "Move an existing booking to another free time (optionally with another trainer of the same booking "
         "page). Name the booking by bookingId or the customer's manageToken. Refused within the gym's "
         "cancellation cutoff (`outside_cutoff`, with the policy).",
         RescheduleBookingInput, "bookings:write", _reschedule_booking, read_only=False),
    Tool("cancel_booking",
         "Cancel a booking (bookingId or manageToken), with an optional reason. The time becomes free at once "
         "and the customer and trainer are told. Refused within the gym's cancellation cutoff.",
         CancelBookingInput, "bookings:write", _cancel_booking, read_only=False),
    Tool("get_booking",
         "Look up one booking by bookingId or manageToken: its time, trainer, service, customer and status, "
         "and until when it can still be changed online.",
         GetBookingInput, "bookings:read", _get_booking),
    Tool("get_bookings",
         "List the gym's bookings, upcoming by default, filtered by dates, status, trainer (staffId) or part "
         "of the customer's name or email (search). Paged: limit and page.",
         GetBookingsInput, "bookings:read", _get_bookings),
)}
assert tuple(TOOLS) == ACTIONS
