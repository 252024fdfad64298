"""Write-back of group classes: each class session is one event in its instructor's destination
calendar, kept in step with the session.

The same machinery as a booking's event (writeback.py), with the same guarantees: a change of a
session marks it `pending` in its own transaction (`mark_sessions_changed`, called by the class
services), and once that commits the class service asks for the write (`write_class_events_soon`);
the periodic pass (`write_due_events`) finds whatever a lost job left. The event id is derived from
the session ("atlascls" + its uuid in hex, valid base32hex and never a booking's), so a retried insert
becomes a patch: one session, one event. A move or a new roster count patches it; a new instructor
moves it from the old instructor's calendar to the new one's; a cancelled session's event is
deleted. Failures retry with backoff while the session is ahead (writeback.retry_state). A job
marks the session `synced` only if nothing the event shows changed while it ran (compare-and-set
on its sequence, instructor, status and roster count).

The event says what the instructor needs to run the class — the class, the place, how many are
booked — and nothing about the people in it: their names and contact details are on the roster in
the dashboard, not copied into Google.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select, update

from app.extensions import db
from app.integrations import google_calendar as google
from app.models import Calendar, CalendarConnection, ClassSession
from app.services import background
from app.services.calendar.access import connection_failed, settings, utcnow
from app.services.calendar.writeback import (
    CLASS_EVENTS_JOB,
    WRITTEN,
    _delete_event,
    destination_for,
    google_recovered,
    retry_state,
    write_due_booking_events,
    write_event,
)

log = logging.getLogger(__name__)

_STASH = "atlas.class_events"  # db.session.info key: sessions marked in this session, to write after commit


def class_event_id_for(session_id) -> str:
    """The Google event id of a class session: stable, so a retried insert cannot make a second event."""
    return "atlascls" + uuid.UUID(str(session_id)).hex


def mark_sessions_changed(sessions: Sequence[ClassSession], *, now: datetime | None = None) -> list[uuid.UUID]:
    """Called by the class services inside the transaction that made or changed these sessions
    (new, moved, re-staffed, cancelled, a new roster count): their events need writing. Only a
    session whose instructor has a destination calendar, or that has an event already, is marked.
    Call `write_class_events_soon()` once the transaction has committed. Returns the ids marked."""
    now = utcnow(now)
    sessions = [s for s in sessions if s is not None]
    instructors = {s.instructor_id for s in sessions}
    # No autoflush: the caller's rows may not be ready to flush yet (a series' sessions are made
    # before the series is added).
    with db.session.no_autoflush:
        has_destination = set(db.session.scalars(
            select(Calendar.user_id).where(Calendar.user_id.in_(instructors), Calendar.is_destination.is_(True)))) \
            if instructors else set()
    marked = []
    for session in sessions:
        if session.instructor_id in has_destination or session.external_event_id:
            session.calendar_sync_status = "pending"
            session.calendar_sync_attempts = 0
            session.calendar_sync_next_at = now
            session.calendar_sync_error = None
            marked.append(session.id)
    if marked:
        db.session.info.setdefault(_STASH, set()).update(marked)
    return marked


def write_class_events_soon() -> None:
    """After the commit of a transaction that called mark_sessions_changed: start writing those
    sessions' events now (in the background). A session whose transaction was rolled back is not
    pending, and its job finds nothing to do."""
    ids = db.session.info.pop(_STASH, None)
    if ids:
        background.submit(CLASS_EVENTS_JOB, sorted(str(i) for i in ids))


def _event_body(session: ClassSession, calendar: Calendar) -> dict:
    name = session.class_type.name if session.class_type else "Class"
    lines = [f"Group class booked through Atlas Booking: {session.booked_count} of {session.capacity} places booked."]
    if session.class_type is not None and session.class_type.description:
        lines += ["", session.class_type.description]
    zone = calendar.timezone or (session.instructor.timezone if session.instructor else None) or "UTC"
    body = {
        "summary": f"{name} \u2014 class"[:300],
        "description": "\n".join(lines),
        "start": {"dateTime": session.start_at.isoformat(), "timeZone": zone},
        "end": {"dateTime": session.end_at.isoformat(), "timeZone": zone},
        "status": "confirmed",
        "transparency": "opaque",
        "extendedProperties": {"private": {
            "atlasClassSessionId": str(session.id),
            "atlasOrganizationId": str(session.organization_id),
            "atlasSequence": str(session.sequence or 0),
        }},
    }
    location = session.location or (session.class_type.location if session.class_type else None)
    if location:
        body["location"] = location
    return body


def _version(session: ClassSession) -> tuple:
    """What the event shows that can change under a running job."""
    return session.sequence or 0, session.instructor_id, session.status, session.booked_count, session.capacity


def _unchanged(session_id, seen: tuple):
    sequence, instructor_id, status, booked, capacity = seen
    return and_(ClassSession.id == session_id, ClassSession.sequence == sequence,
                ClassSession.instructor_id == instructor_id, ClassSession.status == status,
                ClassSession.booked_count == booked, ClassSession.capacity == capacity)


def sync_session_event(session_id, *, now: datetime | None = None) -> str:
    """Make the session's event in Google match the session: on its instructor's destination
    calendar while it is scheduled (taken off another calendar it was on), nowhere once cancelled.
    Idempotent; safe to run twice at once. Returns inserted, patched, deleted, unchanged, skipped,
    retry or failed."""
    now = utcnow(now)
    try:
        key = uuid.UUID(str(session_id))
    except ValueError:
        return "skipped"
    session = db.session.get(ClassSession, key, populate_existing=True)
    if session is None or session.calendar_sync_status not in ("pending", "failed"):
        return "skipped"
    seen = _version(session)
    config = settings()
    if config is None:
        return _finish(session, seen, "failed", "Google Calendar is not configured on this portal.")
    destination = destination_for(session.instructor_id)
    current = db.session.get(Calendar, session.external_calendar_id) if session.external_calendar_id else None
    wanted = destination if session.status == "scheduled" else None
    outcome = "unchanged"
    try:
        if current is not None and session.external_event_id and (wanted is None or current.id != wanted.id):
            _delete_event(current, session.external_event_id, config)
            session.external_calendar_id = None
            outcome = "deleted"
        if wanted is not None:
            outcome = write_event(session, wanted, config, _event_body(session, wanted),
                                  class_event_id_for(session.id))
    except google.GoogleError as exc:
        db.session.rollback()
        session = db.session.get(ClassSession, key, populate_existing=True)
        return _failed(session, seen, exc, now)
    was_failing = session.calendar_sync_attempts > 0
    result = _finish(session, seen, "synced", None, outcome)
    if was_failing:
        google_recovered(session.instructor_id, now=now)
    return result


def _finish(session: ClassSession, seen: tuple, status: str, error: str | None, outcome: str = "failed") -> str:
    """Record the result unless the session changed meanwhile (then its own job writes it again)."""
    result = db.session.execute(
        update(ClassSession).where(_unchanged(session.id, seen))
        .values(calendar_sync_status=status, calendar_sync_error=error, calendar_sync_next_at=None,
                calendar_sync_attempts=0 if status == "synced" else ClassSession.calendar_sync_attempts,
                external_event_id=session.external_event_id, external_calendar_id=session.external_calendar_id)
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire(session)
    return outcome if result.rowcount else "skipped"


def _failed(session: ClassSession, seen: tuple, exc: google.GoogleError, now: datetime) -> str:
    calendar = destination_for(session.instructor_id)
    connection = db.session.get(CalendarConnection, calendar.connection_id) if calendar else None
    if connection is not None:
        connection_failed(connection, exc, now)
    attempts = session.calendar_sync_attempts + 1
    status, next_at, message = retry_state(attempts, exc, session.end_at, now, "class")
    db.session.execute(
        update(ClassSession).where(_unchanged(session.id, seen))
        .values(calendar_sync_status=status, calendar_sync_next_at=next_at, calendar_sync_attempts=attempts,
                calendar_sync_error=message[:500])
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire(session)
    log.warning("class session %s event write-back: %s", session.id, exc)
    return "retry" if status == "pending" else "failed"


def due_sessions(now: datetime, limit: int = 100) -> list[uuid.UUID]:
    """Class session write-backs to make now: new changes, and retries whose backoff is over."""
    return list(db.session.scalars(
        select(ClassSession.id).where(
            or_(and_(ClassSession.calendar_sync_status == "pending",
                     or_(ClassSession.calendar_sync_next_at.is_(None), ClassSession.calendar_sync_next_at <= now)),
                and_(ClassSession.calendar_sync_status == "failed", ClassSession.calendar_sync_next_at <= now)))
        .order_by(ClassSession.calendar_sync_next_at).limit(limit)))


def write_due_events(*, now: datetime | None = None) -> int:
    """Write every event that is due, bookings' and class sessions' (new changes, retries after
    their backoff): the periodic pass's write-back. Returns how many were written."""
    now = utcnow(now)
    if settings() is None:
        return 0
    written = write_due_booking_events(now=now)
    return written + sum(sync_session_event(session_id, now=now) in WRITTEN for session_id in due_sessions(now))
