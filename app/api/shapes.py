"""What the JSON API answers, as pydantic models: the responses of the OpenAPI document (app/api/openapi.py).

The requests are validated by their own models (next to each view); these describe the answers.
The views build their bodies as plain dicts (the availability body is cached as bytes), so these
models are not on the hot path: the contract tests (tests/api/test_openapi_contract.py, schemathesis)
check every answer the API gives against them, and a field added to a view without its model here
fails there. Models are closed (`extra="forbid"`) unless an answer is open by design (an error's
details, a tool's payload), so the document says exactly what a client gets.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- errors ------------------------------------------------------------------------------------

class ErrorDetail(Open):
    """What went wrong. `code` is stable and meant for programs; `message` is for people. Other
    members depend on the error: `fields` (which input is wrong, and why), `alternatives` (free
    times near one that was taken), `hint`, `valid_tests`, `validActions`, `suggestion` (the
    canonical time zone meant by an unknown one: "London" → "Europe/London")."""

    code: str = Field(examples=["invalid_request", "not_found", "slot_taken"])
    message: str
    fields: dict[str, str] | None = Field(None, description="Input name → what is wrong with it.")


class ErrorResponse(Closed):
    """Every error the API gives has this shape."""

    success: Literal[False]
    error: ErrorDetail


# --- availability ------------------------------------------------------------------------------

class SlotOut(Closed):
    start: dt.datetime = Field(description="UTC, ISO 8601 with Z.")
    end: dt.datetime
    duration: int = Field(description="Minutes.")
    staff_id: str = Field(description="The trainer this slot would be booked with.")
    staff_name: str
    appointment_type_id: str
    staff_ids: list[str] = Field(description="Every trainer free at this time (a team page assigns one).")
    local_start: str = Field(description="Local time in the search's zone, ISO 8601 with its offset.")
    local_end: str


class AppointmentTypeRef(Closed):
    id: str
    name: str
    duration: int


class BookingLinkRef(Closed):
    slug: str
    name: str
    type: str = Field(description="individual, team (one of several trainers) or round_robin.")


class OrganizationRef(Closed):
    slug: str
    name: str


class AvailabilityResponse(Closed):
    success: Literal[True]
    slots: list[SlotOut]
    timezone: str = Field(description="The IANA zone of the local times and of start_date/end_date.")
    start_date: dt.date
    end_date: dt.date
    appointment_type: AppointmentTypeRef
    booking_link: BookingLinkRef | None
    organization: OrganizationRef


# --- bookings ----------------------------------------------------------------------------------

class StaffRef(Closed):
    id: str
    name: str | None


class Attendee(Closed):
    name: str
    email: str
    phone: str | None


class BookingOut(Closed):
    id: str
    status: str = Field(description="confirmed, cancelled, rescheduled, completed or no_show.")
    start: dt.datetime
    end: dt.datetime
    local_start: str
    local_end: str
    timezone: str = Field(description="The attendee's IANA zone (the local times are in it).")
    duration: int
    staff: StaffRef
    appointment_type: AppointmentTypeRef | None
    attendee: Attendee
    description: str | None
    location_details: str | None
    cancellation_reason: str | None
    created_at: dt.datetime


class BookingCreated(Closed):
    """201: booked. The manage token is shown only here (it is stored hashed); a replay of the same
    Idempotency-Key answers 200 with the booking, `idempotent_replay: true` and no token."""

    success: Literal[True]
    booking: BookingOut
    manage_token: str | None = None
    manage_url: str | None
    idempotent_replay: bool | None = None
    message: str | None = None


class BookingAnswer(Closed):
    success: Literal[True]
    booking: BookingOut


class ManagedBooking(BookingAnswer):
    can_change_until: dt.datetime = Field(description="Until when it can be changed or cancelled here.")
    can_reschedule: bool = Field(description="Whether PUT can move it now: before can_change_until, and its booking "
                                             "page still online and offering its service (else 409 link_inactive "
                                             "or type_not_offered; cancelling still works).")


# --- classes -----------------------------------------------------------------------------------

class ClassSessionOut(Closed):
    id: str
    class_type_id: str
    name: str = Field(description="The class's name (Spin, HIIT…).")
    description: str | None
    color: str = Field(description="The class's colour, #rrggbb.")
    start: dt.datetime = Field(description="UTC, ISO 8601 with Z.")
    end: dt.datetime
    local_start: str = Field(description="Local time in the answer's zone, ISO 8601 with its offset.")
    local_end: str
    duration: int = Field(description="Minutes.")
    instructor_id: str
    instructor_name: str | None
    location: str | None
    capacity: int
    booked: int = Field(description="Places taken.")
    spots_left: int
    waitlist_length: int = Field(description="People waiting, in arrival order.")
    status: Literal["scheduled", "cancelled"]
    full: bool = Field(description="No place left (spots_left is 0).")
    waitlist_open: bool = Field(description="Someone joining the waitlist now could still be promoted (until the "
                                            "organization's waitlist cutoff before the start).")
    bookable: bool = Field(description="POST /api/classes/book can take a spot now: scheduled, not started, and a "
                                       "place left or the waitlist open.")
    price_pennies: int = Field(description="Price in minor units of `currency` (0: free).")
    currency: str


class ClassesResponse(Closed):
    success: Literal[True]
    sessions: list[ClassSessionOut]
    timezone: str = Field(description="The IANA zone of the local times and of start_date/end_date.")
    start_date: dt.date
    end_date: dt.date
    organization: OrganizationRef


class ClassBookingOut(Closed):
    """A spot in a class session (`kind: class`), as POST /api/classes/book and /api/booking/manage show it."""

    id: str
    kind: Literal["class"]
    status: str = Field(description="confirmed, waitlisted, cancelled, attended or no_show.")
    waitlist_position: int | None = Field(description="Place on the waitlist (1 is next); null unless waitlisted.")
    start: dt.datetime
    end: dt.datetime
    local_start: str
    local_end: str
    timezone: str = Field(description="The attendee's IANA zone (the local times are in it).")
    session: ClassSessionOut
    attendee: Attendee
    cancel_kind: str | None = Field(description="Why it was given up: customer, late (inside the late-cancel "
                                                "window), removed, session_cancelled, left_waitlist or "
                                                "waitlist_closed.")
    cancellation_reason: str | None
    created_at: dt.datetime


class ClassBookingCreated(Closed):
    """201: a spot, confirmed or on the waitlist. The manage token is shown only here (it is stored hashed)."""

    success: Literal[True]
    booking: ClassBookingOut
    manage_token: str
    manage_url: str


class ClassBookingAnswer(Closed):
    success: Literal[True]
    kind: Literal["class"]
    booking: ClassBookingOut


class ManagedClassBooking(ClassBookingAnswer):
    can_cancel: bool = Field(description="Whether DELETE can give it up (or leave the waitlist) now.")
    can_cancel_until: dt.datetime = Field(description="The class's start.")
    late_cancel_from: dt.datetime = Field(description="From then on, giving up a confirmed spot is recorded as a "
                                                      "late cancellation.")
    can_reschedule: Literal[False] = Field(description="Classes are not moved by customers (PUT answers 409 "
                                                       "class_not_reschedulable).")


class ManageAnswer(RootModel[ManagedBooking | ManagedClassBooking]):
    """GET /api/booking/manage: an appointment, or a class spot (`kind: class`)."""


class ManageChangeAnswer(RootModel[BookingAnswer | ClassBookingAnswer]):
    """DELETE /api/booking/manage: the cancelled appointment, or the class spot given up (`kind: class`)."""


# --- AI tools ----------------------------------------------------------------------------------

class ToolDefinition(Closed):
    name: str
    description: str
    input_schema: dict


class ToolsResponse(Closed):
    success: Literal[True]
    tools: list[ToolDefinition]
    endpoint: str
    usage: str
    scopes: dict[str, str] = Field(description="Tool → the API key scope it needs.")
    allScopes: list[str]


class ToolResult(Open):
    """The tool's answer: `success: true` and the tool's own members (slots, booking, bookings…),
    described in each tool's definition at GET /api/ai/tools."""

    success: Literal[True]


