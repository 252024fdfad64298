"""Write-back: each booking appears as an event in its trainer's destination calendar.

A booking change sets the booking `pending` in its own transaction (`mark_bookings_changed`); a job
then inserts, patches or deletes the event. The event id is derived from the booking ("atlas" + its
uuid in hex, valid base32hex), so a retried insert hits 409 and becomes a patch: one booking, one
event. Failures retry with backoff (GOOGLE_WRITE_RETRIES, the last delay repeating) for as long as
the booking has not ended: after the listed retries the booking shows `failed` (a lasting failure
the trainer sees) and is still retried; a revoked grant parks it until the trainer reconnects. When
a write to a trainer's calendar succeeds again, their other waiting write-backs are retried at
once. A job marks the booking `synced` only if the booking did not change while it ran
(compare-and-set on `sequence`).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app.extensions import db
from app.integrations import google_calendar as google
from app.models import ACTIVE_STATUSES, Booking, Calendar, CalendarConnection, ClassSession
from app.services import background
from app.services.calendar.access import client_for, connection_failed, settings, utcnow

log = logging.getLogger(__name__)


def event_id_for(booking_id: uuid.UUID) -> str:
    """The Google event id of a booking: stable, so a retried insert cannot create a second event."""
    return "atlas" + uuid.UUID(str(booking_id)).hex


def destination_for(user_id) -> Calendar | None:
    """The calendar a trainer's bookings are written to, if it is connected and usable."""
    return db.session.scalars(
        select(Calendar).join(CalendarConnection, CalendarConnection.id == Calendar.connection_id)
        .where(Calendar.user_id == user_id, Calendar.is_destination.is_(True))
        .where(CalendarConnection.status.in_(("active", "needs_reconnect", "error")))
    ).first()


