"""Schedule changes that respect bookings: what a change to working hours would do to the bookings
already made, judged before it is saved, and saving it together with the staff's decision for each.

A change (a day off, time off, replacement hours, a holiday, weekly hours changed or removed, a date
change removed) can leave upcoming bookings outside working time. `change_impact` lists them without
saving anything; `apply_change` saves the change and then carries out what the person chose for each
listed booking: keep it (it stays where it is: staff decided), cancel it (through
bookings.cancel_booking: audited, the client notified) or move it (left in place for the dashboard's
reschedule flow, which moves it through bookings.reschedule_booking and notifies the client).

"Inside working time" is the engine's own notion (engine.working_time: wall-clock hours in the
trainer's zone, one local date at a time, so DST days come out right), applied to the booking's own
time [start, end) without buffers. Only bookings the change pushes *out* are listed: one already
outside working time (made there by staff, or kept through an earlier change) is not news.

The list can go stale between the review and the save (a booking made, moved or cancelled meanwhile):
its `fingerprint` names the bookings and their times, and `apply_change` refuses with `StaleReview`
(carrying the fresh list) when the fingerprint given is not the current one.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from sqlalchemy import select

from app.extensions import db
from app.models import ACTIVE_STATUSES, AppointmentType, AvailabilityOverride, Booking, User
from app.services.bookings import Actor, cancel_booking
from app.services.errors import Conflict, InvalidRequest, NotFound
from app.services.scheduling import engine, load_schedules, schedules
from app.services.scheduling.values import DateOverride, StaffSchedule, WeeklyRule

Action = Literal["add_override", "update_rule", "delete_rule", "delete_override", "add_holiday"]
Decision = Literal["keep", "cancel", "move"]
DECISIONS = ("keep", "cancel", "move")
# Local dates seen from UTC can be a day either side of a date-bound change.
_DATE_MARGIN = timedelta(days=2)


@dataclass(frozen=True)
class ScheduleChange:
    """A change to working time, not yet saved: what the availability editor's forms submit.

    add_override: user_id, day, kind, start_time, end_time, reason; update_rule: row_id, day_of_week,
    start_time, end_time; delete_rule / delete_override: row_id; add_holiday: name, day."""

    action: Action
    user_id: uuid.UUID | str | None = None
    row_id: uuid.UUID | str | None = None
    day: date | None = None
    kind: str | None = None
    day_of_week: int | None = None
    start_time: time | None = None
    end_time: time | None = None
    reason: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class AffectedBooking:
    """An upcoming booking the change would leave outside its trainer's working time."""

    booking_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    status: str
    staff_id: uuid.UUID
    staff_name: str
    attendee_name: str
    attendee_email: str
    service_name: str | None
    timezone: str  # the trainer's, in which the change is judged


@dataclass(frozen=True)
class Impact:
    bookings: tuple[AffectedBooking, ...]
    fingerprint: str


@dataclass(frozen=True)
class ChangeOutcome:
    """What apply_change did: the saved change, the bookings cancelled, kept and left to move, and
    those it could not cancel (with why: finished or cancelled meanwhile)."""

    saved: object
    cancelled: tuple[AffectedBooking, ...] = ()
    kept: tuple[AffectedBooking, ...] = ()
    to_move: tuple[AffectedBooking, ...] = ()
    failed: tuple[tuple[AffectedBooking, str], ...] = field(default=())


class StaleReview(Conflict):
    """The affected bookings changed since the person reviewed them: review the fresh list."""

    code = "stale_review"

    def __init__(self, impact: Impact) -> None:
        super().__init__("The bookings affected by this change have changed since you looked: "
                         "please review them again.")
        self.impact = impact


def fingerprint(bookings) -> str:
    """A short digest of the listed bookings, their times and statuses (order does not matter)."""
    parts = sorted(f"{b.booking_id}@{b.start_at.astimezone(timezone.utc).isoformat()}/{b.status}" for b in bookings)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


# --- judging a change ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    """Whose schedules a change touches, which local dates (None: every date from now on), and how
    it alters one trainer's engine schedule."""

    staff: list[User]
    days: tuple[date, date] | None
    alter: Callable[[StaffSchedule], StaffSchedule]


