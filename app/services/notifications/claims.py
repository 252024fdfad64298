"""Who may send a row: claims, and every write made under one.

A row is sent only by whoever *claims* it: a status transition pending → sending, under a fresh
random claim token, that only one claimer can win (a conditional UPDATE; on PostgreSQL the rows
are picked with FOR UPDATE SKIP LOCKED, on SQLite inside BEGIN IMMEDIATE). Every later write of
that sender — the hand-off mark, the result, a retry — is fenced by the token (`fenced`): a sender
that lost its claim can no longer act. The RQ dispatcher only marks rows as queued
(`take_due_for_queue`); the job still has to claim them.
"""
from __future__ import annotations

import logging
import random
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from app.database import begin_serialized_transaction
from app.extensions import db
from app.models import Booking, ClassBooking, ClassSession, Notification
from app.services.notifications.clock import Clock, utcnow
from app.services.notifications.messages import KINDS

log = logging.getLogger(__name__)

FRESH = {"populate_existing": True}  # the database's values, not what this session saw earlier


def dialect() -> str:
    return db.session.get_bind().dialect.name


def claimable(now: datetime):
    """The condition of a row anyone may claim now: pending and due."""
    return and_(Notification.status == "pending", Notification.send_at <= now)


def _begin_write() -> None:
    """End whatever the session had open and, on SQLite, start the next transaction holding the write lock."""
    db.session.commit()  # a no-op without an open transaction
    begin_serialized_transaction()


# --- claiming ------------------------------------------------------------------------------------

