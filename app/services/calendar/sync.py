"""Google Calendar sync: connect, busy times for availability, event write-back, push + incremental sync.

What it promises:

* **Connect.** OAuth with PKCE; the code verifier and the `state` never leave the server (a row in
  `calendar_oauth_states`, the verifier encrypted, the state hashed, single use, ten minutes).
  Tokens are stored encrypted (app/services/token_vault.py). Refreshed access tokens are stored
  again; `invalid_grant` marks the connection `needs_reconnect` — shown in the dashboard, and no
  write-back is lost: those bookings wait as `failed` and are written once the person reconnects.
* **Busy times.** The calendars a trainer marks "blocks availability" have their freeBusy cached
  (`calendars.busy_cache`, fetched in ≤ 90-day windows, GOOGLE_BUSY_DAYS ahead). An availability
  request reads the cache — no call to Google — while it is fresh: for GOOGLE_BUSY_MAX_AGE_PUSHED
  when a live push channel keeps it current, GOOGLE_BUSY_MAX_AGE when it can only be polled.
  A stale or short cache is refreshed inline (bounded by GOOGLE_HTTP_TIMEOUT; after a failure not
  again for GOOGLE_RETRY_AFTER). What is still unknown follows GOOGLE_UNREACHABLE_POLICY:
  `withhold` (default) treats that trainer's unknown time as busy, `ignore` treats it as free.
  Stale-but-known busy time is always used: an old answer beats none.
* **Write-back.** A booking change sets the booking `pending` in its own transaction; a job then
  inserts, patches or deletes the event on the trainer's destination calendar. The event id is
  derived from the booking ("atlas" + its uuid in hex, valid base32hex), so a retried insert hits
  409 and becomes a patch: one booking, one event. Failures retry with backoff
  (GOOGLE_WRITE_RETRIES); the booking shows `failed` after the last. A job only marks the booking
  `synced` if the booking did not change while it ran (compare-and-set on `sequence`).
* **Push + incremental sync.** Each selected calendar gets an events.watch channel with a random
  token (stored hashed). A notification with a known channel and the right token runs an
  incremental events.list from the stored sync token (410 → full resync). A periodic pass renews
  channels a day before they expire and runs an incremental sync as a backstop.
* **Two-way.** A change to one of our events in Google moves or cancels its booking through the
  booking service (actor `calendar`, audited, attendee notified). A move the booking rules refuse
  (taken, outside hours) is undone: the event is patched back and the booking says why.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.integrations import google_calendar as google
from app.models import ACTIVE_STATUSES, Booking, Calendar, CalendarConnection, CalendarOAuthState, User
from app.services import background
from app.services.calendar import vault as token_vault
from app.services.scheduling.engine import BusyInterval
from app.services.errors import InvalidRequest, NotFound, ServiceError

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)
# The cache starts a little before the moment it is fetched (it must cover "now" when read later)
# and runs GOOGLE_BUSY_DAYS from there: one freeBusy call for the default 90 days.
BUSY_LOOKBACK = timedelta(hours=1)
# Nobody is offered slots further ahead than this; the cache never reaches past it.
BUSY_HORIZON = timedelta(days=400)
CHANNEL_RENEW_BEFORE = timedelta(days=1)
# Write-back attempts still pending this long after being scheduled are picked up by the backstop.
PENDING_GRACE = timedelta(seconds=30)
SYNC_COLUMNS = frozenset({"external_event_id", "external_calendar_id", "calendar_sync_status", "calendar_sync_error",
                          "calendar_sync_attempts", "calendar_sync_next_at", "updated_at"})
BUSY_COLUMNS = frozenset({"busy_cache", "busy_cache_from", "busy_cache_until", "check_for_conflicts"})


class GoogleNotConfigured(ServiceError):
    """GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET are not set (a 503 in the JSON API)."""

    code = "google_not_configured"


class CalendarUnavailable(ServiceError):
    """Google could not be reached for something that cannot wait (a 502 in the JSON API)."""

    code = "google_unavailable"


def settings() -> google.GoogleSettings | None:
    return google.GoogleSettings.from_config(current_app.config)


def _require_settings() -> google.GoogleSettings:
    found = settings()
    if found is None:
        raise GoogleNotConfigured("Google Calendar is not configured on this portal "
                                  "(set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET).")
    return found


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def event_id_for(booking_id: uuid.UUID) -> str:
    """The Google event id of a booking: stable, so a retried insert cannot create a second event."""
    return "atlas" + uuid.UUID(str(booking_id)).hex


# --- connecting ------------------------------------------------------------------------------------

def start_connect(user: User, redirect_uri: str, *, now: datetime | None = None) -> str:
    """The Google consent URL for `user`. The PKCE verifier and the state stay in the database."""
    config = _require_settings()
    now = _now(now)
    db.session.execute(delete(CalendarOAuthState).where(CalendarOAuthState.expires_at < now))
    state = secrets.token_urlsafe(32)
    url, verifier = google.authorization_url(config, redirect_uri, state)
    db.session.add(CalendarOAuthState(organization_id=user.organization_id, user_id=user.id, state_hash=_hash(state),
                                      code_verifier_encrypted=token_vault.encrypt(verifier), created_at=now,
                                      expires_at=now + STATE_LIFETIME))
    db.session.commit()
    return url


def finish_connect(user: User, *, state: str | None, code: str | None, error: str | None, redirect_uri: str,
                   now: datetime | None = None) -> CalendarConnection:
    """Complete the consent: check the state belongs to `user` and is unused, exchange the code with
    the stored verifier, store the tokens encrypted and list the account's calendars.

    A new connection's primary calendar starts as both "blocks availability" and the destination
    for bookings (if the person has no destination yet); the rest start unselected."""
    config = _require_settings()
    now = _now(now)
    if not state:
        raise InvalidRequest("The answer from Google has no state; please start connecting again.",
                             fields={"state": "required"})
    row = db.session.scalars(select(CalendarOAuthState).where(CalendarOAuthState.state_hash == _hash(state))).first()
    if row is None or row.user_id != user.id or row.organization_id != user.organization_id:
        raise InvalidRequest("This connection attempt is unknown or was already used; please start again.",
                             fields={"state": "unknown"})
    verifier = token_vault.decrypt(row.code_verifier_encrypted)
    expired = row.expires_at < now
    db.session.delete(row)  # single use, whatever happens next
    db.session.commit()
    if expired:
        raise InvalidRequest("This connection attempt expired; please start again.", fields={"state": "expired"})
    if error:
        raise InvalidRequest("Google Calendar was not connected: access was not granted.",
                             fields={"error": error[:100]})
    if not code:
        raise InvalidRequest("The answer from Google has no code; please start again.", fields={"code": "required"})
    try:
        tokens = google.exchange_code(config, redirect_uri, code, verifier)
    except google.GoogleAccessRevoked as exc:
        raise InvalidRequest("Google did not accept this sign-in; please start again.",
                             fields={"code": exc.reason or "rejected"}) from None
    except google.GoogleUnavailable as exc:
        raise CalendarUnavailable(f"Google could not be reached to finish connecting ({exc}). Please try again.") from None
    try:
        with google.CalendarClient(config, tokens) as client:
            entries = client.list_calendars()
    except google.GoogleError as exc:
        raise CalendarUnavailable(f"Connected, but Google did not list the calendars ({exc}). Please try again.") from None
    primary = next((e for e in entries if e.get("primary")), entries[0] if entries else None)
    account = (primary or {}).get("id")

    connection = db.session.scalars(select(CalendarConnection).where(
        CalendarConnection.user_id == user.id, CalendarConnection.provider == "google",
        CalendarConnection.account_email == account)).first()
    if connection is None:
        connection = CalendarConnection(organization_id=user.organization_id, user_id=user.id, provider="google",
                                        account_email=account)
        db.session.add(connection)
    connection.access_token_encrypted = token_vault.encrypt(tokens.access_token)
    if tokens.refresh_token:  # Google omits it on a re-consent that did not ask again
        connection.refresh_token_encrypted = token_vault.encrypt(tokens.refresh_token)
    connection.token_expires_at = tokens.expires_at
    connection.scopes = list(tokens.scopes)
    connection.status = "active"
    connection.last_error = None
    db.session.flush()

    has_destination = db.session.scalar(select(Calendar.id).where(Calendar.user_id == user.id,
                                                                   Calendar.is_destination.is_(True)).limit(1))
    known = {c.external_id: c for c in connection.calendars}
    listed = set()
    new_destination = False
    for entry in entries:
        listed.add(entry["id"])
        calendar = known.get(entry["id"])
        if calendar is None:
            primary_entry = bool(entry.get("primary"))
            writable = entry.get("accessRole") in ("owner", "writer")
            calendar = Calendar(organization_id=user.organization_id, connection=connection, user_id=user.id,
                                external_id=entry["id"], check_for_conflicts=primary_entry,
                                is_destination=primary_entry and writable and not has_destination)
            new_destination = new_destination or calendar.is_destination
            db.session.add(calendar)
        calendar.name = (entry.get("summaryOverride") or entry.get("summary") or entry["id"])[:300]
        calendar.timezone = entry.get("timeZone")
        calendar.is_primary = bool(entry.get("primary"))
    for external_id, calendar in known.items():
        if external_id not in listed:
            _forget_calendar(calendar)
    if new_destination:
        _mark_future_bookings(user.id, now)  # upcoming sessions appear in the new calendar too
    db.session.commit()
    _requeue_failed_for(user.id, now)
    return connection


def _forget_calendar(calendar: Calendar, *, delete_row: bool = True) -> None:
    """Delete a calendar row; bookings whose events it held stop pointing at it."""
    db.session.execute(update(Booking).where(Booking.external_calendar_id == calendar.id)
                       .values(external_calendar_id=None).execution_options(synchronize_session=False))
    if delete_row:
        db.session.delete(calendar)


def disconnect(connection_id, user: User, *, now: datetime | None = None) -> None:
    """Stop push channels, revoke the grant at Google (best effort) and delete the tokens and calendars.

    Events already written stay in the person's Google Calendar; future bookings are not written."""
    connection = get_connection(connection_id, user)
    config = settings()
    if config is not None and connection.status in ("active", "error"):
        try:
            with _client(connection, config) as client:
                for calendar in connection.calendars:
                    _stop_channel(client, calendar)
        except google.GoogleError as exc:  # e.g. tokens no configured key can decrypt: delete anyway
            log.warning("disconnect %s: channels not stopped: %s", connection.id, exc)
    token = _decrypt_quietly(connection.refresh_token_encrypted) or _decrypt_quietly(connection.access_token_encrypted)
    if config is not None and token:
        google.revoke(config, token)
    for calendar in connection.calendars:
        _forget_calendar(calendar, delete_row=False)  # the rows go with the connection (cascade)
    db.session.execute(update(Booking).where(Booking.staff_id == connection.user_id,
                                             Booking.calendar_sync_status.in_(("pending", "failed")))
                       .values(calendar_sync_status="not_applicable", calendar_sync_next_at=None,
                               calendar_sync_error=None).execution_options(synchronize_session=False))
    db.session.delete(connection)
    db.session.commit()
    log.info("calendar connection %s of user %s disconnected", connection_id, user.id)


