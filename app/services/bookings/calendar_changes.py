"""Two-way calendar sync, the booking side: a trainer's change to one of our events in Google moves
or cancels its booking, through the same booking service as every other change (actor `calendar`,
audited, the customer notified). A move the booking rules refuse (taken, outside hours) is undone:
the event is patched back and the booking says why.

Also the loops that keep bookings and Google in step: `sync_calendar` (after a push notification),
`calendar_pass` (the periodic backstop: due write-backs, channel renewals, syncs Google's missed
notifications would have triggered) and `setup_connection` (after a connect or a change of
selection). Reading Google is services/calendar's business; this module decides what it means.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from app.extensions import db
from app.integrations.google_calendar import parse_time
from app.models import ACTIVE_STATUSES, Booking
from app.services import calendar
from app.services.bookings.audit import Actor, record_audit
from app.services.bookings.change import cancel_booking, reschedule_booking
from app.services.errors import ServiceError

log = logging.getLogger(__name__)


@dataclass
class SyncOutcome:
    changed: int = 0
    full: bool = False
    moved: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)  # a changed length put back
    stale: list[str] = field(default_factory=list)      # an older copy in Google, written over
    error: str | None = None

    def as_dict(self) -> dict:
        return {"changed": self.changed, "full": self.full, "moved": self.moved, "cancelled": self.cancelled,
                "refused": self.refused, "corrected": self.corrected, "stale": self.stale, "error": self.error}


def sync_calendar(calendar_id, *, now: datetime | None = None) -> SyncOutcome:
    """Read what changed in the calendar since the last sync (410 → a full resync), apply changes to
    our events to their bookings, and refresh the busy cache if anything changed."""
    now = calendar.utcnow(now)
    changes = calendar.read_changes(calendar_id, now=now)
    outcome = SyncOutcome(changed=len(changes.items), full=changes.full, error=changes.error)
    if changes.error:
        outcome.full = False
        return outcome
    for item in changes.items:
        _apply_event_change(item, changes.calendar_id, changes.user_id, outcome, now)
    calendar.changes_applied(changes, now=now)  # only now: a crash above reads these changes again
    if changes.blocks_availability and (changes.items or changes.full):
        calendar.refresh_busy([changes.calendar_id], now=now)
    return outcome


def _our_booking(item: dict) -> Booking | None:
    """The booking an event belongs to, by the id we wrote into it (tombstones carry only the event id)."""
    private = (item.get("extendedProperties") or {}).get("private") or {}
    event_id = item.get("id") or ""
    for candidate in (private.get("atlasBookingId"), event_id[5:] if event_id.startswith("atlas") else None):
        if not candidate:
            continue
        try:
            booking = db.session.get(Booking, uuid.UUID(candidate))
        except ValueError:
            continue
        if booking is not None:
            return booking
    return None


def _written_sequence(item: dict) -> int | None:
    """The booking version we last wrote into this copy of the event (None: not ours, or a tombstone,
    which carries no properties)."""
    private = (item.get("extendedProperties") or {}).get("private") or {}
    try:
        return int(private["atlasSequence"])
    except (KeyError, TypeError, ValueError):
        return None


def _apply_event_change(item: dict, calendar_id: uuid.UUID, user_id: uuid.UUID, outcome: SyncOutcome,
                        now: datetime) -> None:
    """Who wins when both sides changed: the booking. A change in Google is the trainer's only when
    the event carries the booking's current version (`atlasSequence`, written with every write-back);
    a copy written before the booking's latest change (its write-back still pending or failed) is
    older than the booking, whatever was edited in it since, and is written over."""
    booking = _our_booking(item)
    event_id = item.get("id") or ""
    if booking is None or booking.external_calendar_id != calendar_id or booking.external_event_id != event_id:
        return  # not one of ours (or an old copy): it only changes busy time
    if booking.status not in ACTIVE_STATUSES:
        return
    actor = Actor("calendar", id=str(user_id))
    if item.get("status") == "cancelled":
        try:
            cancel_booking(booking.id, actor=actor, reason="Removed from the trainer's Google Calendar", now=now)
            outcome.cancelled.append(str(booking.id))
        except ServiceError as exc:
            log.info("booking %s: cancel from Google refused: %s", booking.id, exc)
        return
    start, end = parse_time(item.get("start")), parse_time(item.get("end"))
    if start is None or end is None:
        return  # an all-day event or no times: nothing we can book
    written = _written_sequence(item)
    if written is not None and written < booking.sequence:
        if (start, end) != (booking.start_at, booking.end_at):
            outcome.stale.append(str(booking.id))
            if booking.calendar_sync_status not in ("pending", "failed"):
                _write_again(booking.id, None, now)  # the booking's newer version goes to Google
            # else its write-back is on its way (or retrying): it wins, on its own schedule
        return
    google_end = end
    if start != booking.start_at:
        try:
            booking = reschedule_booking(booking.id, start_time=start, actor=actor, now=now, google_event_end=end)
            outcome.moved.append(str(booking.id))
        except ServiceError as exc:
            local = start.isoformat(timespec="minutes")
            _write_again(booking.id, (actor, "calendar_move_refused", {
                "requested_start": start.isoformat(), "reason": str(exc)[:300],
            }, f"Moved in Google Calendar to {local}, which the booking rules do not allow ({exc}); "
               "the event was put back."), now)
            outcome.refused.append(str(booking.id))
            return
    if google_end - start != booking.end_at - booking.start_at:
        # A booking's length is its service's: a stretched or shortened event is put back to it.
        minutes = int((booking.end_at - booking.start_at).total_seconds() // 60)
        _write_again(booking.id, (actor, "calendar_length_corrected", {
            "requested_end": google_end.isoformat(), "length_minutes": minutes,
        }, f"The event's length was changed in Google Calendar; a booking keeps its service's length "
           f"({minutes} minutes), so its end was put back."), now)
        outcome.corrected.append(str(booking.id))


def _write_again(booking_id, why: tuple[Actor, str, dict, str] | None, now: datetime) -> None:
    """Write the booking's event to Google again, now (the booking wins over the copy in Google).
    `why`: (actor, audit action, audit details, the note the trainer sees) when a change made in
    Google is refused."""
    booking = db.session.get(Booking, booking_id, populate_existing=True)
    booking.calendar_sync_status = "pending"
    booking.calendar_sync_next_at = now
    booking.calendar_sync_attempts = 0
    booking.calendar_sync_error = None
    if why is not None:
        actor, action, details, note = why
        booking.calendar_sync_error = note[:500]
        record_audit(booking, actor, action, None, details)
    db.session.commit()
    calendar.after_commit([booking.id])


@dataclass
class PassOutcome:
    written: int = 0
    channels: int = 0
    synced: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"written": self.written, "channels": self.channels, "synced": self.synced, "errors": self.errors}


def calendar_pass(*, now: datetime | None = None, maintenance: bool = True) -> PassOutcome:
    """The backstop: write due events; renew or start push channels; incremental-sync calendars whose
    last sync is older than GOOGLE_SYNC_INTERVAL (Google does not promise every notification)."""
    now = calendar.utcnow(now)
    outcome = PassOutcome()
    if calendar.settings() is None:
        return outcome
    outcome.written = calendar.write_due_events(now=now)
    if not maintenance:
        return outcome
    for calendar_id in calendar.calendars_to_maintain():
        try:
            if calendar.renew_channel_if_due(calendar_id, now=now):
                outcome.channels += 1
            if calendar.sync_is_due(calendar_id, now=now):
                result = sync_calendar(calendar_id, now=now)
                if result.error:
                    outcome.errors.append(f"{calendar_id}: {result.error}")
                else:
                    outcome.synced += 1
        except Exception as exc:  # noqa: BLE001 (one calendar's trouble must not stop the others)
            db.session.rollback()
            log.exception("calendar %s: periodic pass failed", calendar_id)
            outcome.errors.append(f"{calendar_id}: {exc.__class__.__name__}")
    try:  # calendar lists read again, trainers told of lasting trouble (each connection on its own)
        outcome.errors.extend(calendar.look_after_connections(now=now).errors)
    except Exception as exc:  # noqa: BLE001 (what the pass did above stands)
        db.session.rollback()
        log.exception("calendar upkeep failed")
        outcome.errors.append(f"upkeep: {exc.__class__.__name__}")
    return outcome


def setup_connection(connection_id, *, now: datetime | None = None) -> None:
    """After connect or a change of selection: channels, a first sync, busy times, waiting
    write-backs — all best effort."""
    now = calendar.utcnow(now)
    for calendar_id in calendar.start_channels(connection_id, now=now):
        sync_calendar(calendar_id, now=now)  # a first, full sync (refreshes busy times too)
    calendar.refresh_stale_busy(connection_id, now=now)
    calendar.write_due_events(now=now)
