"""What may still be done with a booking: the change cutoff, whether it is still active, and the
service's notice and booking window (why a time is refused when it is not a clash).

Customers and agents may not move or cancel a booking online within the organization's
cancellation cutoff of its start; staff (and the trainer's own calendar) always may. One home for
the rule: the booking service enforces it, and the pages and APIs show the same deadline.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from app.models import Booking, Organization
from app.services.errors import Conflict
from app.timeformat import duration_text

# Who must respect the organization's cancellation/reschedule cutoff (staff may always act).
CUTOFF_BOUND_ACTORS = ("attendee", "ai")


def change_deadline(booking: Booking | datetime, org: Organization) -> datetime:
    """The last moment a customer or an agent may move or cancel `booking` online (`booking`: a
    booking, or the start of one not made yet — a slot on offer)."""
    start = booking if isinstance(booking, datetime) else booking.start_at
    return start - timedelta(minutes=org.cancellation_cutoff_minutes)


def changes_closed(booking: Booking | datetime, org: Organization, now: datetime) -> bool:
    """True once `now` is past the change deadline: a booking made now for this start (a slot) could
    not be moved or cancelled online at all, which the booking page and the agents say before it is made."""
    return now > change_deadline(booking, org)


def check_cutoff(booking: Booking, org: Organization, actor_type: str, now: datetime, verb: str) -> None:
    """Conflict `outside_cutoff` (with the policy) when a bound actor acts after the deadline."""
    if actor_type not in CUTOFF_BOUND_ACTORS or not changes_closed(booking, org, now):
        return
    policy = duration_text(org.cancellation_cutoff_minutes)
    raise Conflict(
        f"Bookings can't be {verb} online within {policy} of the start. Please contact {org.name}.",
        code="outside_cutoff", cutoff_minutes=org.cancellation_cutoff_minutes,
        policy=f"No online changes within {policy} of the start.",
    )


def check_still_active(booking: Booking, now: datetime, verb: str = "changed") -> None:
    """Conflict when the booking was cancelled (`booking_cancelled`) or is finished
    (`booking_finished`): marked completed or a no-show, or its end has passed, whatever its status.
    Nobody moves or cancels a session that is over — not the customer, an agent, staff or the
    trainer's calendar — so it comes before the cutoff (which would say "within 12 hours")."""
    if booking.status == "cancelled":
        raise Conflict(f"This booking was cancelled, so it can't be {verb}. Please make a new booking.",
                       code="booking_cancelled")
    if booking.is_finished(now):
        raise Conflict(f"This booking has already taken place, so it can't be {verb}.", code="booking_finished")


def check_notice_and_window(spec, start: datetime, now: datetime, what: str) -> None:
    """Conflict `too_soon` / `too_far_ahead` when `start` is inside the service's minimum notice or
    beyond its booking window (`spec`: an AppointmentSpec): the real reason, not `slot_taken` — the
    time is not taken, it can't be booked yet or any more. The engine offers no such start either."""
    notice = spec.min_notice_minutes or 0
    if start < now + timedelta(minutes=notice):
        raise Conflict(f"{what} needs at least {duration_text(notice)} notice: choose a later time."
                       if notice else "That time has passed: choose a later time.",
                       code="too_soon", min_notice_minutes=notice)
    window = spec.booking_window_days
    if window is not None and start >= now + timedelta(days=window):
        raise Conflict(f"{what} can be booked at most {window} days ahead: choose an earlier time.",
                       code="too_far_ahead", booking_window_days=window)