def get_connection(connection_id, user: User) -> CalendarConnection:
    """The connection, if `user` may manage it: their own, or (owners and admins) a colleague's."""
    try:
        connection = db.session.get(CalendarConnection, uuid.UUID(str(connection_id)))
    except ValueError:
        connection = None
    if connection is None or connection.organization_id != user.organization_id:
        raise NotFound("No such calendar connection.")
    if connection.user_id != user.id and user.role not in ("owner", "admin"):
        raise NotFound("No such calendar connection.")
    return connection


def update_selection(connection_id, user: User, *, conflict_ids: Iterable[str], destination_id: str | None,
                     now: datetime | None = None) -> CalendarConnection:
    """Choose which of a connection's calendars block availability and which one receives bookings.

    A new destination takes over the trainer's future bookings (their events move there)."""
    now = _now(now)
    connection = get_connection(connection_id, user)
    by_id = {str(c.id): c for c in connection.calendars}
    conflict_ids = {str(i) for i in conflict_ids}
    unknown = (conflict_ids | ({str(destination_id)} if destination_id else set())) - set(by_id)
    if unknown:
        raise InvalidRequest("That calendar is not part of this connection.", fields={"calendars": "unknown calendar"})
    previous_destination = next((c.id for c in connection.calendars if c.is_destination), None)
    for key, calendar in by_id.items():
        calendar.check_for_conflicts = key in conflict_ids
        if not calendar.check_for_conflicts:
            calendar.busy_cache = calendar.busy_cache_from = calendar.busy_cache_until = None
            calendar.busy_refreshed_at = None
    if destination_id:
        # One destination per person, across all their connections.
        db.session.execute(update(Calendar).where(Calendar.user_id == connection.user_id)
                           .values(is_destination=False).execution_options(synchronize_session="fetch"))
        by_id[str(destination_id)].is_destination = True
    else:
        for calendar in connection.calendars:
            calendar.is_destination = False
    new_destination = uuid.UUID(str(destination_id)) if destination_id else None
    if new_destination != previous_destination:
        _mark_future_bookings(connection.user_id, now)
    db.session.commit()
    return connection


