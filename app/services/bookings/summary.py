"""A booking as every entry point shows it: the facts, once, in plain values.

The JSON API (snake_case), the AI tools (camelCase) and the assistant each name these fields their
own way; which zone the local times are in, and where the trainer's and the service's names come
from, is decided here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.models import Booking


@dataclass(frozen=True)
class BookingSummary:
    id: str
    status: str
    start: datetime
    end: datetime
    timezone: str  # the customer's: local times are shown in it
    duration_minutes: int
    staff_id: str
    staff_name: str | None
    appointment_type_id: str | None
    appointment_type_name: str | None
    attendee_name: str
    attendee_email: str
    attendee_phone: str | None
    description: str | None
    location_details: str | None
    cancellation_reason: str | None
    created_at: datetime


def summarize(booking: Booking, staff_name: str | None = None, type_name: str | None = None) -> BookingSummary:
    """The booking's facts. Pass the names when they are known, to spare loading the trainer and
    the appointment type again."""
    if staff_name is None and booking.staff is not None:
        staff_name = booking.staff.name
    if type_name is None and booking.appointment_type_id is not None and booking.appointment_type is not None:
        type_name = booking.appointment_type.name
    return BookingSummary(
        id=str(booking.id), status=booking.status, start=booking.start_at, end=booking.end_at,
        timezone=booking.attendee_timezone or "UTC", duration_minutes=booking.duration_minutes,
        staff_id=str(booking.staff_id), staff_name=staff_name,
        appointment_type_id=str(booking.appointment_type_id) if booking.appointment_type_id else None,
        appointment_type_name=type_name, attendee_name=booking.attendee_name,
        attendee_email=booking.attendee_email, attendee_phone=booking.attendee_phone,
        description=booking.description, location_details=booking.location_details,
        cancellation_reason=booking.cancellation_reason, created_at=booking.created_at,
    )
