"""Connections: OAuth with PKCE to a person's Google account, the calendars it lists, which of them
block availability and which one receives bookings, and disconnecting.

The code verifier and the `state` never leave the server (a row in `calendar_oauth_states`, the
verifier encrypted, the state hashed, single use, ten minutes). Tokens are stored encrypted. What
has to be synced after a connection changes (channels, a first sync, busy times, bookings waiting
to be written) is decided here and runs in the background.
"""
from __future__ import annotations

import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.integrations import google_calendar as google
from app.models import (
    ACTIVE_STATUSES,
    Booking,
    Calendar,
    CalendarConnection,
    CalendarOAuthState,
    ClassSession,
    User,
)
from app.services import background
from app.services.calendar import vault as token_vault
from app.services.calendar.access import (
    GONE,
    CalendarUnavailable,
    client_for,
    decrypt_quietly,
    digest,
    require_settings,
    settings,
    utcnow,
)
from app.services.calendar.channels import stop_channel, wants_channel
from app.services.errors import InvalidRequest, NotFound
from app.services.scoping import org_row

log = logging.getLogger(__name__)


STATE_LIFETIME = timedelta(minutes=10)


def start_connect(user: User, redirect_uri: str, *, now: datetime | None = None) -> str:
    """The Google consent URL for `user`. The PKCE verifier and the state stay in the database."""
    config = require_settings()
    now = utcnow(now)
    db.session.execute(delete(CalendarOAuthState).where(CalendarOAuthState.expires_at < now))
    state = secrets.token_urlsafe(32)
    url, verifier = google.authorization_url(config, redirect_uri, state)
    db.session.add(CalendarOAuthState(organization_id=user.organization_id, user_id=user.id, state_hash=digest(state),
                                      code_verifier_encrypted=token_vault.encrypt(verifier), created_at=now,
                                      expires_at=now + STATE_LIFETIME))
    db.session.commit()
    return url


def finish_connect(user: User, *, state: str | None, code: str | None, error: str | None, redirect_uri: str,
                   now: datetime | None = None) -> CalendarConnection:
    """Complete the consent: check the state belongs to `user` and is unused, exchange the code with
    the stored verifier, store the tokens encrypted and list the account's calendars
    (`apply_calendar_list`, the same rule as the periodic re-read).

    A new connection's primary calendar starts as both "blocks availability" and the destination
    for bookings (if the person has no destination yet); the rest start unselected. Calendars gone
    from the account since the last connect have their push channels stopped."""
    config = require_settings()
    now = utcnow(now)
    if not state:
        raise InvalidRequest("The answer from Google has no state; please start connecting again.",
                             fields={"state": "required"})
    row = db.session.scalars(select(CalendarOAuthState).where(CalendarOAuthState.state_hash == digest(state))).first()
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
    missing = google.missing_scopes(tokens.scopes)
    if missing:  # the person unticked a permission on Google's screen
        needs = " and ".join(google.SCOPE_PURPOSE[scope] for scope in missing)
        raise InvalidRequest(f"Google Calendar was not connected: Atlas Booking needs permission to {needs}. "
                             "Connect again and leave every box ticked on Google's screen.",
                             fields={"scope": "missing " + " ".join(missing)})
    with google.CalendarClient(config, tokens) as client:  # the fresh tokens: the list, then channels to stop
        try:
            entries = client.list_calendars()
        except google.GoogleError as exc:
            raise CalendarUnavailable(f"Connected, but Google did not list the calendars ({exc}). "
                                      "Please try again.") from None
        primary = next((e for e in entries if e.get("primary")), entries[0] if entries else None)
        account = (primary or {}).get("id")

        connection = db.session.scalars(select(CalendarConnection).where(
            CalendarConnection.user_id == user.id, CalendarConnection.provider == "google",
            CalendarConnection.account_email == account)).first()
        if connection is None:
            connection = CalendarConnection(organization_id=user.organization_id, user_id=user.id,
                                            provider="google", account_email=account)
            db.session.add(connection)
        connection.access_token_encrypted = token_vault.encrypt(tokens.access_token)
        if tokens.refresh_token:  # Google omits it on a re-consent that did not ask again
            connection.refresh_token_encrypted = token_vault.encrypt(tokens.refresh_token)
        connection.token_expires_at = tokens.expires_at
        connection.scopes = list(tokens.scopes)
        connection.status = "active"
        connection.last_error = None
        connection.reconnect_emailed_at = None  # reconnected: losing access again is told again
        connection.calendars_checked_at = now
        db.session.flush()
        listed = apply_calendar_list(connection, entries, client=client, connecting=True)
    if listed.new_destination:
        _mark_future_bookings(user.id, now)  # upcoming sessions appear in the new calendar too
    db.session.commit()
    _requeue_failed_for(user.id, now)
    background.submit("calendar.setup", str(connection.id))  # channels, a first sync, busy times
    return connection