def _mark_future_bookings(user_id, now: datetime) -> None:
    """The trainer's destination changed: every future active booking's event is rewritten."""
    db.session.execute(
        update(Booking).where(Booking.staff_id == user_id, Booking.status.in_(ACTIVE_STATUSES),
                              Booking.end_at > now)
        .values(calendar_sync_status="pending", calendar_sync_attempts=0, calendar_sync_next_at=now,
                calendar_sync_error=None)
        .execution_options(synchronize_session=False))


def _requeue_failed_for(user_id, now: datetime) -> None:
    """After a (re)connect: bookings that waited for this person's calendar are written now."""
    db.session.execute(
        update(Booking).where(Booking.staff_id == user_id, Booking.calendar_sync_status == "failed",
                              Booking.end_at > now)
        .values(calendar_sync_status="pending", calendar_sync_attempts=0, calendar_sync_next_at=now,
                calendar_sync_error=None)
        .execution_options(synchronize_session=False))
    db.session.commit()


# --- tokens and clients ---------------------------------------------------------------------------

def _decrypt_quietly(value: bytes | None) -> str | None:
    try:
        return token_vault.decrypt(value)
    except token_vault.VaultError:
        return None


def _client(connection: CalendarConnection, config: google.GoogleSettings) -> google.CalendarClient:
    """A client for the connection; refreshed tokens are written back (encrypted) as they arrive."""
    try:
        tokens = google.TokenSet(token_vault.decrypt(connection.access_token_encrypted),
                                 token_vault.decrypt(connection.refresh_token_encrypted),
                                 connection.token_expires_at, tuple(connection.scopes or ()))
    except token_vault.VaultError:
        raise google.GoogleAccessRevoked("The stored tokens cannot be decrypted (was the key changed?).") from None

    def store(new: google.TokenSet) -> None:
        connection.access_token_encrypted = token_vault.encrypt(new.access_token)
        if new.refresh_token:
            connection.refresh_token_encrypted = token_vault.encrypt(new.refresh_token)
        connection.token_expires_at = new.expires_at

    return google.CalendarClient(config, tokens, on_tokens=store)


