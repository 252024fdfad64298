"""Spots in a class: booking one, the waitlist and its promotions, giving one up, attendance.

Every change that takes or gives back a place starts by locking the session's row (lock_session:
`SELECT … FOR UPDATE` on PostgreSQL with a short lock timeout; on SQLite the transaction takes the
write lock with BEGIN IMMEDIATE), then reads the session's counts and writes in one transaction. So
under any concurrency a session holds exactly as many place-holding spots as `booked_count` says,
and never more than its capacity — which the database itself also refuses (a CHECK on
class_sessions). The waitlist is first come, first served (`waitlist_seq`, unique per session); a
freed place is given to the first person waiting in the very transaction that freed it, until the
organization's waitlist cutoff before the start (after it the place stays open). A periodic pass
(promote_waitlists) does the same for any place left free, and closes the waitlists of sessions that
have started; it takes the same lock, so nobody is ever promoted twice.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import lazyload

from app.database import RACE_ATTEMPTS, begin_serialized_transaction, lost_race
from app.extensions import db
from app.models import ClassBooking, ClassSession, Notification, Organization
from app.models.classes import PLACE_HOLDING_STATUSES
from app.services import clients
from app.services.bookings import Actor, hash_token, new_manage_token, normalise_email, normalise_name, normalise_phone
from app.services.calendar import mark_sessions_changed, write_class_events_soon
from app.services.classes import audit
from app.services.errors import Conflict, InvalidRequest, NotFound
from app.services.notifications.class_messages import (
    cancel_class_pending,
    schedule_class_message,
    schedule_class_reminders,
)
from app.services.phones import organization_region
from app.services.zones import require_zone

LOCK_TIMEOUT_MS = 10_000  # a session's lock is held for one short transaction; waiting longer means trouble
# Staff may mark attendance from this long before the start (people arrive early) onwards.
CHECK_IN_OPENS = timedelta(hours=2)


@dataclass
class SpotResult:
    spot: ClassBooking
    session: ClassSession
    manage_token: str | None
    waitlist_position: int | None


# --- the lock --------------------------------------------------------------------------------------

def lock_session(session_id, org_id=None) -> ClassSession:
    """The session, locked for this transaction (see the module docstring), or NotFound. Call it
    first in a transaction that changes the session's spots; the caller commits or rolls back."""
    session_uuid = as_uuid(session_id, "session_id")
    begin_serialized_transaction()
    bind = db.session.get_bind()
    if bind.dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
    query = select(ClassSession).where(ClassSession.id == session_uuid)
    if org_id is not None:
        query = query.where(ClassSession.organization_id == org_id)
    # Only the session's own row: its type and instructor load if asked for (joined, they would
    # widen every locking read of the booking path).
    query = query.options(lazyload(ClassSession.class_type), lazyload(ClassSession.instructor))
    session = db.session.scalars(query.with_for_update(of=ClassSession).execution_options(populate_existing=True)
                                 ).first()
    if session is None:
        db.session.rollback()
        raise NotFound("That class session does not exist.", code="session_not_found")
    return session


def in_locked_transaction(work):
    """Run `work()` (which starts with lock_session) and commit, retrying a transaction the database
    rolled back for losing a race; a lock not granted in time is a Conflict, never a 500."""
    for attempt in range(RACE_ATTEMPTS):
        try:
            result = work()
            db.session.commit()
            write_class_events_soon()
            return result
        except OperationalError as exc:
            db.session.rollback()
            if getattr(exc.orig, "sqlstate", None) == "55P03":
                raise Conflict("That class is very busy right now. Please try again.", code="session_busy") from None
            if not lost_race(exc) or attempt == RACE_ATTEMPTS - 1:
                raise
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


# --- booking a spot ---------------------------------------------------------------------------------

