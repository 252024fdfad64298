"""Looking after connections between syncs (the periodic pass calls `look_after_connections`).

* **Calendars come and go in Google** without telling us: each active connection's calendar list is
  read again every GOOGLE_CALENDAR_LIST_INTERVAL and applied with the same rule as connecting
  (`connections.apply_calendar_list`): new calendars are added unselected, names and time zones
  follow Google, a calendar that went stops blocking and receiving bookings and its push channel
  is stopped.
* **A trainer is told once** — by email, with a link to the Calendar sync page — when their
  connection needs reconnecting, and when write-backs of their upcoming bookings keep failing
  (a booking ahead whose `calendar_sync_status` is `failed`). The moment they were told is kept on
  the connection (`reconnect_emailed_at`, `write_failures_emailed_at`) and cleared when the trouble
  ends, so a later recurrence is told again.

Emails go through the notification outbox, written in the same transaction as the mark that says
the trainer was told: none is lost, none is sent twice (not even by two passes at once — the mark is
set with a conditional UPDATE only one of them wins).
"""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from app.extensions import db
from app.integrations import google_calendar as google
from app.models import Booking, Calendar, CalendarConnection, User
from app.services.calendar.access import client_for, connection_failed, settings, utcnow
from app.services.calendar.connections import ListedCalendars, apply_calendar_list
from app.services.notifications import schedule_staff_message

log = logging.getLogger(__name__)


@dataclass
class Upkeep:
    """What one pass of `look_after_connections` did."""

    lists_read: int = 0
    added: int = 0    # calendars that appeared in Google
    gone: int = 0     # calendars in use that went (kept, unselected, with the reason)
    emails: int = 0   # trainers told (queued in the outbox)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"lists_read": self.lists_read, "added": self.added, "gone": self.gone, "emails": self.emails,
                "errors": self.errors}


def look_after_connections(*, now: datetime | None = None) -> Upkeep:
    """Read again the calendar lists that are due, then tell trainers what needs them (once).

    One connection's trouble never stops the others: a Google error is recorded on its connection
    (`last_error`, or `needs_reconnect` for a revoked grant — which is then told in the same pass);
    anything else is logged, rolled back and listed in `errors`."""
    now = utcnow(now)
    outcome = Upkeep()
    if settings() is None:
        return outcome
    for connection_id in lists_due(now):
        try:
            listed = reread_calendar_list(connection_id, now=now)
        except Exception as exc:  # noqa: BLE001 (one connection's trouble must not stop the others)
            db.session.rollback()
            log.exception("calendar connection %s: the calendar list could not be applied", connection_id)
            outcome.errors.append(f"{connection_id}: {exc.__class__.__name__}")
            continue
        if listed is not None:
            outcome.lists_read += 1
            outcome.added += len(listed.added)
            outcome.gone += len(listed.gone)
    for tell in (tell_reconnect_needed, tell_write_failures):
        outcome.emails += tell(now, outcome.errors)
    return outcome


def _list_due(now: datetime):
    """The condition of an active connection whose calendar list was never read, or not for
    GOOGLE_CALENDAR_LIST_INTERVAL."""
    interval = timedelta(seconds=current_app.config["GOOGLE_CALENDAR_LIST_INTERVAL"])
    return and_(CalendarConnection.status == "active",
                or_(CalendarConnection.calendars_checked_at.is_(None),
                    CalendarConnection.calendars_checked_at <= now - interval))


def lists_due(now: datetime) -> list[uuid.UUID]:
    """The connections whose calendar list is due to be read again."""
    return list(db.session.scalars(select(CalendarConnection.id).where(_list_due(now))))


