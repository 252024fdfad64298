"""Moving a booking online after its booking page is taken down: one rule for the manage page, the
JSON API and the AI tools.

A customer (manage page, JSON API) or an agent (AI tools, assistants) may move a booking online only
while the booking page it was made through is online (public and active: the page still takes
bookings) and still offers the booking's service. Otherwise the move is refused — 409
`link_inactive` (the page was taken offline or deleted) or `type_not_offered` (the page dropped the
service, or the service was deactivated) — and nothing offers new times for it. Why: a gym takes a
page down to stop online bookings through it (a trainer leaving, a class retired, pages reorganised),
and a move is a new time chosen online from the times the page offers; with no page, nothing says
which times the gym still offers. The booking itself stands: it can still be cancelled online
(within the cutoff), and staff — the dashboard — and the trainer's own calendar can still move it.

One home: reschedule_booking() asks check_online_move() for every move, so every way in agrees; the
manage page, the API's GET and the tools' get_booking say in advance what it will answer
(can_move_online()).
"""
from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.models import Booking, Organization
from app.services.bookings.policy import CUTOFF_BOUND_ACTORS, change_deadline
from app.services.errors import Conflict
from app.services.scheduling.links import takes_bookings


def online_move_refusal(booking: Booking) -> Conflict | None:
    """Why a customer or an agent can't move `booking` online because of its booking page (the
    error to raise), or None when its page is online and still offers its service."""
    link = booking.booking_link
    org = db.session.get(Organization, booking.organization_id)
    contact = f"Please contact {org.name} to move it." if org is not None else "Please contact the gym to move it."
    if link is None or not takes_bookings(link):
        return Conflict("The booking page this booking was made on is no longer online, so it can't be moved "
                        f"online. It can still be cancelled. {contact}", code="link_inactive")
    atype = booking.appointment_type
    if atype is None:
        return Conflict("This booking's appointment type no longer exists; it can't be moved online.",
                        code="type_removed")
    if not atype.is_active or all(t.id != atype.id for t in link.appointment_types):
        return Conflict(f"{atype.name} is no longer offered on this booking page, so this booking can't be moved "
                        f"online. It can still be cancelled. {contact}", code="type_not_offered")
    return None


def check_online_move(booking: Booking, actor_type: str) -> None:
    """Raise online_move_refusal() for a customer or an agent (the actors the cutoff binds); staff
    and the trainer's calendar may always move a booking."""
    if actor_type in CUTOFF_BOUND_ACTORS:
        refusal = online_move_refusal(booking)
        if refusal is not None:
            raise refusal


def can_move_online(booking: Booking, org: Organization, now: datetime) -> bool:
    """Whether a customer or an agent could move `booking` online now: it is active, the change
    deadline has not passed and its booking page still offers it (what reschedule_booking() checks
    before looking for the new time)."""
    return booking.is_active and now <= change_deadline(booking, org) and online_move_refusal(booking) is None