def book_class(*, session_id, attendee_name: str, attendee_email: str, actor: Actor,
               attendee_phone: str | None = None, attendee_phone_country: str | None = None,
               attendee_timezone: str | None = None, join_waitlist: bool = False, org_id=None,
               source: str = "public", notify: bool = True, now: datetime | None = None) -> SpotResult:
    """A spot in the session for this person: confirmed while places are left, otherwise on the
    waitlist when `join_waitlist` (Conflict `class_full` when not, or when the waitlist has closed).

    Conflict `already_booked` when the person (normalised email) already holds a live spot in the
    session; `session_cancelled` / `session_started` when it can no longer be booked. The spot, the
    client record, the audit row and the messages (booked or waitlisted with the position; the
    reminders) are written together or not at all. `org_id` scopes the session (staff, the API)."""
    now = now or datetime.now(timezone.utc)
    name = normalise_name(attendee_name)
    email = normalise_email(attendee_email)
    zone = require_zone(attendee_timezone, field="attendee_timezone", default="UTC") if attendee_timezone else None
    session_uuid = as_uuid(session_id, "session_id")
    session_org = db.session.scalar(select(ClassSession.organization_id).where(ClassSession.id == session_uuid))
    if session_org is None or (org_id is not None and session_org != org_id):
        raise NotFound("That class session does not exist.", code="session_not_found")
    org = db.session.get(Organization, session_org)
    phone = normalise_phone(attendee_phone, attendee_phone_country or organization_region(org.settings))
    key = clients.client_email(email)

    def work() -> SpotResult:
        session = lock_session(session_uuid, org_id)
        _check_bookable(session, now)
        existing = db.session.scalars(select(ClassBooking).where(
            ClassBooking.session_id == session.id, ClassBooking.email_key == key,
            ClassBooking.status.in_(("confirmed", "waitlisted", "attended", "no_show")))).first()
        if existing is not None:
            where = "on the waitlist for" if existing.status == "waitlisted" else "booked into"
            raise Conflict(f"{email} is already {where} this class.", code="already_booked",
                           status=existing.status)
        full = session.booked_count >= session.capacity
        if full and not join_waitlist:
            raise Conflict("This class is full. You can join its waitlist.", code="class_full",
                           waitlist_open=waitlist_open(session, org, now))
        if full and not waitlist_open(session, org, now):
            raise Conflict("This class is full and its waitlist has closed.", code="class_full",
                           waitlist_open=False)
        client_id = clients.attach_client(session.organization_id, email=email, name=name, phone=phone, now=now)
        token, token_hash = new_manage_token()
        spot = ClassBooking(id=uuid.uuid4(), organization_id=session.organization_id, session_id=session.id,
                            client_id=client_id, attendee_name=name, attendee_email=email, email_key=key,
                            attendee_phone=phone, attendee_timezone=zone, manage_token_hash=token_hash,
                            source=source, created_at=now, updated_at=now)
        position = None
        if full:
            session.waitlist_seq += 1
            spot.status, spot.waitlist_seq, spot.waitlisted_at = "waitlisted", session.waitlist_seq, now
            position = _waiting_count(session.id) + 1
        else:
            session.booked_count += 1
            spot.status = "confirmed"
            mark_sessions_changed([session])  # the instructor's event shows the count booked
        db.session.add(spot)
        after = audit.spot_snapshot(spot)
        if position is not None:
            after["waitlist_position"] = position
        if not notify:
            after["client_notified"] = False
        audit.record(session.organization_id, actor, "booked" if position is None else "waitlisted",
                     after=after, spot=spot, session=session)
        if notify:
            if position is None:
                schedule_class_message(spot, session, "class_booked", manage_token=token, now=now)
                schedule_class_reminders(spot, session, org.reminder_offsets_minutes, manage_token=token, now=now)
            else:
                schedule_class_message(spot, session, "class_waitlisted", manage_token=token,
                                       context={"position": position}, now=now)
        return SpotResult(spot=spot, session=session, manage_token=token, waitlist_position=position)

    try:
        return in_locked_transaction(work)
    except IntegrityError as exc:
        # The unique index on (session, email) caught what the check above cannot see on its own: only
        # a writer that skipped the lock could get here, but the answer is the same.
        if "ux_class_bookings_session_email" in str(exc.orig):
            raise Conflict(f"{email} is already booked into this class.", code="already_booked") from None
        raise


def _check_bookable(session: ClassSession, now: datetime) -> None:
    if session.status == "cancelled":
        raise Conflict("This class has been cancelled.", code="session_cancelled")
    if session.start_at <= now:
        raise Conflict("This class has already started.", code="session_started")


def waitlist_open(session: ClassSession, org: Organization, now: datetime) -> bool:
    """Whether someone joining the waitlist now could still be promoted: until the organization's
    waitlist cutoff before the start."""
    return session.status == "scheduled" and now < promotion_deadline(session, org)


def promotion_deadline(session: ClassSession, org: Organization) -> datetime:
    return session.start_at - timedelta(minutes=org.class_waitlist_cutoff_minutes)


# --- the waitlist -----------------------------------------------------------------------------------

def _waiting_count(session_id) -> int:
    return db.session.scalar(select(func.count()).select_from(ClassBooking).where(
        ClassBooking.session_id == session_id, ClassBooking.status == "waitlisted")) or 0


