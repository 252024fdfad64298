"""Read-only views of classes for the staff dashboard, and the organization's two class windows.

* client_class_spots: a client's spots (upcoming, past with attendance, late cancellations).
* class_window_errors / update_class_windows: the waitlist cutoff and the late-cancel window.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from app.extensions import db
from app.models import ClassBooking, ClassSession, Organization
from app.services.errors import InvalidRequest, NotFound

# Both windows are measured back from a session's start; a week is longer than any gym asks for.
WINDOW_MAX_MINUTES = 7 * 24 * 60
CLIENT_SPOTS_MAX = 200


@dataclass(frozen=True)
class ClientClassSpots:
    upcoming: list[ClassBooking]  # live spots (booked or waiting) in sessions still to start, soonest first
    past: list[ClassBooking]      # spots that held a place in sessions that have started, latest first
    late: list[ClassBooking]      # late cancellations, latest first


def client_class_spots(org_id: uuid.UUID, client_id: uuid.UUID, *, instructor_id: uuid.UUID | None = None,
                       now: datetime | None = None) -> ClientClassSpots:
    """The client's class spots in this organization (only sessions `instructor_id` teaches, when
    given), at most CLIENT_SPOTS_MAX of the latest, split for the client's page. One query."""
    now = now or datetime.now(timezone.utc)
    query = (select(ClassBooking).join(ClassSession, ClassSession.id == ClassBooking.session_id)
             .where(ClassBooking.organization_id == org_id, ClassBooking.client_id == client_id,
                    ClassSession.organization_id == org_id)
             .order_by(ClassSession.start_at.desc()).limit(CLIENT_SPOTS_MAX))
    if instructor_id is not None:
        query = query.where(ClassSession.instructor_id == instructor_id)
    spots = list(db.session.scalars(query))
    upcoming = [s for s in spots if s.session.start_at > now and s.status in ("confirmed", "waitlisted")
                and s.session.status == "scheduled"]
    upcoming.reverse()
    past = [s for s in spots if s.session.start_at <= now and s.status in ("confirmed", "attended", "no_show")]
    late = [s for s in spots if s.status == "cancelled" and s.cancel_kind == "late"]
    return ClientClassSpots(upcoming=upcoming, past=past, late=late)


def class_window_errors(waitlist_cutoff_minutes, late_cancel_minutes) -> dict[str, str]:
    """The field errors of the two windows (empty when both are whole minutes within a week)."""
    errors = {}
    for name, value in (("class_waitlist_cutoff", waitlist_cutoff_minutes), ("class_late_cancel", late_cancel_minutes)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= WINDOW_MAX_MINUTES:
            errors[name] = "between 0 and 168 hours"
    return errors


def update_class_windows(org_id: uuid.UUID, *, waitlist_cutoff_minutes: int, late_cancel_minutes: int) -> Organization:
    """Set how long before a session nobody is promoted from its waitlist any more, and from when a
    spot given up counts as a late cancellation. InvalidRequest names each bad value; nothing is saved
    unless both are right. Sessions already promoted or cancellations already recorded keep their facts."""
    errors = class_window_errors(waitlist_cutoff_minutes, late_cancel_minutes)
    if errors:
        raise InvalidRequest("Please correct the highlighted fields.", fields=errors)
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("No such organization.")
    org.class_waitlist_cutoff_minutes = waitlist_cutoff_minutes
    org.class_late_cancel_minutes = late_cancel_minutes
    db.session.commit()
    return org