def _without(values: tuple, value) -> tuple:
    """`values` less one occurrence of `value` (a saved row as the engine sees it)."""
    items = list(values)
    if value in items:
        items.remove(value)
    return tuple(items)


def _engine_override(row: AvailabilityOverride) -> DateOverride:
    return DateOverride(row.date, row.type, row.start_time, row.end_time, bool(row.replace_rules))


def _plan(org_id: uuid.UUID, change: ScheduleChange, today: date | None) -> _Plan:
    """Check the change as saving it would (InvalidRequest, NotFound) and say what it alters."""
    if change.action == "add_override":
        row = schedules.check_override(org_id, change.user_id, day=change.day, kind=change.kind or "",
                                       start_time=change.start_time, end_time=change.end_time,
                                       reason=change.reason, today=today)
        value = _engine_override(row)
        return _Plan([schedules.get_staff_member(org_id, row.user_id)], (row.date, row.date),
                     lambda s: replace(s, overrides=(*s.overrides, value)))
    if change.action == "add_holiday":
        _, day = schedules.check_holiday(org_id, name=change.name, day=change.day, today=today)
        staff = list(db.session.scalars(select(User).where(User.organization_id == org_id)))
        return _Plan(staff, (day, day), lambda s: replace(s, holidays=s.holidays | {day}))
    if change.action in ("update_rule", "delete_rule"):
        if change.action == "update_rule":
            rule, day = schedules.check_rule_update(org_id, change.row_id, change.day_of_week, change.start_time,
                                                    change.end_time)
            new = (WeeklyRule(day, change.start_time, change.end_time),)
        else:
            rule, new = schedules.get_rule(org_id, change.row_id), ()
        old = WeeklyRule(rule.day_of_week, rule.start_time, rule.end_time)
        return _Plan([schedules.get_staff_member(org_id, rule.user_id)], None,
                     lambda s: replace(s, rules=(*_without(s.rules, old), *new)))
    if change.action == "delete_override":
        row = schedules.get_override(org_id, change.row_id)
        value = _engine_override(row)
        return _Plan([schedules.get_staff_member(org_id, row.user_id)], (row.date, row.date),
                     lambda s: replace(s, overrides=_without(s.overrides, value)))
    raise InvalidRequest("Unknown schedule change.", fields={"action": "unknown"})


