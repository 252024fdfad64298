"""Changing a booking: reschedule, cancel, and the staff's status actions (confirm, completed, no-show).

Every change re-reads the booking inside its writing transaction — on PostgreSQL locked FOR UPDATE,
on SQLite under the serialised write lock — so a change made meanwhile by another request, a worker
or the trainer's Google Calendar is seen, never overwritten. A collective booking (one row per
trainer, sharing a group id) changes as one. Every change is audited, raises the booking's sequence
(calendar invitations update), queues the customer's and trainers' messages and marks the Google
events for rewriting — all in the same transaction. A finished booking (marked completed or a
no-show, or past its end) is never moved or cancelled, by anyone (policy.check_still_active).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.database import RACE_ATTEMPTS, begin_serialized_transaction, lost_race
from app.extensions import db
from app.models import ACTIVE_STATUSES, FINISHED_STATUSES, Booking, BookingLink, Organization
from app.services import calendar, notifications
from app.services.bookings.alternatives import SlotTaken, slot_taken
from app.services.bookings.attendee import check_end_time, require_aware
from app.services.bookings.audit import Actor, record_audit, snapshot
from app.services.bookings.online import check_online_move
from app.services.bookings.policy import check_cutoff, check_notice_and_window, check_still_active
from app.services.errors import Conflict, InvalidRequest, NotFound
from app.services.scheduling import booking_spec, engine, link_staff, load_schedules

STATUS_ACTIONS = {"confirm": ("pending", "confirmed"), "complete": (None, "completed"), "no_show": (None, "no_show")}
REASON_MAX = 500


def _load_for_change(booking_id) -> tuple[Booking, list[Booking], Organization]:
    """Inside the writing transaction: the booking, its collective group and its organization, read
    afresh from the database (not from this session's memory) and on PostgreSQL locked FOR UPDATE, so
    a second change waits for the first instead of acting on stale state."""
    query = select(Booking).where(Booking.id == booking_id).with_for_update(of=Booking)
    booking = db.session.scalars(query.execution_options(populate_existing=True)).first()
    if booking is None:
        raise NotFound("No such booking.")
    group = [booking]
    if booking.group_id is not None:
        query = (select(Booking).where(Booking.group_id == booking.group_id)
                 .with_for_update(of=Booking).execution_options(populate_existing=True))
        group = lead_first(list(db.session.scalars(query)))
    org = db.session.get(Organization, booking.organization_id)
    return booking, group, org


def lead_first(group: list[Booking]) -> list[Booking]:
    """A collective group in its defined order, the same on every database: the lead (the row made
    for the first of the page's trainers, which carries the manage token) first, then the others in
    the order of the page's trainers (staff no longer on it last, by id). The lead's working grid is
    the one the page offers starts on (engine, mode collective): read in another order — PostgreSQL
    returns rows in no promised order, and after an UPDATE often in another — a move would be
    checked on another trainer's grid, refusing times the page offers and accepting others."""
    link = db.session.get(BookingLink, group[0].booking_link_id) if group and group[0].booking_link_id else None
    order = {member.id: index for index, member in enumerate(link_staff(link))} if link is not None else {}
    return sorted(group, key=lambda row: (row.manage_token_hash is None, order.get(row.staff_id, len(order)),
                                          str(row.staff_id)))


def _members(booking: Booking, group: list[Booking], staff_id: str | None) -> tuple[list, str]:
    """Who the moved booking will be with: the whole group (collective), the trainer asked for (one of
    the booking page's), or the same trainer."""
    if len(group) > 1:
        return [row.staff for row in group], "collective"
    if not staff_id:
        return [booking.staff], "individual"
    link = db.session.get(BookingLink, booking.booking_link_id) if booking.booking_link_id else None
    pool = link_staff(link) if link else [booking.staff]
    members = [member for member in pool if str(member.id) == str(staff_id)]
    if not members:
        raise InvalidRequest("That member of staff does not take this booking.",
                             fields={"staff_id": "not on this booking's link"})
    return members, "individual"


def reschedule_booking(booking_id, *, start_time: datetime, actor: Actor, staff_id: str | None = None,
                       end_time: datetime | None = None, now: datetime | None = None,
                       google_event_end: datetime | None = None) -> Booking:
    """Move a booking to another offered start (optionally to another member of staff on its link).

    Promises: the new time is checked against live availability (the booking's own old time counts
    as free), the cutoff policy applies to customers and agents, a cancelled or finished booking
    cannot be moved, and a move to the time it already has changes nothing (a repeated request, a
    Google change seen twice). `end_time`, when given, must be the new start plus the duration.
    Google busy times are checked like any other move; only the booking's own events are ignored
    (each in the calendar that holds it), and where a trainer moved the event in Google
    (actor `calendar`) its new place too, up to `google_event_end`.
    """
    now = now or datetime.now(timezone.utc)
    start = require_aware(start_time, "start_time")
    # Stale Google busy times are refreshed outside the transaction (never wait on Google holding a
    # lock): when the first pass finds them stale it lets go, refreshes, and checks again.
    refreshed = False
    races = 0
    while True:
        begin_serialized_transaction()
        try:
            result = _reschedule(booking_id, start, end_time, actor, staff_id, now, check_busy_cache=not refreshed,
                                 google_event_end=google_event_end)
        except OperationalError as exc:
            db.session.rollback()
            races += 1
            if lost_race(exc) and races < RACE_ATTEMPTS:
                continue  # a deadlock with a concurrent booking: again from the start (create.py's rule)
            raise
        except BaseException:
            db.session.rollback()
            raise
        if isinstance(result, Booking):
            return result
        db.session.rollback()
        calendar.busy_for_staff(*result, now=now, refresh=True)
        refreshed = True


def _reschedule(booking_id, start: datetime, end_time: datetime | None, actor: Actor, staff_id: str | None,
                now: datetime, *, check_busy_cache: bool, google_event_end: datetime | None = None):
    """One pass of reschedule_booking inside its transaction: the moved booking, or the arguments of
    a busy-time refresh to do first (outside the transaction)."""
    booking, group, org = _load_for_change(booking_id)
    check_still_active(booking, now, "moved")
    check_cutoff(booking, org, actor.type, now, "moved")
    check_online_move(booking, actor.type)  # customers and agents: only while its page still offers it
    atype = booking.appointment_type
    if atype is None:
        raise Conflict("This booking's appointment type no longer exists; it can't be moved online.",
                       code="type_removed")
    spec = booking_spec(booking, atype)  # the booking keeps the length and buffers it was made with
    end = check_end_time(end_time, start, spec.duration_minutes, atype.name)
    members, mode = _members(booking, group, staff_id)
    same_staff = mode != "individual" or booking.staff_id == members[0].id
    if booking.start_at == start and same_staff:
        db.session.commit()  # already there
        return booking
    check_notice_and_window(spec, start, now, atype.name)
    window = (start - timedelta(days=1), end + timedelta(days=1))
    staff_ids = [member.id for member in members]
    if check_busy_cache and calendar.needs_refresh(staff_ids, *window, now=now):
        return staff_ids, *window
    befores = _snapshots(group)
    before = befores[booking.id]
    # The booking's own events do not block it (where they are, and where a trainer just moved one
    # to in Google); everyone's other busy time does, the new trainer's on a reassignment included.
    moved_to = (booking.id, start, max(end, google_event_end or end)) if actor.type == "calendar" else None
    schedules = _schedules_excluding(members, group, *window, now,
                                     ignore_events=calendar.own_events(group, moved_to=moved_to))
    if not engine.find_slot_at(schedules, spec, start, now=now, mode=mode):
        raise slot_taken("Sorry, that time is not free. Here are the nearest free times.", spec, members, start,
                         now=now, mode=mode, exclude_booking_id=booking.id if len(group) == 1 else None)
    for row in group:
        row.start_at, row.end_at = start, end
        row.sequence += 1
        if mode == "individual":
            row.staff_id = members[0].id
    try:
        db.session.flush()
    except IntegrityError as exc:
        if "ex_bookings_no_overlap" in str(exc.orig):
            raise SlotTaken("Sorry, that time has just been taken.", alternatives=[]) from None
        raise
    _audit_group(group, actor, "rescheduled", befores)
    notifications.schedule_booking_rescheduled(booking, group, previous=before, now=now)
    _commit_with_calendar(group, now)
    return booking


def _snapshots(group: list[Booking]) -> dict:
    return {row.id: snapshot(row) for row in group}


def _audit_group(group: list[Booking], actor: Actor, action: str, befores: dict) -> None:
    """One audit row per booking of the change: every trainer's row of a collective group has its
    own history (each trainer's booking page in the dashboard shows it), not only the lead's."""
    for row in group:
        record_audit(row, actor, action, befores[row.id], snapshot(row))


def _schedules_excluding(members, group, window_start, window_end, now, *, ignore_events):
    """Schedules in which the booking's own rows (and their own Google events, `ignore_events`) do
    not block the time they are moving from."""
    own = {row.id for row in group}
    if len(own) == 1:
        return load_schedules(members, window_start, window_end, now=now, exclude_booking_id=next(iter(own)),
                              ignore_events=ignore_events)
    schedules = load_schedules(members, window_start, window_end, now=now, ignore_events=ignore_events)
    # A collective group: drop each member's own group row from that member's bookings.
    own_spans = {(str(row.staff_id), row.start_at, row.end_at) for row in group}
    return [
        engine.StaffSchedule(
            staff_id=s.staff_id, name=s.name, timezone=s.timezone, rules=s.rules, overrides=s.overrides,
            holidays=s.holidays, busy=s.busy, booking_count=s.booking_count, last_booked_at=s.last_booked_at,
            bookings=tuple(b for b in s.bookings if (s.staff_id, b.start, b.end) not in own_spans),
        )
        for s in schedules
    ]


def _commit_with_calendar(group: list[Booking], now: datetime) -> None:
    """Mark the rows' Google events for rewriting, commit, and start writing them."""
    calendar_writes = calendar.mark_bookings_changed(group, now=now)
    db.session.commit()
    calendar.after_commit(calendar_writes)


def cancel_booking(booking_id, *, actor: Actor, reason: str | None = None, now: datetime | None = None) -> Booking:
    """Cancel a booking (and the rest of its collective group), freeing the time at once.

    Customers and agents must respect the cutoff; cancelling twice is refused with a clear error.
    """
    now = now or datetime.now(timezone.utc)
    reason = " ".join((reason or "").split())[:REASON_MAX] or None
    begin_serialized_transaction()
    try:
        booking, group, org = _load_for_change(booking_id)
        if booking.status == "cancelled":
            raise Conflict("This booking is already cancelled.", code="already_cancelled")
        check_still_active(booking, now, "cancelled")
        check_cutoff(booking, org, actor.type, now, "cancelled")
        befores = _snapshots(group)
        for row in group:
            row.status = "cancelled"
            row.cancelled_at = now
            row.cancellation_reason = reason
            row.sequence += 1
        db.session.flush()
        _audit_group(group, actor, "cancelled", befores)
        notifications.schedule_booking_cancelled(booking, group, now=now)
        _commit_with_calendar(group, now)
    except BaseException:
        db.session.rollback()
        raise
    return booking


def set_booking_status(booking_id, *, action: str, actor: Actor, now: datetime | None = None) -> Booking:
    """Staff actions: confirm a pending booking (before it ends), mark one completed or a no-show
    (once it has started, also after it ended; a finished one may be switched between the two, e.g.
    a no-show the job marked completed). Marking never frees time: a session marked finished before
    its end keeps the rest of its time (and buffer) held, in availability and in the database
    (finished_at, see models.bookings). No message goes to the customer."""
    now = now or datetime.now(timezone.utc)
    if action not in STATUS_ACTIONS:
        raise InvalidRequest(f"Unknown action {action!r}.", fields={"action": "confirm, complete or no_show"})
    required, new_status = STATUS_ACTIONS[action]
    begin_serialized_transaction()
    try:
        booking, group, _ = _load_for_change(booking_id)
        if required and booking.status != required:
            raise Conflict(f"Only a {required} booking can be confirmed.", code="invalid_status")
        if required and booking.end_at <= now:
            raise Conflict("This booking has already taken place, so it can't be confirmed: mark it completed "
                           "or a no-show.", code="booking_finished")
        if not required and booking.status == new_status:
            raise Conflict(f"This booking is already marked {new_status.replace('_', '-')}.", code="invalid_status")
        if not required and booking.status not in ACTIVE_STATUSES + FINISHED_STATUSES:
            raise Conflict("Only an active booking can be marked.", code="invalid_status")
        if action in ("complete", "no_show") and now < booking.start_at:
            raise Conflict("A booking can only be marked once it has started.", code="not_started")
        befores = _snapshots(group)
        for row in group:
            if new_status in FINISHED_STATUSES and row.status in ACTIVE_STATUSES:
                row.finished_at = now  # the rest of its blocked range stays held (the exclusion constraint)
            row.status = new_status
        db.session.flush()
        _audit_group(group, actor, action, befores)
        if action == "confirm":  # a confirmed booking's event stops being "tentative"
            _commit_with_calendar(group, now)
        else:
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return booking