def waitlist_position(spot: ClassBooking) -> int | None:
    """The spot's place on its session's waitlist (1 is next), or None when it is not waiting."""
    if spot.status != "waitlisted" or spot.waitlist_seq is None:
        return None
    return db.session.scalar(select(func.count()).select_from(ClassBooking).where(
        ClassBooking.session_id == spot.session_id, ClassBooking.status == "waitlisted",
        ClassBooking.waitlist_seq <= spot.waitlist_seq))


def promote(session: ClassSession, org: Organization, now: datetime, actor: Actor | None = None) -> list[ClassBooking]:
    """Inside a transaction holding the session's lock: give every free place to the first people
    waiting, in arrival order, while the waitlist cutoff allows; each is told (email, and SMS when
    they gave a number) and audited. Returns the promoted spots."""
    promoted: list[ClassBooking] = []
    if session.status != "scheduled" or not now < promotion_deadline(session, org):
        return promoted
    actor = actor or Actor("system")
    free = session.capacity - session.booked_count
    if free <= 0:
        return promoted
    waiting = db.session.scalars(select(ClassBooking).where(
        ClassBooking.session_id == session.id, ClassBooking.status == "waitlisted")
        .order_by(ClassBooking.waitlist_seq).limit(free)).all()
    for spot in waiting:
        before = audit.spot_snapshot(spot)
        spot.status, spot.waitlist_seq, spot.promoted_at, spot.updated_at = "confirmed", None, now, now
        session.booked_count += 1
        audit.record(session.organization_id, actor, "promoted", before=before, after=audit.spot_snapshot(spot),
                     spot=spot, session=session)
        manage = sealed_manage(spot.id)
        schedule_class_message(spot, session, "class_promoted", context=manage, now=now)
        schedule_class_reminders(spot, session, org.reminder_offsets_minutes, sealed=manage, now=now)
        promoted.append(spot)
    if promoted:
        mark_sessions_changed([session])
    return promoted


def sealed_manage(spot_id) -> dict:
    """The sealed manage token written with the spot's first message, for later ones."""
    for context in db.session.scalars(select(Notification.context).where(
            Notification.class_booking_id == spot_id).order_by(Notification.created_at)):
        if context and context.get("manage"):
            return {"manage": context["manage"]}
    return {}


def promote_waitlists(now: datetime | None = None, *, limit: int = 200) -> dict:
    """The periodic backstop: promote into places left free in sessions still ahead (a place freed
    while the promotion was not possible, say), and close the waitlists of sessions that have
    started (their people are told nothing more; the spots become `waitlist_closed`). Returns counts."""
    now = now or datetime.now(timezone.utc)
    db.session.rollback()
    waiting = select(ClassBooking.session_id).where(ClassBooking.status == "waitlisted").distinct()
    candidates = db.session.scalars(select(ClassSession.id).where(
        ClassSession.id.in_(waiting), ClassSession.booked_count < ClassSession.capacity,
        ClassSession.status == "scheduled", ClassSession.start_at > now).limit(limit)).all()
    promoted = 0
    for session_id in candidates:
        def work(session_id=session_id) -> int:
            session = lock_session(session_id)
            org = db.session.get(Organization, session.organization_id)
            return len(promote(session, org, now))
        promoted += in_locked_transaction(work)
    started = db.session.scalars(select(ClassSession.id).where(
        ClassSession.id.in_(waiting), ClassSession.start_at <= now).limit(limit)).all()
    closed = 0
    for session_id in started:
        def close(session_id=session_id) -> int:
            lock_session(session_id)
            spots = db.session.scalars(select(ClassBooking).where(
                ClassBooking.session_id == session_id, ClassBooking.status == "waitlisted")).all()
            for spot in spots:
                spot.status, spot.waitlist_seq, spot.cancel_kind = "cancelled", None, "waitlist_closed"
                spot.cancelled_at = spot.updated_at = now
                audit.record(spot.organization_id, Actor("system"), "waitlist_closed", spot=spot)
            return len(spots)
        closed += in_locked_transaction(close)
    return {"promoted": promoted, "waitlists_closed": closed}


# --- giving a spot up --------------------------------------------------------------------------------

def get_spot_by_token(token: str) -> ClassBooking:
    """The spot whose manage token this is, or NotFound (the same answer for any wrong token)."""
    if not token or len(token) > 128:
        raise NotFound("This booking link is not valid.")
    spot = db.session.scalars(select(ClassBooking).where(ClassBooking.manage_token_hash == hash_token(token))).first()
    if spot is None:
        raise NotFound("This booking link is not valid.")
    return spot