def _inside(blocks: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    return any(lo <= start and end <= hi for lo, hi in blocks)


def _upcoming(org_id: uuid.UUID, staff_ids, days: tuple[date, date] | None, now: datetime) -> list[Booking]:
    """The organization's active bookings of these trainers not yet over (on those dates, with margin)."""
    query = select(Booking).where(Booking.organization_id == org_id, Booking.staff_id.in_(staff_ids),
                                  Booking.status.in_(ACTIVE_STATUSES), Booking.end_at > now)
    if days is not None:
        first = datetime.combine(days[0] - _DATE_MARGIN, time(0), tzinfo=timezone.utc)
        last = datetime.combine(days[1] + _DATE_MARGIN, time(0), tzinfo=timezone.utc)
        query = query.where(Booking.start_at < last, Booking.end_at > first)
    return list(db.session.scalars(query.order_by(Booking.start_at, Booking.id)))


def _affected(org_id: uuid.UUID, plan: _Plan, now: datetime) -> list[AffectedBooking]:
    members = {member.id: member for member in plan.staff}
    by_staff: dict[uuid.UUID, list[Booking]] = {}
    for booking in _upcoming(org_id, list(members), plan.days, now):
        by_staff.setdefault(booking.staff_id, []).append(booking)
    types = {t.id: t.name for t in db.session.scalars(select(AppointmentType).where(
        AppointmentType.organization_id == org_id))} if by_staff else {}
    result: list[AffectedBooking] = []
    for staff_id, rows in by_staff.items():
        member = members[staff_id]
        window = (min(b.start_at for b in rows) - timedelta(days=1), max(b.end_at for b in rows) + timedelta(days=1))
        # Only working time matters here: no calendar busy times (external_busy empty, nothing read).
        [before] = load_schedules([member], *window, now=now, external_busy={})
        hours_before = engine.working_time(before, *window)
        hours_after = engine.working_time(plan.alter(before), *window)
        for b in rows:
            if _inside(hours_before, b.start_at, b.end_at) and not _inside(hours_after, b.start_at, b.end_at):
                result.append(AffectedBooking(
                    booking_id=b.id, start_at=b.start_at, end_at=b.end_at, status=b.status, staff_id=member.id,
                    staff_name=member.name, attendee_name=b.attendee_name, attendee_email=b.attendee_email,
                    service_name=types.get(b.appointment_type_id), timezone=member.timezone))
    result.sort(key=lambda a: (a.start_at, a.staff_name, str(a.booking_id)))
    return result


def change_impact(org_id: uuid.UUID, change: ScheduleChange, *, today: date | None = None,
                  now: datetime | None = None) -> Impact:
    """The upcoming (pending or confirmed) bookings this change would leave outside working time,
    with their fingerprint. Saves nothing. Raises what saving would raise for an invalid change
    (InvalidRequest) or a row of another organization (NotFound)."""
    now = now or datetime.now(timezone.utc)
    affected = _affected(org_id, _plan(org_id, change, today), now)
    return Impact(bookings=tuple(affected), fingerprint=fingerprint(affected))


# --- saving it -------------------------------------------------------------------------------------

def _save(org_id: uuid.UUID, change: ScheduleChange, today: date | None):
    if change.action == "add_override":
        return schedules.add_override(org_id, change.user_id, day=change.day, kind=change.kind or "",
                                      start_time=change.start_time, end_time=change.end_time, reason=change.reason,
                                      today=today)
    if change.action == "add_holiday":
        return schedules.add_holiday(org_id, name=change.name, day=change.day, today=today)
    if change.action == "update_rule":
        return schedules.update_rule(org_id, change.row_id, change.day_of_week, change.start_time, change.end_time)
    if change.action == "delete_rule":
        return schedules.delete_rule(org_id, change.row_id)
    return schedules.delete_override(org_id, change.row_id)


def apply_change(org_id: uuid.UUID, change: ScheduleChange, *, decisions: Mapping[str, str],
                 reasons: Mapping[str, str] | None = None, reviewed: str | None, actor: Actor,
                 today: date | None = None, now: datetime | None = None) -> ChangeOutcome:
    """Save the change, then cancel the bookings the person chose to cancel.

    Promises: nothing is saved unless `reviewed` is the fingerprint of the bookings affected now
    (else StaleReview with the fresh list; with none affected any fingerprint will do) and every
    affected booking has a decision — keep, cancel or move (else InvalidRequest). The change is
    saved first, in its own transaction, and never refused because of bookings kept; each
    cancellation is then bookings.cancel_booking (audited, the client notified), one at a time, so one
    that cannot be cancelled any more (cancelled or finished meanwhile) is reported in `failed` and
    the rest go ahead. Bookings to move stay where they are for the reschedule flow."""
    now = now or datetime.now(timezone.utc)
    reasons = reasons or {}
    impact = change_impact(org_id, change, today=today, now=now)
    if impact.bookings and reviewed != impact.fingerprint:
        raise StaleReview(impact)
    chosen: dict[str, list[AffectedBooking]] = {d: [] for d in DECISIONS}
    missing = {}
    for booking in impact.bookings:
        decision = decisions.get(str(booking.booking_id))
        if decision not in DECISIONS:
            missing[f"decision-{booking.booking_id}"] = "choose keep, cancel or move"
        else:
            chosen[decision].append(booking)
    if missing:
        raise InvalidRequest("Choose what happens to each booking.", fields=missing)
    saved = _save(org_id, change, today)
    cancelled, failed = [], []
    for booking in chosen["cancel"]:
        try:
            cancel_booking(booking.booking_id, actor=actor, reason=reasons.get(str(booking.booking_id)), now=now)
        except (Conflict, NotFound, InvalidRequest) as exc:
            failed.append((booking, exc.message))
        else:
            cancelled.append(booking)
    return ChangeOutcome(saved=saved, cancelled=tuple(cancelled), kept=tuple(chosen["keep"]),
                         to_move=tuple(chosen["move"]), failed=tuple(failed))