def mark_bookings_changed(bookings: Sequence[Booking], *, now: datetime | None = None,
                          destinations: frozenset[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """Called by the booking service inside the booking's transaction: these rows need their event
    written. Returns the ids to kick after the commit (empty when no one has a destination).
    `destinations`: the staff known to have a destination calendar (else they are looked up)."""
    now = utcnow(now)
    staff_ids = {b.staff_id for b in bookings}
    has_destination = set(destinations or ())
    if staff_ids and destinations is None:
        has_destination = set(db.session.scalars(
            select(Calendar.user_id).where(Calendar.user_id.in_(staff_ids), Calendar.is_destination.is_(True))))
    kicked = []
    for booking in bookings:
        if booking.staff_id in has_destination or booking.external_event_id:
            booking.calendar_sync_status = "pending"
            booking.calendar_sync_attempts = 0
            booking.calendar_sync_next_at = now
            booking.calendar_sync_error = None
            kicked.append(booking.id)
    return kicked


def after_commit(booking_ids: Sequence[uuid.UUID]) -> None:
    """Start writing these bookings' events now (in the background; call after the commit)."""
    if booking_ids:
        background.submit("calendar.events", [str(i) for i in booking_ids])


# The background job that writes class sessions' events (class_events.sync_session_event).
CLASS_EVENTS_JOB = "calendar.class_events"

RETRY_CAP = 1800  # seconds between retries when GOOGLE_WRITE_RETRIES lists none


def _retry_delays() -> list[int]:
    return [int(x) for x in str(current_app.config["GOOGLE_WRITE_RETRIES"]).split(",") if x.strip()]


def _event_body(booking: Booking, calendar: Calendar) -> dict:
    atype = booking.appointment_type
    title = booking.title or (f"{atype.name} with {booking.attendee_name}" if atype else booking.attendee_name)
    lines = [f"Booked through Atlas Booking by {booking.attendee_name} <{booking.attendee_email}>"]
    if booking.attendee_phone:
        lines.append(f"Phone: {booking.attendee_phone}")
    if booking.description:
        lines.append("")
        lines.append(booking.description)
    zone = calendar.timezone or booking.staff.timezone or "UTC"
    body = {
        "summary": title[:300],
        "description": "\n".join(lines),
        "start": {"dateTime": booking.start_at.isoformat(), "timeZone": zone},
        "end": {"dateTime": booking.end_at.isoformat(), "timeZone": zone},
        "status": "tentative" if booking.status == "pending" else "confirmed",
        "transparency": "opaque",
        "extendedProperties": {"private": {
            "atlasBookingId": str(booking.id),
            "atlasOrganizationId": str(booking.organization_id),
            "atlasSequence": str(booking.sequence),
        }},
    }
    if booking.location_details:
        body["location"] = booking.location_details
    return body


def sync_booking_event(booking_id, *, now: datetime | None = None) -> str:
    """Make the booking's event in Google match the booking. Idempotent; safe to run twice at once.

    Returns what happened: inserted, patched, deleted, unchanged, skipped, retry or failed."""
    now = utcnow(now)
    # populate_existing: the row as it is now, not as an earlier read in this session left it.
    booking = db.session.get(Booking, uuid.UUID(str(booking_id)), populate_existing=True)
    if booking is None or booking.calendar_sync_status not in ("pending", "failed"):
        return "skipped"
    config = settings()
    if config is None:
        return _finish(booking, booking.sequence, "failed", "Google Calendar is not configured on this portal.")
    seen_sequence = booking.sequence
    destination = destination_for(booking.staff_id)
    current = db.session.get(Calendar, booking.external_calendar_id) if booking.external_calendar_id else None
    # Active: the event belongs on the destination. Cancelled: it belongs nowhere. Finished
    # (completed, no-show): the event stays as it is.
    wanted = destination if booking.status in ACTIVE_STATUSES else None
    outcome = "unchanged"
    try:
        if booking.status in ACTIVE_STATUSES or booking.status == "cancelled":
            if current is not None and booking.external_event_id and (wanted is None or current.id != wanted.id):
                _delete_event(current, booking.external_event_id, config)
                booking.external_calendar_id = None
                outcome = "deleted"
            if wanted is not None:
                outcome = _write_event(booking, wanted, config)
    except google.GoogleError as exc:
        db.session.rollback()
        booking = db.session.get(Booking, booking.id, populate_existing=True)
        return _failed(booking, seen_sequence, exc, now)
    was_failing = booking.calendar_sync_attempts > 0
    result = _finish(booking, seen_sequence, "synced", None, outcome)
    if was_failing:
        google_recovered(booking.staff_id, now=now)
    return result


def google_recovered(user_id, *, now: datetime) -> None:
    """Google works again for this trainer: their write-backs waiting out a backoff (their bookings'
    and their class sessions') are due now."""
    waiting = list(db.session.scalars(
        select(Booking.id).where(Booking.staff_id == user_id, Booking.calendar_sync_next_at > now,
                                 Booking.calendar_sync_status.in_(("pending", "failed")))))
    sessions = list(db.session.scalars(
        select(ClassSession.id).where(ClassSession.instructor_id == user_id, ClassSession.calendar_sync_next_at > now,
                                      ClassSession.calendar_sync_status.in_(("pending", "failed")))))
    if not waiting and not sessions:
        return
    if waiting:
        db.session.execute(update(Booking).where(Booking.id.in_(waiting)).values(calendar_sync_next_at=now)
                           .execution_options(synchronize_session=False))
    if sessions:
        db.session.execute(update(ClassSession).where(ClassSession.id.in_(sessions))
                           .values(calendar_sync_next_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    after_commit(waiting)
    if sessions:
        background.submit(CLASS_EVENTS_JOB, [str(i) for i in sessions])


def _delete_event(calendar: Calendar, event_id: str, config) -> None:
    connection = db.session.get(CalendarConnection, calendar.connection_id)
    with client_for(connection, config) as client:
        try:
            client.delete_event(calendar.external_id, event_id)
        except (google.EventNotFound, google.EventGone):
            pass  # already gone: what we wanted


def _write_event(booking: Booking, calendar: Calendar, config) -> str:
    return write_event(booking, calendar, config, _event_body(booking, calendar), event_id_for(booking.id))


def write_event(row, calendar: Calendar, config, body: dict, event_id: str) -> str:
    """Insert or patch `row`'s event (a booking's, a class session's: anything with
    `external_event_id` and `external_calendar_id`) in `calendar`, under its stable `event_id` when
    it has none there yet: a retried insert hits 409 and becomes a patch. Records where it is."""
    connection = db.session.get(CalendarConnection, calendar.connection_id)
    if connection.status == "needs_reconnect":
        raise google.GoogleAccessRevoked("Google Calendar needs reconnecting.")
    known = row.external_calendar_id == calendar.id and row.external_event_id
    event_id = row.external_event_id if known else event_id
    with client_for(connection, config) as client:
        if known:
            try:
                client.patch_event(calendar.external_id, event_id, body)
                outcome = "patched"
            except google.EventNotFound:
                client.insert_event(calendar.external_id, {**body, "id": event_id})
                outcome = "inserted"
        else:
            try:
                client.insert_event(calendar.external_id, {**body, "id": event_id})
                outcome = "inserted"
            except google.EventExists:
                # A retried insert (the first one did land), or a tombstone of an earlier event.
                client.patch_event(calendar.external_id, event_id, body)
                outcome = "patched"
    row.external_event_id = event_id
    row.external_calendar_id = calendar.id
    return outcome


def _finish(booking: Booking, seen_sequence: int, status: str, error: str | None, outcome: str = "failed") -> str:
    """Mark the result unless the booking changed meanwhile (then its own job writes it again)."""
    result = db.session.execute(
        update(Booking).where(Booking.id == booking.id, Booking.sequence == seen_sequence)
        .values(calendar_sync_status=status, calendar_sync_error=error, calendar_sync_next_at=None,
                calendar_sync_attempts=0 if status == "synced" else Booking.calendar_sync_attempts,
                external_event_id=booking.external_event_id, external_calendar_id=booking.external_calendar_id)
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire(booking)
    if result.rowcount == 0:
        return "skipped"
    return outcome


def _failed(booking: Booking, seen_sequence: int, exc: google.GoogleError, now: datetime) -> str:
    calendar = destination_for(booking.staff_id)
    connection = db.session.get(CalendarConnection, calendar.connection_id) if calendar else None
    if connection is not None:
        connection_failed(connection, exc, now)
    attempts = booking.calendar_sync_attempts + 1
    status, next_at, message = retry_state(attempts, exc, booking.end_at, now, "booking")
    db.session.execute(
        update(Booking).where(Booking.id == booking.id, Booking.sequence == seen_sequence)
        .values(calendar_sync_status=status, calendar_sync_next_at=next_at, calendar_sync_attempts=attempts,
                calendar_sync_error=message[:500])
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire(booking)
    log.warning("booking %s event write-back: %s", booking.id, exc)
    return "retry" if status == "pending" else "failed"


def retry_state(attempts: int, exc: google.GoogleError, end_at: datetime, now: datetime,
                what: str) -> tuple[str, datetime | None, str]:
    """After the `attempts`-th failed write of the event of a `what` ("booking", "class") ending at
    `end_at`: (status, next try, message for the dashboard). Pending while GOOGLE_WRITE_RETRIES
    lasts, then failed and still retried at the last delay while it is ahead; parked (no next try)
    when the grant was revoked (a reconnect requeues it) or it is over."""
    delays = _retry_delays() or [RETRY_CAP]
    next_at = now + timedelta(seconds=delays[min(attempts, len(delays)) - 1])
    if isinstance(exc, google.GoogleAccessRevoked):
        return "failed", None, "Waiting for Google Calendar to be reconnected."
    if end_at <= now:
        return "failed", None, f"Google Calendar could not be updated: {exc}"  # over: nobody needs its event
    if attempts <= len(delays):
        return "pending", next_at, f"Google Calendar could not be updated ({exc}); trying again."
    # A lasting failure: shown to the trainer, and still retried.
    return "failed", next_at, (f"Google Calendar could not be updated ({exc}); trying again at "
                               f"{next_at.strftime('%H:%M')} UTC, and for as long as the {what} is ahead.")


def due_bookings(now: datetime, limit: int = 100) -> list[uuid.UUID]:
    """Write-backs to make now: new changes, and retries (pending or lasting failures) whose backoff
    is over. Failures parked for a reconnect have no next time."""
    return list(db.session.scalars(
        select(Booking.id).where(
            or_(and_(Booking.calendar_sync_status == "pending",
                     or_(Booking.calendar_sync_next_at.is_(None), Booking.calendar_sync_next_at <= now)),
                and_(Booking.calendar_sync_status == "failed", Booking.calendar_sync_next_at <= now)))
        .order_by(Booking.calendar_sync_next_at).limit(limit)))


WRITTEN = ("inserted", "patched", "deleted", "unchanged")


def write_due_booking_events(*, now: datetime | None = None) -> int:
    """Write every booking event that is due (new changes, retries after their backoff). Returns how
    many were written. (class_events.write_due_events does this and the class sessions' too.)"""
    now = utcnow(now)
    if settings() is None:
        return 0
    return sum(sync_booking_event(booking_id, now=now) in WRITTEN for booking_id in due_bookings(now))
