"""The AI booking tools (the spec's six, list_services, and the class tools find_classes and
book_class), one definition each, shared by every way an agent comes in.

POST /api/ai/booking, GET /api/ai/tools, the MCP server and the in-app assistants all go through
`tool_definitions()` and `run_tool()` (dispatch.py). A tool is its name, what the model is told it
does, its arguments (a model in schemas.py, which also makes its JSON Schema), the scope it needs and
its handler (actions.py).
"""
from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.agents.actions import (
    book_slot,
    cancel_booking,
    find_availability,
    get_booking,
    get_bookings,
    list_services,
    reschedule_booking,
)
from app.agents.class_actions import book_class, find_classes
from app.agents.principals import Principal
from app.agents.schemas import (
    BookClassInput,
    BookSlotInput,
    CancelBookingInput,
    FindAvailabilityInput,
    FindClassesInput,
    GetBookingInput,
    GetBookingsInput,
    ListServicesInput,
    RescheduleBookingInput,
    ToolInput,
    input_fields,
    input_schema,
)


@dataclass(frozen=True)
class Tool:
    """One tool: what agents are told (name, description, the schema of `model`) and what runs it."""

    name: str
    description: str
    model: type[ToolInput]
    scope: str
    handler: Callable[[Any, Principal, dt.datetime], dict]
    read_only: bool = True
    creates: bool = False  # it only adds (a booking, a spot): 201 when it did, never destructive


TOOLS: dict[str, Tool] = {tool.name: tool for tool in (
    Tool("find_availability",
         "Find free times to book at the gym. Returns slots (earliest first), each with startTime, endTime, "
         "staffId, staffIds, appointmentTypeId (and its name) and bookingLinkSlug: pass those to book_slot "
         "unchanged. Without appointmentTypeId every bookable service (of the duration, if given) is searched. Filter by date or "
         "startDate/endDate, duration or appointmentTypeId (the service), staffId (a trainer), or "
         "bookingLinkSlug (one booking page). Times are UTC (…Z) with local times in `timezone`. Each slot also "
         "says whether a booking made now could still be changed or cancelled online (changeableOnline, and "
         "canChangeOnlineUntil): a slot inside the gym's cancellation cutoff has changeableOnline false — tell the "
         "customer before booking it that only the gym can change or cancel it.",
         FindAvailabilityInput, "availability:read", find_availability),
    Tool("book_slot",
         "Book a free time for a customer. Use a slot from find_availability unchanged (startTime, staffId, "
         "staffIds, appointmentTypeId, bookingLinkSlug) and the customer's name and email: a slot of several "
         "trainers (staffIds) is booked with all of them together. The time is checked again when booking; if it "
         "was just taken the error `slot_taken` lists the nearest free alternatives. Returns the booking and "
         "the customer's manage link. The customer is emailed a confirmation.",
         BookSlotInput, "bookings:write", book_slot, read_only=False, creates=True),
    Tool("reschedule_booking",
         "Move an existing booking to another free time (optionally with another trainer of the same booking "
         "page). Name the booking by bookingId or the customer's manageToken. Refused within the gym's "
         "cancellation cutoff (`outside_cutoff`, with the policy), and once the booking page it was made on is "
         "offline or no longer offers its service (`link_inactive`, `type_not_offered`): it can still be cancelled.",
         RescheduleBookingInput, "bookings:write", reschedule_booking, read_only=False),
    Tool("cancel_booking",
         "Cancel a booking (bookingId or manageToken), with an optional reason. The time becomes free at once "
         "and the customer and trainer are told. Refused within the gym's cancellation cutoff.",
         CancelBookingInput, "bookings:write", cancel_booking, read_only=False),
    Tool("get_booking",
         "Look up one booking by bookingId or manageToken: its time, trainer, service, customer and status, "
         "until when it can still be changed online, and whether it can still be moved online "
         "(canRescheduleOnline).",
         GetBookingInput, "bookings:read", get_booking),
    Tool("get_bookings",
         "List the gym's bookings, upcoming by default, filtered by dates (startDate alone: from that date on), "
         "status, trainer (staffId) or part of the customer's name or email (search). A booking with several "
         "trainers together is listed and counted once, naming them all in `trainers`. Paged: limit and page.",
         GetBookingsInput, "bookings:read", get_bookings),
    Tool("list_services",
         "List what can be booked online: every service (id, name, duration, price) with the trainers who take "
         "it and the booking pages that book it, and every trainer with their services. Use the ids with "
         "find_availability (appointmentTypeId, staffId).",
         ListServicesInput, "availability:read", list_services),
    Tool("find_classes",
         "Find group classes at the gym (spin, HIIT, yoga…): the sessions still to come, earliest first, each with "
         "its sessionId, class (classTypeId, name), start and end (UTC …Z, and local times in `timezone`), "
         "instructor, capacity, spotsLeft, waitlistLength, full, waitlistOpen and bookable. Filter by date or "
         "startDate/endDate (at most 62 days), classTypeId (classTypes lists the gym's classes) or instructorId. "
         "Pass a session's sessionId to book_class.",
         FindClassesInput, "availability:read", find_classes),
    Tool("book_class",
         "Book a customer into a class session (a sessionId from find_classes) with their name and email. While "
         "places are left the spot is confirmed. When the class is full the answer is the error `class_full` "
         "(with waitlistOpen), unless joinWaitlist is true: then the customer joins its waitlist (status "
         "waitlisted, with waitlistPosition; 1 is next) and is promoted automatically, and emailed, if a place "
         "frees up before the gym's waitlist cutoff. Ask the customer before putting them on a waitlist. One spot "
         "per person per class (`already_booked`). Returns the spot and the customer's manage link (to cancel or "
         "leave the waitlist). The customer is emailed.",
         BookClassInput, "bookings:write", book_class, read_only=False, creates=True),
)}
ACTIONS: tuple[str, ...] = tuple(TOOLS)


def tool_definitions() -> list[dict]:
    """The tools in Claude's tool format: name, description, input_schema (JSON Schema)."""
    return copy.deepcopy(_definitions())


@functools.cache
def _definitions() -> list[dict]:
    # Built once per process (the models never change at run time); callers get their own copy.
    return [{"name": tool.name, "description": tool.description, "input_schema": input_schema(tool.model)}
            for tool in TOOLS.values()]


def tool_fields(name: str) -> list[str]:
    """The argument names a tool accepts (camelCase), in the order of its schema."""
    return input_fields(TOOLS[name].model)