def claim_due(limit: int, *, now: datetime | None = None) -> list[tuple[uuid.UUID, str]]:
    """Claim up to `limit` due rows (oldest first): pending → sending under one fresh claim token.

    PostgreSQL: the rows are picked with FOR UPDATE SKIP LOCKED, so concurrent claimers take
    different rows without waiting. SQLite: one UPDATE that checks again that each row is pending
    and due, inside a BEGIN IMMEDIATE transaction; writers are serialised, so no row can be claimed
    twice."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    _begin_write()
    return _claim(_oldest(claimable(now), limit), token, now)


def claim_ids(ids: Iterable, *, now: datetime | None = None) -> list[tuple[uuid.UUID, str]]:
    """Claim the given rows that are still pending and due (the RQ job's claim)."""
    now = now or utcnow()
    wanted = [uuid.UUID(str(i)) for i in ids]
    if not wanted:
        return []
    token = secrets.token_hex(16)
    _begin_write()
    stmt = update(Notification).where(Notification.id.in_(wanted), claimable(now))
    return _claim(stmt, token, now)


def _claim(stmt, token: str, now: datetime) -> list[tuple[uuid.UUID, str]]:
    ids = _updated_ids(stmt.values(status="sending", claim_token=token, claimed_at=now, handed_off_at=None,
                                   attempts=Notification.attempts + 1, updated_at=now))
    return [(i, token) for i in ids]


def _oldest(condition, limit: int):
    """An UPDATE of the `limit` oldest rows matching `condition` that no concurrent writer can also
    take. PostgreSQL: picked with FOR UPDATE SKIP LOCKED (concurrent claimers take different rows
    without waiting). SQLite: the caller's BEGIN IMMEDIATE serialises writers, and the UPDATE checks
    `condition` again."""
    picked = select(Notification.id).where(condition).order_by(Notification.send_at).limit(limit)
    if dialect() == "postgresql":
        picked = picked.with_for_update(skip_locked=True).cte("picked")
        return update(Notification).where(Notification.id == picked.c.id)
    return update(Notification).where(Notification.id.in_(picked.scalar_subquery()), condition)


def _updated_ids(stmt) -> list[uuid.UUID]:
    """Run an UPDATE, commit, and return the ids it changed; on any failure roll back and re-raise."""
    try:
        ids = db.session.execute(stmt.returning(Notification.id),
                                 execution_options={"synchronize_session": False}).scalars().all()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return list(ids)


def take_due_for_queue(limit: int, *, now: datetime | None = None) -> list[uuid.UUID]:
    """Mark up to `limit` due rows as queued (enqueued_at) and return their ids, for the RQ dispatcher.

    Queued is only a hint against piling the same row up in Redis: the job still has to claim the
    row. A row queued longer ago than the lease (its job lost with Redis, say) is queued again."""
    now = now or utcnow()
    stale = now - timedelta(seconds=current_app.config["NOTIFICATIONS_LEASE_SECONDS"])
    condition = and_(claimable(now), or_(Notification.enqueued_at.is_(None), Notification.enqueued_at < stale))
    _begin_write()
    return _updated_ids(_oldest(condition, limit).values(enqueued_at=now))


def release_queued(ids: Iterable) -> None:
    """The queue refused these ids (Redis down): let the next dispatch take them at once."""
    wanted = [uuid.UUID(str(i)) for i in ids]
    if wanted:
        db.session.execute(update(Notification).where(Notification.id.in_(wanted), Notification.status == "pending")
                           .values(enqueued_at=None), execution_options={"synchronize_session": False})
        db.session.commit()


# --- writes under a claim ------------------------------------------------------------------------
# Each returns what became of the row: the status written, or "lost" when the claim had been taken
# back (another sender owns the row now, and this one must not touch it).

def fenced(row: Notification, token: str, *, durable: bool = True, **values) -> bool:
    """UPDATE this row only if our claim still owns it; commit. True when it did.

    `durable=False` (results: sent, failed, retry) commits asynchronously on PostgreSQL — one fsync
    per message instead of two. Losing such a write in a database-server crash is safe: the row is
    still `sending` with its hand-off mark, and recovery settles it (Twilio and the file outbox
    exactly; SMTP as "delivery unknown") without sending it again. The hand-off mark itself is
    always durable: it must be on disk before the provider sees the message."""
    try:
        if not durable and dialect() == "postgresql":
            db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        result = db.session.execute(
            update(Notification).where(Notification.id == row.id, Notification.claim_token == token,
                                       Notification.status == "sending").values(updated_at=utcnow(), **values),
            execution_options={"synchronize_session": False})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result.rowcount == 1


def finish(row: Notification, token: str, status: str, reason: str | None) -> str:
    """The row is done: `status` (skipped, failed) with `reason`, and the claim given up."""
    ok = fenced(row, token, durable=False, status=status, last_error=reason, claim_token=None)
    return status if ok else "lost"


def finish_sent(row: Notification, token: str, reference: str, delivery_status: str, clock: Clock) -> str:
    """The provider has the message (its `reference`): sent. The write is tried twice — a database
    blip must not forget that the provider took it; when both fail the error goes up, and the row,
    handed off, is left to recovery (`after_internal_error`): never sent again."""
    for attempt in (1, 2):
        try:
            ok = fenced(row, token, durable=False, status="sent", sent_at=clock(),
                        provider_message_id=reference[:255], delivery_status=delivery_status[:32], last_error=None,
                        claim_token=None)
            break
        except SQLAlchemyError:
            db.session.rollback()
            if attempt == 2:
                raise
            log.warning("notification %s: recording it as sent failed once; trying again", row.id)
    if not ok:
        log.warning("notification %s was sent but its claim had been taken back", row.id)
        return "lost"
    return "sent"


def finish_failed(row: Notification, token: str, reason: str) -> str:
    """Failed for good, with the reason a person will read."""
    return finish(row, token, "failed", reason[:2000])


def useful_until(row: Notification, booking: Booking | None = None, *, start_at: datetime | None = None) -> datetime:
    """Until when a message is worth sending: a booking's (or a class spot's) messages until the
    booking (the class) starts (a reminder or a confirmation after that helps nobody), and any
    message that is not a reminder at most NOTIFICATIONS_RETRY_HOURS after it was written.
    `booking`, `start_at`: the row's booking, or the start of its class, when the caller has them
    loaded (else it is read)."""
    limit = row.created_at + timedelta(hours=current_app.config["NOTIFICATIONS_RETRY_HOURS"])
    if start_at is not None:
        start = start_at
    elif booking is not None and booking.id == row.booking_id:
        start = booking.start_at
    elif row.booking_id:
        start = db.session.scalar(select(Booking.start_at).where(Booking.id == row.booking_id))
    elif row.class_booking_id:
        start = db.session.scalar(select(ClassSession.start_at).join(
            ClassBooking, ClassBooking.session_id == ClassSession.id).where(ClassBooking.id == row.class_booking_id))
    else:
        start = None
    kind = KINDS.get(row.template)
    if kind is not None and kind.reminder and start is not None:
        return start
    return min(limit, start) if start is not None else limit


def retry_or_fail(row: Notification, token: str, reason: str, clock: Clock) -> str:
    """A temporary failure: pending again after a backoff (exponential, capped) for as long as the
    message is still useful (`useful_until`) — an outage of hours loses nothing — then failed, with
    the reason, where staff see it."""
    now = clock()
    next_at = now + timedelta(seconds=backoff_seconds(row.attempts))
    deadline = useful_until(row)
    if next_at > deadline:
        until = deadline.strftime("%d %b %H:%M UTC")
        return finish_failed(row, token, f"gave up after {row.attempts} attempts (no longer useful after {until}): "
                                         f"{reason}")
    ok = fenced(row, token, durable=False, status="pending", claim_token=None, handed_off_at=None,
                enqueued_at=None, send_at=next_at, last_error=f"attempt {row.attempts}: {reason}"[:2000])
    return "retried" if ok else "lost"


def postpone(row: Notification, token: str, when: datetime, reason: str) -> str:
    """Not now (quiet hours): pending again, due `when`, the claim given up. Not an attempt that
    failed: the attempt count is given back."""
    ok = fenced(row, token, durable=False, status="pending", claim_token=None, handed_off_at=None, enqueued_at=None,
                send_at=when, attempts=max(0, row.attempts - 1), last_error=reason[:2000])
    return "held" if ok else "lost"


def after_internal_error(row: Notification, token: str, reason: str, clock: Clock) -> str:
    """What an unexpected failure while sending `row` leaves (a bug, or the database failing just
    after the provider took the message: a dropped connection, a failover, "database is locked").

    Before the committed hand-off mark nothing reached anyone: a retry after the backoff. After it
    the message may have gone, so it is never sent again from here: the row keeps its claim and its
    mark, and recovery settles it when the lease expires, asking the provider where it can — as
    after a crash. When even that cannot be read the row is left as it is, for recovery too."""
    try:
        handed_off_at = db.session.scalar(select(Notification.handed_off_at).where(
            Notification.id == row.id, Notification.claim_token == token).execution_options(**FRESH))
        db.session.commit()
        if handed_off_at is None:
            return retry_or_fail(row, token, reason, clock)
        fenced(row, token, last_error=f"outcome unknown after {reason}; recovery will settle it"[:2000])
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("notification %s: left to recovery (the database could not be written)", row.id)
    return "unsettled"


def release(row: Notification, token: str, reason: str, clock: Clock) -> str:
    """A claim whose sender died before anything reached anyone: pending again at once (the crash
    counted as an attempt, so a message that kills its sender cannot loop for ever)."""
    if row.attempts >= row.max_attempts:
        return finish_failed(row, token, f"gave up after {row.attempts} attempts: {reason}")
    ok = fenced(row, token, status="pending", claim_token=None, handed_off_at=None, enqueued_at=None,
                send_at=clock(), last_error=f"attempt {row.attempts}: {reason}"[:2000])
    return "retried" if ok else "lost"


def backoff_seconds(attempts: int) -> float:
    """Exponential: base · 2^(attempts−1), capped, with ±10% jitter so retries do not move in lockstep."""
    base = current_app.config["NOTIFICATIONS_BACKOFF_SECONDS"]
    cap = current_app.config["NOTIFICATIONS_BACKOFF_MAX_SECONDS"]
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.9, 1.1)
