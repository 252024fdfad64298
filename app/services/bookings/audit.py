"""The audit trail: who changed a booking, how, and what it looked like before and after.

Every change to a booking writes a booking_audit row in the same transaction as the change.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.models import Booking, BookingAudit
from app.models.bookings import ACTOR_TYPES


@dataclass(frozen=True)
class Actor:
    """Who is making a change, for the audit trail (and for the rules that bind some callers only)."""

    type: str
    id: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if self.type not in ACTOR_TYPES:
            raise ValueError(f"unknown actor type {self.type!r}")


def snapshot(booking: Booking) -> dict:
    """The audited view of a booking."""
    return {
        "status": booking.status,
        "start_at": booking.start_at.isoformat() if booking.start_at else None,
        "end_at": booking.end_at.isoformat() if booking.end_at else None,
        "staff_id": str(booking.staff_id) if booking.staff_id else None,
        "appointment_type_id": str(booking.appointment_type_id) if booking.appointment_type_id else None,
        "attendee_name": booking.attendee_name,
        "attendee_email": booking.attendee_email,
        "attendee_phone": booking.attendee_phone,
        "cancellation_reason": booking.cancellation_reason,
    }


def record_audit(booking: Booking, actor: Actor, action: str, before: dict | None, after: dict | None) -> None:
    """Add the audit row for a change to `booking` (the caller commits it with the change)."""
    db.session.add(BookingAudit(
        organization_id=booking.organization_id, booking_id=booking.id, actor_type=actor.type, actor_id=actor.id,
        action=action, before=before, after=after, ip_address=(actor.ip or None) and actor.ip[:45],
        user_agent=(actor.user_agent or None) and actor.user_agent[:300],
    ))