def _connection_failed(connection: CalendarConnection, exc: google.GoogleError, now: datetime) -> None:
    if isinstance(exc, google.GoogleAccessRevoked):
        connection.status = "needs_reconnect"
        connection.last_error = "Google no longer accepts this connection. Please reconnect Google Calendar."
    else:
        connection.last_error = f"{exc}"[:500]
    log.warning("google calendar connection %s: %s", connection.id, exc)


# --- busy times ------------------------------------------------------------------------------------

@dataclass
class BusyState:
    """External busy time per staff member, and what is known about its freshness (for the dashboard)."""

    busy: dict[uuid.UUID, list[BusyInterval]] = field(default_factory=dict)
    withheld: dict[uuid.UUID, list[tuple[datetime, datetime]]] = field(default_factory=dict)


def _fresh(calendar: Calendar, connection_status: str, start: datetime, end: datetime, now: datetime) -> bool:
    if calendar.busy_refreshed_at is None or calendar.busy_cache_from is None or calendar.busy_cache_until is None:
        return False
    if calendar.busy_cache_from > max(start, now) or calendar.busy_cache_until < min(end, now + BUSY_HORIZON):
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
                   exclude: Sequence[tuple[datetime, datetime]] = ()) -> BusyState:
    """Busy time from the staff's conflict calendars over [window_start, window_end).

    One query when nobody has a connected calendar or every cache is fresh. With `refresh`, stale
    or short caches are fetched from Google first (never inside a booking's transaction: callers
    that hold one pass refresh=False). `exclude` removes intervals (a booking's own event while it
    is being moved)."""
    now = _now(now)
    state = BusyState()
    if not staff_ids:
        return state
    rows = db.session.execute(
        select(Calendar, CalendarConnection.status)
        .join(CalendarConnection, CalendarConnection.id == Calendar.connection_id)
        .where(Calendar.user_id.in_(list(staff_ids)), Calendar.check_for_conflicts.is_(True))
    ).all()
    if not rows:
        return state
    if refresh and settings() is not None:
        stale = [(cal, status) for cal, status in rows
                 if status == "active" and not _fresh(cal, status, window_start, window_end, now)
                 and _retry_allowed(cal, now)]
        if stale:
            refresh_busy([cal.id for cal, _ in stale], until=window_end, now=now)
    policy = current_app.config["GOOGLE_UNREACHABLE_POLICY"]
    # Cached intervals are UTC RFC 3339 strings to the second, which sort as text: filter before parsing.
    lo, hi = google.rfc3339(window_start), google.rfc3339(window_end)
    for calendar, _status in rows:
        intervals = state.busy.setdefault(calendar.user_id, [])
        for start_s, end_s in calendar.busy_cache or ():
            if end_s > lo and start_s < hi:
                interval = (google.parse_time(start_s), google.parse_time(end_s))
                intervals.extend(_subtract(interval, exclude))
        unknown = _unknown_parts(calendar, max(window_start, now), window_end)
        if unknown:
            state.withheld.setdefault(calendar.user_id, []).extend(unknown)
            if policy == "withhold":
                intervals.extend(BusyInterval(s, e) for s, e in unknown)
    return state


def _subtract(interval: tuple[datetime, datetime], holes: Sequence[tuple[datetime, datetime]]) -> list[BusyInterval]:
    pieces = [interval]
    for hole_start, hole_end in holes:
        pieces = [part for s, e in pieces
                  for part in ((s, min(e, hole_start)), (max(s, hole_end), e)) if part[0] < part[1]]
    return [BusyInterval(s, e) for s, e in pieces]


