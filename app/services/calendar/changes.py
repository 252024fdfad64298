"""Reading what changed in a trainer's Google calendar, and keeping the two-way sync going.

Incremental sync: events.list from the stored sync token (a 410 means the token expired: a full
resync). What those changes do to bookings is the booking service's business
(services/bookings/calendar_changes.py); this module only reads them and keeps the bookkeeping:
the next sync token, when the calendar was last synced, what went wrong. The next sync token is
stored only once the changes it covers have been applied (`changes_applied`): a sync that dies
half-way (a lock timeout, a killed worker) reads the same changes again next time. It also lists what the
periodic pass must look after (channels to renew, calendars whose backstop sync is due) and sets up
a connection's calendars after a connect or a change of selection.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select

from app.extensions import db
from app.integrations import google_calendar as google
from app.models import Calendar, CalendarConnection
from app.services.calendar.access import backoff, client_for, connection_failed, settings, utcnow
from app.services.calendar.busy import refresh_busy
from app.services.calendar.channels import (
    CHANNEL_RENEW_BEFORE,
    ensure_channel,
    wants_channel,
)

log = logging.getLogger(__name__)


@dataclass
class Changes:
    """The events that changed in one calendar since its last sync."""

    calendar_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    items: list[dict] = field(default_factory=list)
    next_token: str | None = None      # stored by changes_applied, once the items are applied
    full: bool = False                 # a full resync (first sync, or the token had expired)
    blocks_availability: bool = False  # the calendar's busy times count (refresh them after changes)
    error: str | None = None


def read_changes(calendar_id, *, now: datetime | None = None) -> Changes:
    """What changed in the calendar since the last sync (410 → a full resync), with the next sync
    token (stored by `changes_applied`). A failure is recorded on the calendar and returned."""
    now = utcnow(now)
    calendar = db.session.get(Calendar, uuid.UUID(str(calendar_id)))
    config = settings()
    if calendar is None or config is None:
        return Changes(error="no such calendar" if calendar is None else "not configured")
    connection = db.session.get(CalendarConnection, calendar.connection_id)
    if connection.status != "active":
        return Changes(calendar_id=calendar.id, error=connection.status)
    if calendar.sync_backoff_until is not None and calendar.sync_backoff_until > now:
        return Changes(calendar_id=calendar.id, error=f"waiting until {google.rfc3339(calendar.sync_backoff_until)} "
                                                      "after Google failed")
    token = calendar.sync_token
    try:
        with client_for(connection, config) as client:
            try:
                items, next_token = _read_pages(client, calendar.external_id, token)
            except google.SyncTokenExpired:
                log.info("calendar %s: sync token expired, full resync", calendar.id)
                token = None
                items, next_token = _read_pages(client, calendar.external_id, None)
    except google.GoogleError as exc:
        db.session.rollback()
        calendar = db.session.get(Calendar, calendar.id)
        connection_failed(db.session.get(CalendarConnection, calendar.connection_id), exc, now)
        calendar.sync_error = f"Changes could not be read from Google: {exc}"[:500]
        calendar.sync_failed_at = now
        calendar.sync_failures += 1
        calendar.sync_backoff_until = backoff(calendar.sync_failures, exc, now)
        db.session.commit()
        return Changes(calendar_id=calendar.id, error=str(exc))
    calendar.sync_failures, calendar.sync_backoff_until = 0, None
    changes = Changes(calendar_id=calendar.id, user_id=calendar.user_id, items=items, next_token=next_token,
                      full=token is None, blocks_availability=calendar.check_for_conflicts)
    db.session.commit()  # refreshed access tokens; the sync token waits for changes_applied
    return changes


def changes_applied(changes: Changes, *, now: datetime) -> None:
    """The changes were applied: the next sync starts after them."""
    calendar = db.session.get(Calendar, changes.calendar_id)
    if calendar is None:
        return
    calendar.sync_token = changes.next_token
    calendar.last_synced_at = now
    db.session.get(CalendarConnection, calendar.connection_id).last_synced_at = now
    db.session.commit()


def _read_pages(client, calendar_external_id: str, token: str | None) -> tuple[list[dict], str | None]:
    pages = client.list_changes(calendar_external_id, token)
    items: list[dict] = []
    while True:
        try:
            items.extend(next(pages))
        except StopIteration as stop:
            return items, stop.value


def calendars_to_maintain() -> list[uuid.UUID]:
    """Calendars the periodic pass looks after: selected ones, and any that still has a channel, of
    active connections."""
    return list(db.session.scalars(
        select(Calendar.id).join(CalendarConnection, CalendarConnection.id == Calendar.connection_id)
        .where(CalendarConnection.status == "active")
        .where(or_(Calendar.check_for_conflicts.is_(True), Calendar.is_destination.is_(True),
                   Calendar.channel_id.is_not(None)))))


def renew_channel_if_due(calendar_id, *, now: datetime) -> bool:
    """Start, renew (a day before it expires) or stop the calendar's push channel as its selection
    wants. True when a channel was started or renewed."""
    calendar = db.session.get(Calendar, calendar_id)
    if calendar is None:
        return False
    if calendar.channel_id is None or calendar.channel_expires_at is None \
            or calendar.channel_expires_at <= now + CHANNEL_RENEW_BEFORE or not wants_channel(calendar):
        return ensure_channel(calendar, now=now)
    return False


def sync_is_due(calendar_id, *, now: datetime) -> bool:
    """The backstop: Google does not promise every notification, so a calendar not synced for
    GOOGLE_SYNC_INTERVAL is synced anyway (not while it backs off after failures)."""
    calendar = db.session.get(Calendar, calendar_id)
    if calendar is None or (calendar.sync_backoff_until is not None and calendar.sync_backoff_until > now):
        return False
    interval = timedelta(seconds=current_app.config["GOOGLE_SYNC_INTERVAL"])
    return calendar.last_synced_at is None or calendar.last_synced_at <= now - interval


def start_channels(connection_id, *, now: datetime) -> list[uuid.UUID]:
    """After connect or a change of selection: start (or stop) each calendar's channel. Returns the
    calendars that want syncing and have never been synced (they need a first, full sync)."""
    connection = db.session.get(CalendarConnection, uuid.UUID(str(connection_id)))
    if connection is None:
        return []
    first_sync = []
    for calendar_id in [c.id for c in connection.calendars]:
        calendar = db.session.get(Calendar, calendar_id)
        ensure_channel(calendar, now=now)
        if wants_channel(calendar) and calendar.sync_token is None:
            first_sync.append(calendar_id)
    return first_sync


def refresh_stale_busy(connection_id, *, now: datetime) -> None:
    """Busy times of the connection's blocking calendars not read yet at `now` are read now."""
    stale = [c.id for c in db.session.scalars(
        select(Calendar).where(Calendar.connection_id == uuid.UUID(str(connection_id)),
                               Calendar.check_for_conflicts.is_(True)))
        if c.busy_refreshed_at is None or c.busy_refreshed_at < now]
    if stale:
        refresh_busy(stale, now=now)
