"""Busy times from the trainers' Google calendars, for availability.

The calendars a trainer marks "blocks availability" have their freeBusy cached (`calendars.busy_cache`,
fetched in windows of at most 90 days, GOOGLE_BUSY_DAYS ahead). Availability reads the cache — no
call to Google — while it is fresh: GOOGLE_BUSY_MAX_AGE_PUSHED when a live push channel keeps it
current, GOOGLE_BUSY_MAX_AGE when it can only be polled. A stale or short cache is refreshed inline
(bounded by GOOGLE_HTTP_TIMEOUT; after a failure not again for GOOGLE_RETRY_AFTER). Busy time is
known only while it is fresh: past that limit (a refresh failing, a connection that needs
reconnecting and is never refreshed) the trainer's time from now on is unknown, whatever the
connection's state, and unknown time follows GOOGLE_UNREACHABLE_POLICY: `withhold` (the default)
treats it as busy, `ignore` as free. The stale intervals still count as busy under either policy.
Intervals are plain (start, end) pairs of aware UTC datetimes.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.integrations import google_calendar as google
from app.models import Calendar, CalendarConnection
from app.services.calendar.access import GONE, client_for, connection_failed, settings, utcnow
from app.services.calendar.writeback import google_recovered

# The cache starts a little before the moment it is fetched (it must cover "now" when read later)
# and runs GOOGLE_BUSY_DAYS from there: one freeBusy call for the default 90 days.
BUSY_LOOKBACK = timedelta(hours=1)


# Nobody is offered slots further ahead than this; the cache never reaches past it.
BUSY_HORIZON = timedelta(days=400)


@dataclass
class BusyState:
    """External busy time per staff member, and what is known about its freshness (for the dashboard)."""

    busy: dict[uuid.UUID, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    withheld: dict[uuid.UUID, list[tuple[datetime, datetime]]] = field(default_factory=dict)


def _fresh(calendar: Calendar, start: datetime, end: datetime, now: datetime) -> bool:
    if calendar.busy_cache_from is None or calendar.busy_cache_until is None:
        return False
    if calendar.busy_cache_from > max(start, now) or calendar.busy_cache_until < min(end, now + BUSY_HORIZON):
        return False
    return is_current(calendar, now)


def is_current(calendar: Calendar, now: datetime) -> bool:
    """Whether the calendar's cached busy times are recent enough to be trusted: read within
    GOOGLE_BUSY_MAX_AGE_PUSHED while a live push channel keeps them current, else GOOGLE_BUSY_MAX_AGE."""
    if calendar.busy_refreshed_at is None:
        return False
    pushed = calendar.channel_expires_at is not None and calendar.channel_expires_at > now
    max_age = current_app.config["GOOGLE_BUSY_MAX_AGE_PUSHED" if pushed else "GOOGLE_BUSY_MAX_AGE"]
    return calendar.busy_refreshed_at >= now - timedelta(seconds=max_age)


def _retry_allowed(calendar: Calendar, now: datetime) -> bool:
    if calendar.sync_failed_at is None:
        return True
    return calendar.sync_failed_at <= now - timedelta(seconds=current_app.config["GOOGLE_RETRY_AFTER"])


def busy_for_staff(staff_ids: Sequence[uuid.UUID], window_start: datetime, window_end: datetime, *,
                   now: datetime | None = None, refresh: bool = False,
                   exclude: Mapping[uuid.UUID, Sequence[tuple[datetime, datetime]]] | None = None) -> BusyState:
    """Busy time from the staff's conflict calendars over [window_start, window_end).

    One query when nobody has a connected calendar or every cache is fresh. With `refresh`, stale
    or short caches are fetched from Google first (never inside a booking's transaction: callers
    that hold one pass refresh=False). `exclude` removes intervals from one calendar's busy time
    only, by calendar id: a booking's own event while it is being moved (`own_events`)."""
    now = utcnow(now)
    state = BusyState()
    if not staff_ids:
        return state
    rows = _blocking_calendars(staff_ids)
    if not rows:
        return state
    if refresh:
        stale = _stale(rows, window_start, window_end, now)
        if stale:
            refresh_busy(stale, until=window_end, now=now)
    policy = current_app.config["GOOGLE_UNREACHABLE_POLICY"]
    # Cached intervals are UTC RFC 3339 strings to the second, which sort as text: filter before parsing.
    lo, hi = google.rfc3339(window_start), google.rfc3339(window_end)
    for calendar, _status in rows:
        intervals = state.busy.setdefault(calendar.user_id, [])
        holes = (exclude or {}).get(calendar.id, ())
        for start_s, end_s in calendar.busy_cache or ():
            if end_s > lo and start_s < hi:
                interval = (google.parse_time(start_s), google.parse_time(end_s))
                intervals.extend(_subtract(interval, holes))
        unknown = _unknown_parts(calendar, max(window_start, now), window_end, now)
        if unknown:
            state.withheld.setdefault(calendar.user_id, []).extend(unknown)
            if policy == "withhold":
                intervals.extend(unknown)
    return state


def _stale(rows, window_start: datetime, window_end: datetime, now: datetime) -> list[uuid.UUID]:
    """The calendars among (calendar, connection status) rows whose cache should be read from Google
    again now: active, not fresh for this window, and not in the pause after a failure."""
    if settings() is None:
        return []
    return [cal.id for cal, status in rows
            if status == "active" and not _fresh(cal, window_start, window_end, now) and _retry_allowed(cal, now)]