@dataclass
class ListedCalendars:
    """What applying an account's calendar list changed."""

    added: list[str] = field(default_factory=list)  # names of calendars that appeared
    gone: list[str] = field(default_factory=list)   # names of calendars in use that went (kept, with why)
    dropped: int = 0                                # calendars nobody used that went (forgotten)
    new_destination: bool = False                   # connecting made a calendar the destination


def apply_calendar_list(connection: CalendarConnection, entries: Sequence[dict], *, client: google.CalendarClient,
                        connecting: bool = False) -> ListedCalendars:
    """Make the connection's calendars match the account's calendar list: the one rule for connect,
    reconnect and the periodic re-read (the caller commits).

    * A calendar that appeared is added unselected — except when connecting, where the primary
      calendar starts as "blocks availability" and (writable, and the person has no destination
      yet) as the destination for bookings.
    * Names, time zones and which calendar is primary follow Google.
    * A calendar the list no longer has stops blocking availability and receiving bookings, and its
      push channel is stopped (`client`, best effort). One that was in use stays, with a
      plain-language reason on it (and on the connection when it was the destination, so the trainer
      picks another); one nobody used is dropped. A calendar that comes back loses the reason, not
      its new, unselected state."""
    result = ListedCalendars()
    has_destination = connecting and db.session.scalar(
        select(Calendar.id).where(Calendar.user_id == connection.user_id, Calendar.is_destination.is_(True)).limit(1))
    known = {c.external_id: c for c in connection.calendars}
    listed = set()
    for entry in entries:
        listed.add(entry["id"])
        calendar = known.get(entry["id"])
        if calendar is None:
            primary = connecting and bool(entry.get("primary"))
            writable = entry.get("accessRole") in ("owner", "writer")
            calendar = Calendar(organization_id=connection.organization_id, connection=connection,
                                user_id=connection.user_id, external_id=entry["id"], check_for_conflicts=primary,
                                is_destination=primary and writable and not has_destination)
            result.new_destination = result.new_destination or calendar.is_destination
            db.session.add(calendar)
            result.added.append(entry.get("summaryOverride") or entry.get("summary") or entry["id"])
        elif (calendar.sync_error or "").startswith(GONE):
            calendar.sync_error = None  # back in the account
        calendar.name = (entry.get("summaryOverride") or entry.get("summary") or entry["id"])[:300]
        calendar.timezone = entry.get("timeZone")
        calendar.is_primary = bool(entry.get("primary"))
    for external_id, calendar in known.items():
        if external_id not in listed:
            _calendar_gone(connection, calendar, client, result)
    return result


def _calendar_gone(connection: CalendarConnection, calendar: Calendar, client: google.CalendarClient,
                   result: ListedCalendars) -> None:
    """A calendar the account no longer lists: nothing can be read from it or written to it."""
    stop_channel(client, calendar)  # Google would go on notifying us about it
    told = (calendar.sync_error or "").startswith(GONE)
    if not (calendar.check_for_conflicts or calendar.is_destination or told):
        _forget_calendar(calendar)  # nobody used it: nothing to tell anyone
        result.dropped += 1
        return
    if told:
        return
    lost = []
    if calendar.check_for_conflicts:
        lost.append("it no longer blocks your availability")
    if calendar.is_destination:
        lost.append("bookings are no longer written to it: choose another calendar for them")
        connection.last_error = (f"“{calendar.name}”, the calendar your bookings were written to, is no longer in "
                                 "your Google account (or no longer shared with you). Choose another calendar "
                                 "for your bookings.")
    calendar.sync_error = f"{GONE}, so {' and '.join(lost)}."
    calendar.check_for_conflicts = calendar.is_destination = False
    calendar.busy_cache = calendar.busy_cache_from = calendar.busy_cache_until = None
    calendar.busy_refreshed_at = None
    result.gone.append(calendar.name)


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
            with client_for(connection, config) as client:
                for calendar in connection.calendars:
                    stop_channel(client, calendar)
        except google.GoogleError as exc:  # e.g. tokens no configured key can decrypt: delete anyway
            log.warning("disconnect %s: channels not stopped: %s", connection.id, exc)
    token = decrypt_quietly(connection.refresh_token_encrypted) or decrypt_quietly(connection.access_token_encrypted)
    if config is not None and token:
        google.revoke(config, token)
    for calendar in connection.calendars:
        _forget_calendar(calendar, delete_row=False)  # the rows go with the connection (cascade)
    db.session.execute(update(Booking).where(Booking.staff_id == connection.user_id,
                                             Booking.calendar_sync_status.in_(("pending", "failed")))
                       .values(calendar_sync_status="not_applicable", calendar_sync_next_at=None,
                               calendar_sync_error=None).execution_options(synchronize_session=False))
    db.session.execute(update(ClassSession).where(ClassSession.instructor_id == connection.user_id,
                                                  ClassSession.calendar_sync_status.in_(("pending", "failed")))
                       .values(calendar_sync_status="not_applicable", calendar_sync_next_at=None,
                               calendar_sync_error=None).execution_options(synchronize_session=False))
    db.session.delete(connection)
    db.session.commit()
    log.info("calendar connection %s of user %s disconnected", connection_id, user.id)