# --- operations --------------------------------------------------------------------------------

class ProcessOutcome(Closed):
    claimed: int
    sent: int
    failed: int
    retried: int
    skipped: int
    lost: int
    unsettled: int
    recovered: int
    held: int = Field(description="Reminders that came due inside quiet hours, moved to their end.")


class ProcessResponse(Closed):
    success: Literal[True]
    processed: ProcessOutcome
    remaining_due: int
    counts: dict[str, int] = Field(description="Notifications per status.")


class QueueHealth(Open):
    success: Literal[True]
    mode: str = Field(description="How notifications are sent: rq (workers), thread (in-process) or off (cron).")
    healthy: bool
    counts: dict[str, int]
    due_now: int
    oldest_due_seconds: float
    stuck_sending: int
    lease_seconds: int


class ComponentReport(Closed):
    status: Literal["ok", "degraded", "not_configured"]
    summary: str
    details: dict
    duration_ms: float


class SelfTestResponse(Closed):
    """200 with the report; 503 with the same shape when the database cannot be reached."""

    success: Literal[True]
    test: str | None = None
    status: Literal["ok", "degraded", "not_configured"]
    components: dict[str, ComponentReport]
    duration_ms: float
    checked_at: dt.datetime


class WebhookAck(Closed):
    success: Literal[True]
    state: str


class WebhookHealth(Closed):
    success: Literal[True]
    status: Literal["ok"]
    service: str
    configured: bool
    webhook_url: str | None
    time: dt.datetime


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    ErrorResponse, AvailabilityResponse, BookingCreated, BookingAnswer, ManagedBooking, ClassesResponse,
    ClassBookingCreated, ClassBookingAnswer, ManagedClassBooking, ManageAnswer, ManageChangeAnswer, ToolsResponse,
    ToolResult, ProcessResponse, QueueHealth, SelfTestResponse, WebhookAck, WebhookHealth,
)