def reread_calendar_list(connection_id, *, now: datetime | None = None) -> ListedCalendars | None:
    """Read the connection's calendar list from Google and apply it (`apply_calendar_list`), if it
    is due and no other pass has just taken it (the read is claimed with a conditional UPDATE).

    None when nothing was read: not due, or Google failed — then the error is recorded on the
    connection. Either way the next read is a whole interval later: the list changes rarely, and
    asking again on every pass would only add to Google's load."""
    now = utcnow(now)
    config = settings()
    if config is None:
        return None
    connection_id = uuid.UUID(str(connection_id))
    claimed = db.session.execute(
        update(CalendarConnection).where(CalendarConnection.id == connection_id, _list_due(now))
        .values(calendars_checked_at=now).execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    connection = db.session.get(CalendarConnection, connection_id)
    if not claimed or connection is None:
        return None
    try:
        with client_for(connection, config) as client:
            entries = client.list_calendars()
            listed = apply_calendar_list(connection, entries, client=client)
    except google.GoogleError as exc:  # only the list call raises: nothing was applied
        connection_failed(connection, exc, now)
        db.session.commit()
        return None
    db.session.commit()
    if listed.added or listed.gone:
        log.info("calendar connection %s: calendars added %s, gone %s", connection.id, listed.added, listed.gone)
    return listed


def _mark(column, connection_id: uuid.UUID, now: datetime) -> bool:
    """Set a "told at" column if nobody has yet (a conditional UPDATE: of two passes, one wins)."""
    result = db.session.execute(
        update(CalendarConnection).where(CalendarConnection.id == connection_id, column.is_(None))
        .values({column.key: now}).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _tell_once(column, connection_id: uuid.UUID, member: User, template: str, context: dict,
               now: datetime) -> bool:
    """Queue the email and set its "told at" column in one transaction, if nobody has told them yet."""
    told = _mark(column, connection_id, now)
    if told:
        schedule_staff_message(member, template, key=f"{connection_id}:{now.isoformat()}", context=context, now=now)
    db.session.commit()
    return told


def tell_reconnect_needed(now: datetime, errors: list[str]) -> int:
    """Email each active trainer whose connection needs reconnecting, once. Reconnecting
    (`finish_connect`) clears the mark, so losing access again is told again. Returns how many."""
    due = db.session.execute(
        select(CalendarConnection.id, CalendarConnection.account_email, User)
        .join(User, User.id == CalendarConnection.user_id)
        .where(CalendarConnection.status == "needs_reconnect", CalendarConnection.reconnect_emailed_at.is_(None),
               User.active.is_(True))).all()
    told = 0
    for connection_id, account_email, member in due:
        try:
            withheld = current_app.config["GOOGLE_UNREACHABLE_POLICY"] == "withhold"
            told += _tell_once(CalendarConnection.reconnect_emailed_at, connection_id, member,
                               "staff_calendar_reconnect", {"account_email": account_email, "withheld": withheld}, now)
        except Exception as exc:  # noqa: BLE001 (one trainer's trouble must not stop the others)
            db.session.rollback()
            log.exception("calendar connection %s: the reconnect email could not be queued", connection_id)
            errors.append(f"{connection_id}: {exc.__class__.__name__}")
    return told


def tell_write_failures(now: datetime, errors: list[str]) -> int:
    """Email each active trainer with a lasting write-back failure — a booking of theirs ahead whose
    event could not be written (`failed`) — once, on the connection of their destination calendar
    (else their oldest). Nothing failing any more clears the mark, so a recurrence is told again. A
    connection that needs reconnecting is left to the reconnect email, which says the same and what
    to do. Returns how many were told."""
    with_connection = select(CalendarConnection.user_id)
    failing = dict(db.session.execute(
        select(Booking.staff_id, func.count()).where(Booking.staff_id.in_(with_connection),
                                                     Booking.calendar_sync_status == "failed", Booking.start_at > now)
        .group_by(Booking.staff_id)).all())
    connections: dict[uuid.UUID, list[CalendarConnection]] = defaultdict(list)
    for connection in db.session.scalars(
            select(CalendarConnection).where(or_(CalendarConnection.user_id.in_(list(failing)),
                                                 CalendarConnection.write_failures_emailed_at.is_not(None)))
            .order_by(CalendarConnection.created_at)):
        connections[connection.user_id].append(connection)
    over = [c.id for user_id, members in connections.items() if user_id not in failing
            for c in members if c.write_failures_emailed_at is not None]
    if over:
        db.session.execute(update(CalendarConnection).where(CalendarConnection.id.in_(over))
                           .values(write_failures_emailed_at=None).execution_options(synchronize_session=False))
    db.session.commit()
    told = 0
    for user_id, count in failing.items():
        members = connections.get(user_id, [])
        if not members or any(c.write_failures_emailed_at is not None for c in members):
            continue  # told already
        try:
            member = db.session.get(User, user_id)
            destination = db.session.scalar(select(Calendar.connection_id).where(
                Calendar.user_id == user_id, Calendar.is_destination.is_(True)).limit(1))
            connection = next((c for c in members if c.id == destination), members[0])
            if member is None or not member.active or connection.status == "needs_reconnect":
                continue
            told += _tell_once(CalendarConnection.write_failures_emailed_at, connection.id, member,
                               "staff_calendar_write_failures",
                               {"account_email": connection.account_email, "failed": count}, now)
        except Exception as exc:  # noqa: BLE001 (one trainer's trouble must not stop the others)
            db.session.rollback()
            log.exception("trainer %s: the write-back failure email could not be queued", user_id)
            errors.append(f"{user_id}: {exc.__class__.__name__}")
    return told