def _unknown_parts(calendar: Calendar, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    if start >= end:
        return []
    if calendar.busy_cache_from is None or calendar.busy_cache_until is None:
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
    now = _now(now)
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
            with _client(connection, config) as client:
                answer = client.free_busy([c.external_id for c in members], start, end)
        except google.GoogleError as exc:
            _connection_failed(connection, exc, now)
            for calendar in members:
                calendar.sync_error = f"Busy times could not be read from Google: {exc}"[:500]
                calendar.sync_failed_at = now
                outcome[calendar.id] = False
            continue
        for calendar in members:
            merged = _merge(answer.get(calendar.external_id, []))
            stored = [[google.rfc3339(s), google.rfc3339(e)] for s, e in merged]
            if stored != (calendar.busy_cache or []):
                calendar.busy_cache = stored
            calendar.busy_cache_from, calendar.busy_cache_until = start, end
            calendar.busy_refreshed_at = now
            calendar.sync_error = None
            calendar.sync_failed_at = None
            outcome[calendar.id] = True
        connection.last_error = None
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


# --- write-back -------------------------------------------------------------------------------------

def destination_for(user_id) -> Calendar | None:
    """The calendar a trainer's bookings are written to, if it is connected and usable."""
    return db.session.scalars(
        select(Calendar).join(CalendarConnection, CalendarConnection.id == Calendar.connection_id)
        .where(Calendar.user_id == user_id, Calendar.is_destination.is_(True))
        .where(CalendarConnection.status.in_(("active", "needs_reconnect", "error")))
    ).first()


def mark_bookings_changed(bookings: Sequence[Booking], *, now: datetime | None = None) -> list[uuid.UUID]:
    """Called by the booking service inside the booking's transaction: these rows need their event
    written. Returns the ids to kick after the commit (empty when no one has a destination)."""
    now = _now(now)
    staff_ids = {b.staff_id for b in bookings}
    has_destination = set()
    if staff_ids:
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
    """Start writing these bookings' events now (RQ job, the in-process worker, or inline)."""
    if booking_ids:
        background.submit("calendar.events", [str(i) for i in booking_ids])


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
    now = _now(now)
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
    return _finish(booking, seen_sequence, "synced", None, outcome)


def _delete_event(calendar: Calendar, event_id: str, config) -> None:
    connection = db.session.get(CalendarConnection, calendar.connection_id)
    with _client(connection, config) as client:
        try:
            client.delete_event(calendar.external_id, event_id)
        except (google.EventNotFound, google.EventGone):
            pass  # already gone: what we wanted


def _write_event(booking: Booking, calendar: Calendar, config) -> str:
    connection = db.session.get(CalendarConnection, calendar.connection_id)
    if connection.status == "needs_reconnect":
        raise google.GoogleAccessRevoked("Google Calendar needs reconnecting.")
    body = _event_body(booking, calendar)
    known = booking.external_calendar_id == calendar.id and booking.external_event_id
    event_id = booking.external_event_id if known else event_id_for(booking.id)
    with _client(connection, config) as client:
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
    booking.external_event_id = event_id
    booking.external_calendar_id = calendar.id
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
        _connection_failed(connection, exc, now)
    delays = _retry_delays()
    attempts = booking.calendar_sync_attempts + 1
    if isinstance(exc, google.GoogleAccessRevoked):
        status, next_at = "failed", None
        message = "Waiting for Google Calendar to be reconnected."
    elif isinstance(exc, google.GoogleUnavailable) and attempts <= len(delays):
        status, next_at = "pending", now + timedelta(seconds=delays[attempts - 1])
        message = f"Google Calendar could not be updated ({exc}); trying again."
    else:
        status, next_at = "failed", None
        message = f"Google Calendar could not be updated: {exc}"
    db.session.execute(
        update(Booking).where(Booking.id == booking.id, Booking.sequence == seen_sequence)
        .values(calendar_sync_status=status, calendar_sync_next_at=next_at, calendar_sync_attempts=attempts,
                calendar_sync_error=message[:500])
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire(booking)
    log.warning("booking %s event write-back: %s", booking.id, exc)
    return "retry" if status == "pending" else "failed"


def due_bookings(now: datetime, limit: int = 100) -> list[uuid.UUID]:
    return list(db.session.scalars(
        select(Booking.id).where(Booking.calendar_sync_status == "pending",
                                 or_(Booking.calendar_sync_next_at.is_(None), Booking.calendar_sync_next_at <= now))
        .order_by(Booking.calendar_sync_next_at).limit(limit)))


# --- push channels -----------------------------------------------------------------------------------

def _wants_channel(calendar: Calendar) -> bool:
    return bool(calendar.check_for_conflicts or calendar.is_destination)


def ensure_channel(calendar: Calendar, *, now: datetime | None = None, force: bool = False) -> bool:
    """Start (or renew, a day before it expires) the calendar's push channel. True when one is live.

    A calendar nobody selected has its channel stopped. Failures are recorded, not raised: without
    a channel the calendar is polled by the periodic pass."""
    now = _now(now)
    config = settings()
    connection = db.session.get(CalendarConnection, calendar.connection_id)
    if config is None or connection is None or connection.status != "active":
        return False
    if not _wants_channel(calendar):
        if calendar.channel_id:
            with _client(connection, config) as client:
                _stop_channel(client, calendar)
            db.session.commit()
        return False
    live = calendar.channel_expires_at is not None and calendar.channel_expires_at > now + CHANNEL_RENEW_BEFORE
    if calendar.channel_id and live and not force:
        return True
    channel_id = uuid.uuid4().hex
    token = secrets.token_urlsafe(32)
    with _client(connection, config) as client:
        try:
            answer = client.watch(calendar.external_id, channel_id=channel_id, token=token,
                                  address=current_app.config["GOOGLE_WEBHOOK_URL"],
                                  ttl_seconds=current_app.config["GOOGLE_CHANNEL_TTL"])
        except google.GoogleError as exc:
            _connection_failed(connection, exc, now)
            calendar.sync_error = f"Push notifications could not be started ({exc}); polling instead."[:500]
            db.session.commit()
            return False
        if calendar.channel_id:
            _stop_channel(client, calendar)
    calendar.channel_id = channel_id
    calendar.channel_token_hash = _hash(token)
    calendar.channel_resource_id = answer.get("resourceId")
    expiration = answer.get("expiration")
    calendar.channel_expires_at = (datetime.fromtimestamp(int(expiration) / 1000, timezone.utc) if expiration
                                   else now + timedelta(seconds=current_app.config["GOOGLE_CHANNEL_TTL"]))
    db.session.commit()
    return True


def _stop_channel(client: google.CalendarClient, calendar: Calendar) -> None:
    if calendar.channel_id and calendar.channel_resource_id:
        try:
            client.stop_channel(calendar.channel_id, calendar.channel_resource_id)
        except google.GoogleError as exc:
            log.info("could not stop channel %s: %s", calendar.channel_id, exc)
    calendar.channel_id = calendar.channel_token_hash = calendar.channel_resource_id = None
    calendar.channel_expires_at = None


class ChannelRejected(ServiceError):
    """A push notification with a wrong token or resource (a 403)."""

    code = "channel_rejected"


def verify_push(channel_id: str | None, token: str | None, resource_id: str | None) -> Calendar:
    """The calendar a push notification is for, if its channel id, token and resource are ours."""
    if not channel_id:
        raise InvalidRequest("X-Goog-Channel-ID is missing.", fields={"X-Goog-Channel-ID": "required"})
    calendar = db.session.scalars(select(Calendar).where(Calendar.channel_id == channel_id[:64])).first()
    if calendar is None:
        raise NotFound("Unknown channel.")
    if not token or not calendar.channel_token_hash or not hmac.compare_digest(_hash(token), calendar.channel_token_hash):
        raise ChannelRejected("Wrong channel token.")
    if resource_id and calendar.channel_resource_id and resource_id != calendar.channel_resource_id:
        raise ChannelRejected("The resource does not match the channel.")
    return calendar


# --- incremental sync and two-way changes -------------------------------------------------------------

@dataclass
class SyncOutcome:
    changed: int = 0
    full: bool = False
    moved: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict:
        return {"changed": self.changed, "full": self.full, "moved": self.moved, "cancelled": self.cancelled,
                "refused": self.refused, "error": self.error}


def sync_calendar(calendar_id, *, now: datetime | None = None) -> SyncOutcome:
    """Read what changed in the calendar since the last sync (410 → a full resync), apply changes to
    our events to their bookings, and refresh the busy cache if anything changed."""
    now = _now(now)
    outcome = SyncOutcome()
    calendar = db.session.get(Calendar, uuid.UUID(str(calendar_id)))
    config = settings()
    if calendar is None or config is None:
        outcome.error = "no such calendar" if calendar is None else "not configured"
        return outcome
    connection = db.session.get(CalendarConnection, calendar.connection_id)
    if connection.status != "active":
        outcome.error = connection.status
        return outcome
    token = calendar.sync_token
    try:
        with _client(connection, config) as client:
            try:
                items, next_token = _read_changes(client, calendar.external_id, token)
            except google.SyncTokenExpired:
                log.info("calendar %s: sync token expired, full resync", calendar.id)
                token = None
                items, next_token = _read_changes(client, calendar.external_id, None)
    except google.GoogleError as exc:
        db.session.rollback()
        calendar = db.session.get(Calendar, calendar.id)
        _connection_failed(db.session.get(CalendarConnection, calendar.connection_id), exc, now)
        calendar.sync_error = f"Changes could not be read from Google: {exc}"[:500]
        calendar.sync_failed_at = now
        db.session.commit()
        outcome.error = str(exc)
        return outcome
    outcome.full = token is None
    outcome.changed = len(items)
    calendar.sync_token = next_token
    calendar.last_synced_at = now
    connection.last_synced_at = now
    calendar_pk, user_id, conflicts = calendar.id, calendar.user_id, calendar.check_for_conflicts
    db.session.commit()
    for item in items:
        _apply_event_change(item, calendar_pk, user_id, outcome, now)
    if conflicts and (items or outcome.full):
        refresh_busy([calendar_pk], now=now)
    return outcome


def _read_changes(client, calendar_external_id: str, token: str | None) -> tuple[list[dict], str | None]:
    pages = client.list_changes(calendar_external_id, token)
    items: list[dict] = []
    while True:
        try:
            items.extend(next(pages))
        except StopIteration as stop:
            return items, stop.value


def _apply_event_change(item: dict, calendar_id: uuid.UUID, user_id: uuid.UUID, outcome: SyncOutcome,
                        now: datetime) -> None:
    from app.services.bookings import lifecycle as booking_service

    event_id = item.get("id") or ""
    private = (item.get("extendedProperties") or {}).get("private") or {}
    booking = None
    if private.get("atlasBookingId"):
        try:
            booking = db.session.get(Booking, uuid.UUID(private["atlasBookingId"]))
        except ValueError:
            booking = None
    if booking is None and event_id.startswith("atlas"):  # tombstones carry no properties
        try:
            booking = db.session.get(Booking, uuid.UUID(event_id[5:]))
        except ValueError:
            booking = None
    if booking is None or booking.external_calendar_id != calendar_id or booking.external_event_id != event_id:
        return  # not one of ours (or an old copy): it only changes busy time
    if booking.status not in ACTIVE_STATUSES:
        return
    actor = booking_service.Actor("calendar", id=str(user_id))
    if item.get("status") == "cancelled":
        try:
            booking_service.cancel_booking(booking.id, actor=actor, reason="Removed from the trainer's Google Calendar",
                                           now=now)
            outcome.cancelled.append(str(booking.id))
        except ServiceError as exc:
            log.info("booking %s: cancel from Google refused: %s", booking.id, exc)
        return
    start = google.parse_time(item.get("start"))
    if start is None or start == booking.start_at:
        return
    try:
        booking_service.reschedule_booking(booking.id, start_time=start, actor=actor, now=now)
        outcome.moved.append(str(booking.id))
    except ServiceError as exc:
        # The move breaks a booking rule: put the event back where the booking is, and say why.
        booking = db.session.get(Booking, booking.id)
        booking.calendar_sync_status = "pending"
        booking.calendar_sync_next_at = now
        booking.calendar_sync_attempts = 0
        local = start.isoformat(timespec="minutes")
        booking.calendar_sync_error = (f"Moved in Google Calendar to {local}, which the booking rules do not allow "
                                       f"({exc}); the event was put back.")[:500]
        booking_service.record_audit(booking, actor, "calendar_move_refused", None,
                                     {"requested_start": start.isoformat(), "reason": str(exc)[:300]})
        db.session.commit()
        outcome.refused.append(str(booking.id))
        after_commit([booking.id])


# --- the periodic pass -----------------------------------------------------------------------------------

@dataclass
class PassOutcome:
    written: int = 0
    channels: int = 0
    synced: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"written": self.written, "channels": self.channels, "synced": self.synced, "errors": self.errors}


def process_due(*, now: datetime | None = None, maintenance: bool = True) -> PassOutcome:
    """The backstop: write due events; renew or start push channels; incremental-sync calendars whose
    last sync is older than GOOGLE_SYNC_INTERVAL (Google does not promise every notification)."""
    now = _now(now)
    outcome = PassOutcome()
    if settings() is None:
        return outcome
    for booking_id in due_bookings(now):
        result = sync_booking_event(booking_id, now=now)
        if result in ("inserted", "patched", "deleted", "unchanged"):
            outcome.written += 1
    if not maintenance:
        return outcome
    interval = timedelta(seconds=current_app.config["GOOGLE_SYNC_INTERVAL"])
    calendars = db.session.scalars(
        select(Calendar).join(CalendarConnection, CalendarConnection.id == Calendar.connection_id)
        .where(CalendarConnection.status == "active")
        .where(or_(Calendar.check_for_conflicts.is_(True), Calendar.is_destination.is_(True),
                   Calendar.channel_id.is_not(None)))
    ).all()
    for calendar in calendars:
        calendar_id = calendar.id
        try:
            if calendar.channel_id is None or calendar.channel_expires_at is None \
                    or calendar.channel_expires_at <= now + CHANNEL_RENEW_BEFORE or not _wants_channel(calendar):
                if ensure_channel(calendar, now=now):
                    outcome.channels += 1
            calendar = db.session.get(Calendar, calendar_id)
            if calendar is not None and (calendar.last_synced_at is None or calendar.last_synced_at <= now - interval):
                result = sync_calendar(calendar_id, now=now)
                if result.error:
                    outcome.errors.append(f"{calendar_id}: {result.error}")
                else:
                    outcome.synced += 1
        except Exception as exc:  # noqa: BLE001 (one calendar's trouble must not stop the others)
            db.session.rollback()
            log.exception("calendar %s: periodic pass failed", calendar_id)
            outcome.errors.append(f"{calendar_id}: {exc.__class__.__name__}")
    return outcome


def setup_connection(connection_id, *, now: datetime | None = None) -> None:
    """After connect or a change of selection: channels, a first sync, busy times — all best effort."""
    now = _now(now)
    connection = db.session.get(CalendarConnection, uuid.UUID(str(connection_id)))
    if connection is None:
        return
    ids = [c.id for c in connection.calendars]
    for calendar_id in ids:
        calendar = db.session.get(Calendar, calendar_id)
        ensure_channel(calendar, now=now)
        if _wants_channel(calendar) and calendar.sync_token is None:
            sync_calendar(calendar_id, now=now)  # a first, full sync (refreshes busy times too)
    stale = [c.id for c in db.session.scalars(select(Calendar).where(
        Calendar.id.in_(ids), Calendar.check_for_conflicts.is_(True)))
        if c.busy_refreshed_at is None or c.busy_refreshed_at < now]
    if stale:
        refresh_busy(stale, now=now)
    for booking_id in due_bookings(now):
        sync_booking_event(booking_id, now=now)


# --- what the dashboard shows ----------------------------------------------------------------------------

def connections_for(user: User) -> list[CalendarConnection]:
    return connections_by_user([user]).get(user.id, [])


def connections_by_user(staff: Sequence[User]) -> dict[uuid.UUID, list[CalendarConnection]]:
    """Each staff member's connections with their calendars, oldest first, in two queries for any
    number of people."""
    by_user: dict[uuid.UUID, list[CalendarConnection]] = defaultdict(list)
    if not staff:
        return by_user
    org_ids = {member.organization_id for member in staff}
    for connection in db.session.scalars(
            select(CalendarConnection).options(selectinload(CalendarConnection.calendars))
            .where(CalendarConnection.user_id.in_([member.id for member in staff]),
                   CalendarConnection.organization_id.in_(org_ids))
            .order_by(CalendarConnection.created_at)):
        by_user[connection.user_id].append(connection)
    return by_user


def calendar_problems(staff: Sequence[User], *, now: datetime | None = None) -> dict[uuid.UUID, list[str]]:
    """Per staff member, plain-language reasons their availability or write-back is degraded (times
    in the staff member's own zone)."""
    now = _now(now)
    problems: dict[uuid.UUID, list[str]] = defaultdict(list)
    zones = {s.id: ZoneInfo(s.timezone or "UTC") for s in staff}
    if not zones:
        return problems
    policy = current_app.config["GOOGLE_UNREACHABLE_POLICY"]

    def at(moment: datetime, user_id) -> str:
        return moment.astimezone(zones[user_id]).strftime("%d %b %H:%M")

    connections = [c for members in connections_by_user(staff).values() for c in members]
    for connection in connections:
        who = connection.user_id
        if connection.status == "needs_reconnect":
            problems[who].append(f"Google Calendar ({connection.account_email}) needs reconnecting: new bookings "
                                 "wait to be written, and its busy times are no longer updated.")
        for calendar in connection.calendars:
            if not calendar.check_for_conflicts:
                continue
            if calendar.busy_cache_until is None:
                what = "your slots are withheld until they can be read" if policy == "withhold" else "they are ignored"
                problems[who].append(f"Busy times of “{calendar.name}” have not been read yet; {what}.")
            elif calendar.sync_failed_at is not None:
                what = (f"slots after {at(calendar.busy_cache_until, who)} are withheld" if policy == "withhold"
                        else "newer busy times are not known")
                problems[who].append(f"Google could not be reached for “{calendar.name}” since "
                                     f"{at(calendar.sync_failed_at, who)}; known busy times are still used, {what}.")
    return problems


def failed_write_counts(organization_id) -> dict[uuid.UUID, int]:
    """Per member of staff, how many of their bookings could not be written to Google."""
    return dict(db.session.execute(
        select(Booking.staff_id, func.count()).where(Booking.organization_id == organization_id,
                                                     Booking.calendar_sync_status == "failed")
        .group_by(Booking.staff_id)).all())


def failed_writes(organization_id, staff_id=None, limit: int = 20) -> list[Booking]:
    query = (select(Booking).where(Booking.organization_id == organization_id,
                                   Booking.calendar_sync_status == "failed")
             .order_by(Booking.start_at).limit(limit))
    if staff_id is not None:
        query = query.where(Booking.staff_id == staff_id)
    return list(db.session.scalars(query))