def needs_refresh(staff_ids: Sequence[uuid.UUID], window_start: datetime, window_end: datetime, *,
                  now: datetime | None = None) -> bool:
    """Whether `busy_for_staff(..., refresh=True)` would call Google for these staff and this window
    (for callers that hold locks and must refresh outside them). One query."""
    return bool(staff_ids) and bool(_stale(_blocking_calendars(staff_ids), window_start, window_end, utcnow(now)))


def _blocking_calendars(staff_ids: Sequence[uuid.UUID]) -> list:
    """(calendar, connection status) of every calendar that blocks these staff's availability."""
    return db.session.execute(
        select(Calendar, CalendarConnection.status)
        .join(CalendarConnection, CalendarConnection.id == Calendar.connection_id)
        .where(Calendar.user_id.in_(list(staff_ids)), Calendar.check_for_conflicts.is_(True))
    ).all()


def _subtract(interval: tuple[datetime, datetime], holes: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    pieces = [interval]
    for hole_start, hole_end in holes:
        pieces = [part for s, e in pieces
                  for part in ((s, min(e, hole_start)), (max(s, hole_end), e)) if part[0] < part[1]]
    return pieces


def own_events(bookings: Iterable, *, moved_to: tuple[uuid.UUID, datetime, datetime] | None = None
               ) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
    """The time the bookings' own events take, by the calendar that holds each one: a booking that
    is being moved must not be blocked by its own event, and nothing else may be ignored (not the
    same time in the trainer's other calendars, nor a colleague's busy time). `moved_to`: (booking
    id, start, end) where a trainer has just moved that booking's event in Google."""
    events: dict[uuid.UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    for booking in bookings:
        if booking.external_calendar_id is None or not booking.external_event_id:
            continue  # no event written: nothing of its own in Google
        events[booking.external_calendar_id].append((booking.start_at, booking.end_at))
        if moved_to is not None and moved_to[0] == booking.id:
            events[booking.external_calendar_id].append((moved_to[1], moved_to[2]))
    return dict(events)


def _unknown_parts(calendar: Calendar, start: datetime, end: datetime,
                   now: datetime) -> list[tuple[datetime, datetime]]:
    if start >= end:
        return []
    if calendar.busy_cache_from is None or calendar.busy_cache_until is None or not is_current(calendar, now):
        return [(start, end)]
    parts = []
    if start < calendar.busy_cache_from:
        parts.append((start, min(end, calendar.busy_cache_from)))
    if end > calendar.busy_cache_until:
        parts.append((max(start, calendar.busy_cache_until), end))
    return parts


def refresh_busy(calendar_ids: Sequence[uuid.UUID], *, until: datetime | None = None,
                 now: datetime | None = None) -> dict[uuid.UUID, bool]:
    """Fetch freeBusy for these calendars (grouped per connection, one call per ≤ 90 days) and store it.

    Covers [now − 1 hour, max(that + GOOGLE_BUSY_DAYS, until)), at most 400 days ahead. Returns
    calendar id → success.
    Failures are recorded on the calendar (sync_error, sync_failed_at) and never raised."""
    now = utcnow(now)
    config = settings()
    outcome: dict[uuid.UUID, bool] = {}
    if config is None:
        return outcome
    start = (now - BUSY_LOOKBACK).replace(second=0, microsecond=0)
    end = max(start + timedelta(days=current_app.config["GOOGLE_BUSY_DAYS"]), until or now)
    end = min(end, now + BUSY_HORIZON)
    calendars = db.session.scalars(select(Calendar).where(Calendar.id.in_(list(calendar_ids)))).all()
    by_connection: dict[uuid.UUID, list[Calendar]] = defaultdict(list)
    for calendar in calendars:
        by_connection[calendar.connection_id].append(calendar)
    for connection_id, members in by_connection.items():
        connection = db.session.get(CalendarConnection, connection_id)
        if connection is None or connection.status != "active":
            continue
        try:
            with client_for(connection, config) as client:
                answer = client.free_busy([c.external_id for c in members], start, end)
        except google.GoogleError as exc:
            connection_failed(connection, exc, now)
            for calendar in members:
                calendar.sync_error = f"Busy times could not be read from Google: {exc}"[:500]
                calendar.sync_failed_at = now
                outcome[calendar.id] = False
            continue
        for calendar in members:
            reason = answer.errors.get(calendar.external_id)
            if reason == "notFound":  # gone from the account for good: it can block nothing any more
                calendar.check_for_conflicts = False
                calendar.busy_cache = calendar.busy_cache_from = calendar.busy_cache_until = None
                calendar.sync_error = f"{GONE}, so it no longer blocks your availability."
                calendar.sync_failed_at = now
                outcome[calendar.id] = False
                continue
            if reason is not None:  # this calendar only, and only this time: the others' answers are good
                calendar.sync_error = f"Google could not read the busy times of this calendar ({reason})."[:500]
                calendar.sync_failed_at = now
                outcome[calendar.id] = False
                continue
            merged = _merge(answer.busy.get(calendar.external_id, []))
            stored = [[google.rfc3339(s), google.rfc3339(e)] for s, e in merged]
            if stored != (calendar.busy_cache or []):
                calendar.busy_cache = stored
            calendar.busy_cache_from, calendar.busy_cache_until = start, end
            calendar.busy_refreshed_at = now
            calendar.sync_error = None
            calendar.sync_failed_at = None
            outcome[calendar.id] = True
        recovered = connection.last_error is not None
        connection.last_error = None
        if recovered:
            db.session.commit()
            google_recovered(connection.user_id, now=now)
    db.session.commit()
    return outcome


def _merge(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