def get_spot(org_id, spot_id) -> ClassBooking:
    spot = db.session.get(ClassBooking, as_uuid(spot_id, "spot_id"))
    if spot is None or spot.organization_id != org_id:
        raise NotFound("That spot does not exist.")
    return spot


def cancel_spot(spot_id, *, actor: Actor, reason: str | None = None, removed: bool = False,
                now: datetime | None = None) -> ClassBooking:
    """Give the spot up: a confirmed spot frees its place (recorded as a late cancellation inside the
    organization's late-cancel window, unless staff `removed` the person), and the first person
    waiting is promoted in the same transaction; a waitlisted spot leaves the list. The person is
    told (unless they left the waitlist themselves). Conflict when the spot is already given up or the
    class has started (staff remove a spot until the class ends)."""
    now = now or datetime.now(timezone.utc)
    spot_uuid = as_uuid(spot_id, "spot_id")
    peek = db.session.get(ClassBooking, spot_uuid)
    if peek is None:
        raise NotFound("That spot does not exist.")
    reason = (reason or "").strip()[:500] or None

    def work() -> ClassBooking:
        session = lock_session(peek.session_id)
        spot = db.session.scalars(select(ClassBooking).where(ClassBooking.id == spot_uuid)
                                  .execution_options(populate_existing=True)).one()
        org = db.session.get(Organization, session.organization_id)
        if spot.status == "cancelled":
            raise Conflict("This spot has already been cancelled.", code="booking_cancelled")
        if spot.status in ("attended", "no_show"):
            raise Conflict("This class has taken place; its attendance is recorded.", code="booking_finished")
        limit = session.end_at if actor.type == "staff" else session.start_at
        if now >= limit:
            raise Conflict("This class has already started." if actor.type != "staff" else "This class is over.",
                           code="session_started")
        before = audit.spot_snapshot(spot)
        was = spot.status
        if was == "waitlisted":
            kind = "left_waitlist" if not removed else "removed"
            spot.waitlist_seq = None
        else:
            session.booked_count -= 1
            mark_sessions_changed([session])
            late = now >= session.start_at - timedelta(minutes=org.class_late_cancel_minutes)
            kind = "removed" if removed else ("late" if late else "customer")
        spot.status, spot.cancel_kind, spot.cancellation_reason = "cancelled", kind, reason
        spot.cancelled_at = spot.updated_at = now
        session.updated_at = now  # its waitlist or places changed: what shows the session must follow
        after = audit.spot_snapshot(spot)
        audit.record(session.organization_id, actor, "removed" if removed else
                     ("left_waitlist" if was == "waitlisted" else "cancelled"), before=before, after=after,
                     spot=spot, session=session)
        cancel_class_pending(spot.id, "the spot was given up", now=now)
        if not (was == "waitlisted" and not removed and actor.type == "attendee"):
            schedule_class_message(spot, session, "class_spot_cancelled", context={**sealed_manage(spot.id),
                                   "kind": kind, "was": was}, now=now)
        if was != "waitlisted":
            promote(session, org, now, actor=Actor("system"))
        return spot

    return in_locked_transaction(work)


def set_attendance(org_id, spot_id, status: str, *, actor: Actor, now: datetime | None = None) -> ClassBooking:
    """Staff mark a booked person attended or a no-show (or back to booked), from shortly before the
    class starts. The place stays held either way."""
    now = now or datetime.now(timezone.utc)
    if status not in PLACE_HOLDING_STATUSES:
        raise InvalidRequest("Attendance is attended, no_show or confirmed.", fields={"status": "not valid"})
    spot = get_spot(org_id, spot_id)

    def work() -> ClassBooking:
        session = lock_session(spot.session_id, org_id)
        current = db.session.scalars(select(ClassBooking).where(ClassBooking.id == spot.id)
                                     .execution_options(populate_existing=True)).one()
        if current.status not in PLACE_HOLDING_STATUSES:
            raise Conflict("Only people booked into the class can be checked in.", code="not_booked")
        if session.status == "cancelled":
            raise Conflict("This class was cancelled.", code="session_cancelled")
        if now < session.start_at - CHECK_IN_OPENS:
            raise Conflict("Attendance can be marked from two hours before the class.", code="too_early")
        before = audit.spot_snapshot(current)
        current.status, current.updated_at = status, now
        current.checked_in_at = now if status == "attended" else None
        audit.record(org_id, actor, f"marked_{status}", before=before, after=audit.spot_snapshot(current),
                     spot=current, session=session)
        return current

    return in_locked_transaction(work)


# --- helpers ----------------------------------------------------------------------------------------

def as_uuid(value, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise InvalidRequest(f"{field} is not a valid id.", fields={field: "not a valid id"}) from None

