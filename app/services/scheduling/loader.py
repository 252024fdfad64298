"""Turns database rows into the availability engine's plain inputs, in a fixed number of queries.

Whatever the number of staff or days, loading costs the same handful of queries (rules,
overrides, holidays, bookings with class sessions, fairness counts). Every query is bounded by an indexed range
condition on time, so its cost does not grow with the size of the booking history.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, literal, null, select, union_all

from app.extensions import db
from app.models import (
    HOLDING_STATUSES,
    AppointmentType,
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    ClassSession,
    Holiday,
    User,
    holiday_staff,
)
from app.services.calendar import busy_for_staff, own_events
from app.services.scheduling.cache import SlotCache
from app.services.scheduling.engine import (
    AppointmentSpec,
    BusyInterval,
    DateOverride,
    ExistingBooking,
    StaffSchedule,
    WeeklyRule,
)

# A booking that ends inside the window can have started up to this long before it (a 24-hour
# appointment plus generous buffers). Reading bookings by "start in [window − margin, window end)"
# keeps the query on the (staff_id, start_at) index instead of scanning every past booking.
BOOKING_LOOKBACK = timedelta(days=2)
# Local dates seen from UTC can be a day either side; overrides and holidays are read with margin.
DATE_MARGIN = timedelta(days=2)
# Round-robin fairness counts each trainer's bookings starting within this period around now.
FAIRNESS_PERIOD = timedelta(days=30)
# The cached rules/overrides/holidays are dropped on any schedule change (the version rises);
# the time limit only bounds memory held for windows nobody asks about any more.
STATIC_CACHE_TTL = timedelta(minutes=10)

# Staff id → busy (start, end) pairs from their external calendars.
ExternalBusy = dict[uuid.UUID, Sequence[tuple[datetime, datetime]]]


def appointment_spec(atype: AppointmentType) -> AppointmentSpec:
    return AppointmentSpec(
        id=str(atype.id),
        duration_minutes=atype.duration_minutes,
        buffer_before_minutes=atype.buffer_before_minutes,
        buffer_after_minutes=atype.buffer_after_minutes,
        slot_interval_minutes=atype.slot_interval_minutes,
        min_notice_minutes=atype.min_notice_minutes,
        booking_window_days=atype.booking_window_days,
        max_per_day=atype.max_per_day,
    )


def booking_spec(booking, atype) -> AppointmentSpec:
    """What a move of `booking` is searched and checked as: its service's rules (grid, notice,
    window, daily cap) with the booking's own length and buffers — a service changed since (60 → 45
    minutes, a new buffer) applies to new bookings, never silently to one a customer already has."""
    return replace(appointment_spec(atype), duration_minutes=booking.duration_minutes,
                   buffer_before_minutes=booking.buffer_before_minutes or 0,
                   buffer_after_minutes=booking.buffer_after_minutes or 0)


def load_schedules(
    staff: Sequence[User],
    window_start: datetime,
    window_end: datetime,
    *,
    now: datetime,
    external_busy: ExternalBusy | None = None,
    ignore_events: Mapping[uuid.UUID, Sequence[tuple[datetime, datetime]]] | None = None,
    exclude_booking_id: uuid.UUID | None = None,
    with_fairness: bool = False,
    cache: SlotCache | None = None,
    version: int | None = None,
) -> list[StaffSchedule]:
    """Everything the engine needs about `staff` for [window_start, window_end).

    `exclude_booking_id` leaves one booking out (a reschedule may move into its own time), its own
    Google event included. `external_busy` maps staff id → busy intervals from their external
    calendars; without it the connected calendars' cached busy times are read (no call to Google;
    see services/calendar/busy.py), less `ignore_events` (calendar id → the intervals of the moving
    bookings' own events, services.calendar.own_events) when given.
    With a `cache` and the organization's schedule `version`, the slow-changing part (weekly rules,
    overrides, holidays) is reused while the version is unchanged; bookings are always read live.
    """
    if not staff:
        return []
    ids = [member.id for member in staff]
    first_day = (window_start - DATE_MARGIN).date()
    last_day = (window_end + DATE_MARGIN).date()

    key = ("schedule_static", tuple(sorted(ids)), first_day, last_day)
    static = cache.get(key, version, now) if cache is not None and version is not None else None
    if static is None:
        static = _load_static(staff, ids, first_day, last_day)
        if cache is not None and version is not None:
            cache.put(key, version, now + STATIC_CACHE_TTL, static)
    rules, overrides, holidays = static
    bookings = _load_bookings(ids, window_start, window_end, exclude_booking_id)
    fairness = _load_fairness(ids, now) if with_fairness else {}
    if external_busy is None:
        external_busy = _cached_calendar_busy(ids, window_start, window_end, now, exclude_booking_id, ignore_events)

    schedules = []
    for member in staff:
        count, last = fairness.get(member.id, (0, None))
        schedules.append(
            StaffSchedule(
                staff_id=str(member.id),
                name=member.name,
                timezone=member.timezone,
                rules=rules.get(member.id, ()),
                overrides=overrides.get(member.id, ()),
                holidays=holidays.get(member.id, frozenset()),
                bookings=tuple(bookings.get(member.id, ())),
                busy=tuple(BusyInterval(start, end) for start, end in external_busy.get(member.id, ())),
                booking_count=count,
                last_booked_at=last,
            )
        )
    return schedules


def _cached_calendar_busy(ids, window_start, window_end, now, exclude_booking_id, ignore_events) -> ExternalBusy:
    if ignore_events is None and exclude_booking_id is not None:
        own = db.session.get(Booking, exclude_booking_id)
        ignore_events = own_events([own]) if own is not None else None  # its own event must not block the move
    return busy_for_staff(ids, window_start, window_end, now=now, exclude=ignore_events).busy


def _load_static(staff, ids, first_day: date, last_day: date):
    """Weekly rules, date overrides and holidays per staff id (three queries), as immutable values."""
    rules: dict[uuid.UUID, list[WeeklyRule]] = defaultdict(list)
    for row in db.session.execute(
        select(AvailabilityRule.user_id, AvailabilityRule.day_of_week, AvailabilityRule.start_time,
               AvailabilityRule.end_time).where(AvailabilityRule.user_id.in_(ids))
    ):
        rules[row.user_id].append(WeeklyRule(row.day_of_week, row.start_time, row.end_time))

    overrides: dict[uuid.UUID, list[DateOverride]] = defaultdict(list)
    for row in db.session.execute(
        select(AvailabilityOverride.user_id, AvailabilityOverride.date, AvailabilityOverride.type,
               AvailabilityOverride.start_time, AvailabilityOverride.end_time, AvailabilityOverride.replace_rules)
        .where(AvailabilityOverride.user_id.in_(ids), AvailabilityOverride.date.between(first_day, last_day))
    ):
        overrides[row.user_id].append(
            DateOverride(row.date, row.type, row.start_time, row.end_time, bool(row.replace_rules))
        )

    holidays = _load_holidays(staff, first_day, last_day)
    return (
        {k: tuple(v) for k, v in rules.items()},
        {k: tuple(v) for k, v in overrides.items()},
        {k: frozenset(v) for k, v in holidays.items()},
    )


def _load_holidays(staff: Sequence[User], first_day: date, last_day: date) -> dict[uuid.UUID, set[date]]:
    org_ids = {member.organization_id for member in staff}
    ids = {member.id for member in staff}
    rows = db.session.execute(
        select(Holiday.organization_id, Holiday.date, Holiday.affects_all_staff, holiday_staff.c.user_id)
        .outerjoin(holiday_staff, holiday_staff.c.holiday_id == Holiday.id)
        .where(Holiday.organization_id.in_(org_ids), Holiday.date.between(first_day, last_day))
    ).all()
    result: dict[uuid.UUID, set[date]] = defaultdict(set)
    for row in rows:
        if row.affects_all_staff:
            for member in staff:
                if member.organization_id == row.organization_id:
                    result[member.id].add(row.date)
        elif row.user_id in ids:
            result[row.user_id].add(row.date)
    return result


def _load_bookings(ids, window_start, window_end, exclude_booking_id) -> dict[uuid.UUID, list[ExistingBooking]]:
    """The staff's bookings that hold time near the window, and the class sessions they teach there
    (a class is busy time for its instructor: no buffers, no service, so no daily cap counts it).
    One round trip: the two are read with UNION ALL."""
    conditions = [
        Booking.staff_id.in_(ids),
        # Finished bookings too: a session marked completed (or a no-show) before its end keeps the
        # rest of its time, and it still counts towards the service's daily cap.
        Booking.status.in_(HOLDING_STATUSES),
        Booking.start_at >= window_start - BOOKING_LOOKBACK,
        Booking.start_at < window_end + BOOKING_LOOKBACK,
    ]
    if exclude_booking_id is not None:
        conditions.append(Booking.id != exclude_booking_id)
    bookings = select(Booking.staff_id, Booking.start_at, Booking.end_at, Booking.buffer_before_minutes,
                      Booking.buffer_after_minutes, Booking.appointment_type_id).where(and_(*conditions))
    classes = select(ClassSession.instructor_id, ClassSession.start_at, ClassSession.end_at, literal(0), literal(0),
                     null()).where(
        ClassSession.instructor_id.in_(ids), ClassSession.status == "scheduled",
        ClassSession.start_at >= window_start - BOOKING_LOOKBACK, ClassSession.start_at < window_end + BOOKING_LOOKBACK)
    result: dict[uuid.UUID, list[ExistingBooking]] = defaultdict(list)
    for staff_id, start_at, end_at, before, after, type_id in db.session.execute(union_all(bookings, classes)):
        # (A union's columns take the first select's types: ids and aware UTC times come back as such.)
        result[staff_id].append(
            ExistingBooking(start_at, end_at, before, after, str(type_id) if type_id else None)
        )
    return result


def _load_fairness(ids, now: datetime) -> dict[uuid.UUID, tuple[int, datetime | None]]:
    """Per trainer: bookings (not cancelled) starting within the fairness period, and the last one made."""
    rows = db.session.execute(
        select(Booking.staff_id, func.count(), func.max(Booking.created_at))
        .where(
            Booking.staff_id.in_(ids),
            Booking.status.in_(HOLDING_STATUSES),
            Booking.start_at >= now - FAIRNESS_PERIOD,
            Booking.start_at < now + FAIRNESS_PERIOD,
        )
        .group_by(Booking.staff_id)
    ).all()
    # max() keeps the column's type, so `last` comes back as an aware UTC datetime.
    return {staff_id: (count, last) for staff_id, count, last in rows}
