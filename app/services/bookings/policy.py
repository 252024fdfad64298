"""What may still be done with a booking: the change cutoff, and whether it is still active.

Customers and agents may not move or cancel a booking online within the organization's
cancellation cutoff of its start; staff (and the trainer's own calendar) always may. One home for
the rule: the booking service enforces it, and the pages and APIs show the same deadline.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from app.models import ACTIVE_STATUSES, Booking, Organization
from app.services.errors import Conflict
from app.timeformat import duration_text

# Who must respect the organization's cancellation/reschedule cutoff (staff may always act).
CUTOFF_BOUND_ACTORS = ("attendee", "ai")


def change_deadline(booking: Booking, org: Organization) -> datetime:
    """The last moment a customer or an agent may move or cancel `booking` online."""
    return booking.start_at - timedelta(minutes=org.cancellation_cutoff_minutes)


def check_cutoff(booking: Booking, org: Organization, actor_type: str, now: datetime, verb: str) -> None:
    """Conflict `outside_cutoff` (with the policy) when a bound actor acts after the deadline."""
    if actor_type not in CUTOFF_BOUND_ACTORS or now <= change_deadline(booking, org):
        return
    policy = duration_text(org.cancellation_cutoff_minutes)
    raise Conflict(
        f"Bookings can't be {verb} online within {policy} of the start. Please contact {org.name}.",
        code="outside_cutoff", cutoff_minutes=org.cancellation_cutoff_minutes,
        policy=f"No online changes within {policy} of the start.",
    )


def check_still_active(booking: Booking, verb: str = "changed") -> None:
    """Conflict when the booking was cancelled or has already taken place."""
    if booking.status == "cancelled":
        raise Conflict(f"This booking was cancelled, so it can't be {verb}. Please make a new booking.",
                       code="booking_cancelled")
    if booking.status not in ACTIVE_STATUSES:
        raise Conflict("This booking has already taken place.", code="booking_finished")