def get_connection(connection_id, user: User) -> CalendarConnection:
    """The connection, if `user` may manage it: their own, or (owners and admins) a colleague's."""
    connection = org_row(CalendarConnection, user.organization_id, connection_id, "calendar connection")
    if connection.user_id != user.id and user.role not in ("owner", "admin"):
        raise NotFound("No such calendar connection.")
    return connection


def update_selection(connection_id, user: User, *, conflict_ids: Iterable[str], destination_id: str | None,
                     now: datetime | None = None) -> CalendarConnection:
    """Choose which of a connection's calendars block availability and which one receives bookings.

    A new destination takes over the trainer's future bookings (their events move there)."""
    now = utcnow(now)
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
    background.submit("calendar.setup", str(connection.id))  # channels and busy times of the new choice
    return connection


def sync_now(connection_id, user: User) -> CalendarConnection:
    """Read busy times and changes from Google now, and write any bookings still waiting (in the
    background). Calendars that already have a sync token get an incremental sync; the setup job
    does the first, full sync of the others (and busy times, channels and waiting write-backs)."""
    require_settings()
    connection = get_connection(connection_id, user)
    incremental = [str(c.id) for c in connection.calendars if wants_channel(c) and c.sync_token]
    background.submit("calendar.setup", str(connection.id))
    for calendar_id in incremental:
        background.submit("calendar.sync", calendar_id)
    return connection


def _mark_future_bookings(user_id, now: datetime) -> None:
    """The trainer's destination changed: every future active booking's event is rewritten, and
    every class session they teach that is still ahead."""
    db.session.execute(
        update(Booking).where(Booking.staff_id == user_id, Booking.status.in_(ACTIVE_STATUSES),
                              Booking.end_at > now)
        .values(calendar_sync_status="pending", calendar_sync_attempts=0, calendar_sync_next_at=now,
                calendar_sync_error=None)
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(ClassSession).where(ClassSession.instructor_id == user_id, ClassSession.status == "scheduled",
                                   ClassSession.end_at > now)
        .values(calendar_sync_status="pending", calendar_sync_attempts=0, calendar_sync_next_at=now,
                calendar_sync_error=None)
        .execution_options(synchronize_session=False))


def _requeue_failed_for(user_id, now: datetime) -> None:
    """After a (re)connect: bookings and class sessions that waited for this person's calendar are
    written now."""
    db.session.execute(
        update(Booking).where(Booking.staff_id == user_id, Booking.calendar_sync_status == "failed",
                              Booking.end_at > now)
        .values(calendar_sync_status="pending", calendar_sync_attempts=0, calendar_sync_next_at=now,
                calendar_sync_error=None)
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(ClassSession).where(ClassSession.instructor_id == user_id, ClassSession.calendar_sync_status == "failed",
                                   ClassSession.end_at > now)
        .values(calendar_sync_status="pending", calendar_sync_attempts=0, calendar_sync_next_at=now,
                calendar_sync_error=None)
        .execution_options(synchronize_session=False))
    db.session.commit()


def connections_for(user: User) -> list[CalendarConnection]:
    """The person's own connections, with their calendars."""
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
