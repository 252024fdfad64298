"""The audit trail of classes: every change to a class type, a timetable entry, a session or a spot
writes a class_audit row in the same transaction as the change."""
from __future__ import annotations

from app.extensions import db
from app.models import ClassAudit, ClassBooking, ClassSeries, ClassSession
from app.services.bookings import Actor


def record(org_id, actor: Actor, action: str, *, before: dict | None = None, after: dict | None = None,
           series: ClassSeries | None = None, session: ClassSession | None = None,
           spot: ClassBooking | None = None) -> None:
    """Add the audit row for a change (the caller commits it with the change)."""
    db.session.add(ClassAudit(
        organization_id=org_id, series_id=series.id if series is not None else None,
        session_id=session.id if session is not None else (spot.session_id if spot is not None else None),
        class_booking_id=spot.id if spot is not None else None, actor_type=actor.type, actor_id=actor.id,
        action=action, before=before, after=after, ip_address=(actor.ip or None) and actor.ip[:45],
        user_agent=(actor.user_agent or None) and actor.user_agent[:300]))


def spot_snapshot(spot: ClassBooking) -> dict:
    return {"status": spot.status, "attendee_name": spot.attendee_name, "attendee_email": spot.attendee_email,
            "attendee_phone": spot.attendee_phone, "cancel_kind": spot.cancel_kind,
            "cancellation_reason": spot.cancellation_reason}


def session_snapshot(session: ClassSession) -> dict:
    return {"status": session.status, "start_at": session.start_at.isoformat(), "end_at": session.end_at.isoformat(),
            "instructor_id": str(session.instructor_id), "capacity": session.capacity,
            "location": session.location, "cancellation_reason": session.cancellation_reason}


def series_snapshot(series: ClassSeries) -> dict:
    return {"class_type_id": str(series.class_type_id), "instructor_id": str(series.instructor_id),
            "weekdays": list(series.weekdays or []), "start_time": series.start_time.strftime("%H:%M"),
            "capacity": series.capacity, "first_date": series.first_date.isoformat(),
            "last_date": series.last_date.isoformat() if series.last_date else None, "is_active": series.is_active}
