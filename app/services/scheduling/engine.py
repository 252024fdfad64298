"""The availability engine: which start times can be offered for an appointment.

Pure functions over plain frozen dataclasses. Nothing in here touches the database, Flask, the
network or the clock: the loader turns rows into `StaffSchedule`/`AppointmentSpec` values and
passes the current instant in as `now`. docs/availability.md states the semantics precisely;
the short version:

* Working time is wall-clock time in the staff member's own zone (weekly rules, date overrides,
  holidays), turned into UTC instants one local date at a time, so DST days come out right.
* A slot [s, s + duration) is offered when the slot *with the appointment's buffers* lies inside
  one contiguous block of working time and overlaps no busy time (existing bookings with their
  own buffers, external calendar busy intervals).
* Slot starts step by the slot interval in real elapsed time from the start of the working block.

Internally every instant is an integer count of microseconds since the Unix epoch: exact, and
several times faster to compare and step than aware datetimes.
"""
from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import get_args
from zoneinfo import ZoneInfo

from app.services.scheduling.values import (
    UTC,
    AppointmentSpec,
    BusyInterval,
    DateOverride,
    ExistingBooking,
    Mode,
    Slot,
    StaffSchedule,
    WeeklyRule,
    require_aware,
    zone_info,
)
from app.services.scheduling.wall_time import (
    EPOCH,
    ONE_DAY,
    ONE_US,
    US_PER_MINUTE,
    US_PER_SECOND,
    WorkingCalendar,
    from_us,
    local_date,
    merge,
    to_us,
    wall_to_us,
)

__all__ = [
    "AppointmentSpec",
    "BusyInterval",
    "DateOverride",
    "ExistingBooking",
    "Mode",
    "Slot",
    "StaffSchedule",
    "WeeklyRule",
    "days_with_slots",
    "find_slot_at",
    "find_slots",
    "local_day_window",
    "working_time",
]


# --------------------------------------------------------------------------------------------
# Per-query timeline of one staff member
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Timeline:
    schedule: StaffSchedule
    zone: ZoneInfo
    block_starts: list[int]
    block_ends: list[int]
    anchors: list[int]
    busy_starts: list[int]
    busy_ends: list[int]
    # Local days on which max_per_day is reached, as instant ranges [day start, next day start).
    full_starts: list[int]
    full_ends: list[int]


@dataclass(frozen=True, slots=True)
class _Query:
    lo: int  # earliest allowed start (window start, now + notice)
    hi: int  # starts must be < hi (window end, now + booking window)
    duration: int
    step: int
    before: int
    after: int


def _timeline(schedule: StaffSchedule, appointment: AppointmentSpec, query: _Query) -> _Timeline:
    calendar = WorkingCalendar(schedule)
    zone = calendar.zone
    # Dates whose intervals can hold a buffered slot starting in [lo, hi): see WorkingCalendar.blocks.
    first = local_date(query.lo - query.before, zone) - ONE_DAY
    last = local_date(query.hi + query.duration + query.after, zone)
    blocks, anchors = calendar.blocks(first, last)

    busy: list[tuple[int, int]] = []
    for booking in schedule.bookings:
        busy.append(
            (
                to_us(booking.start) - booking.buffer_before_minutes * US_PER_MINUTE,
                to_us(booking.end) + booking.buffer_after_minutes * US_PER_MINUTE,
            )
        )
    for interval in schedule.busy:
        busy.append((to_us(interval.start), to_us(interval.end)))
    busy = merge(busy)

    full_starts: list[int] = []
    full_ends: list[int] = []
    if appointment.max_per_day is not None:
        per_day = Counter(
            local_date(to_us(b.start), zone) for b in schedule.bookings if b.appointment_type_id == appointment.id
        )
        for day in sorted(d for d, n in per_day.items() if n >= appointment.max_per_day):
            full_starts.append(wall_to_us(day, time(0), zone))
            full_ends.append(wall_to_us(day + ONE_DAY, time(0), zone))
        if appointment.max_per_day == 0:
            # Zero per day: every day is full.
            full_starts, full_ends = [query.lo - query.before], [query.hi + 1]

    return _Timeline(
        schedule=schedule,
        zone=zone,
        block_starts=[lo for lo, _ in blocks],
        block_ends=[hi for _, hi in blocks],
        anchors=anchors,
        busy_starts=[lo for lo, _ in busy],
        busy_ends=[hi for _, hi in busy],
        full_starts=full_starts,
        full_ends=full_ends,
    )


def _next_on_grid(anchor: int, step: int, at_least: int) -> int:
    """The first anchor + k·step (k >= 0) that is >= at_least."""
    if at_least <= anchor:
        return anchor
    return anchor + -(-(at_least - anchor) // step) * step


def _starts(tl: _Timeline, q: _Query) -> list[int]:
    """Every offered start of one staff member, ascending."""
    result: list[int] = []
    busy_starts, busy_ends = tl.busy_starts, tl.busy_ends
    full_starts, full_ends = tl.full_starts, tl.full_ends
    n_busy = len(busy_starts)
    span = q.duration + q.after
    for block_start, block_end, anchor in zip(tl.block_starts, tl.block_ends, tl.anchors):
        stop = min(block_end - span + 1, q.hi)  # starts < stop fit the block and the window
        s = _next_on_grid(anchor, q.step, max(block_start + q.before, q.lo))
        while s < stop:
            # The first busy interval ending after the buffered slot begins is the only one that
            # can overlap it (busy is merged, so its starts and ends are both ascending).
            i = bisect.bisect_right(busy_ends, s - q.before)
            if i < n_busy and busy_starts[i] < s + span:
                s = _next_on_grid(anchor, q.step, busy_ends[i] + q.before)
                continue
            if full_starts:
                j = bisect.bisect_right(full_starts, s) - 1
                if j >= 0 and s < full_ends[j]:
                    s = _next_on_grid(anchor, q.step, full_ends[j])
                    continue
            result.append(s)
            s += q.step
    return result


def _free_at(tl: _Timeline, q: _Query, s: int) -> bool:
    """Whether the buffered slot starting at s fits this staff member (ignores grid alignment)."""
    lo, hi = s - q.before, s + q.duration + q.after
    j = bisect.bisect_right(tl.block_starts, lo) - 1
    if j < 0 or tl.block_ends[j] < hi:
        return False
    i = bisect.bisect_right(tl.busy_ends, lo)
    if i < len(tl.busy_starts) and tl.busy_starts[i] < hi:
        return False
    if tl.full_starts:
        j = bisect.bisect_right(tl.full_starts, s) - 1
        if j >= 0 and s < tl.full_ends[j]:
            return False
    return True


def _fairness_key(schedule: StaffSchedule) -> tuple[int, bool, datetime, str, str]:
    # Fewest bookings first; then least recently booked (never booked counts as longest ago).
    last = schedule.last_booked_at
    return (
        schedule.booking_count,
        last is not None,
        last.astimezone(UTC) if last is not None else EPOCH,
        schedule.name,
        schedule.staff_id,
    )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _query(
    appointment: AppointmentSpec, window_start: datetime, window_end: datetime, now: datetime
) -> _Query | None:
    require_aware("window_start", window_start)
    require_aware("window_end", window_end)
    require_aware("now", now)
    if window_end <= window_start:
        raise ValueError(f"window_end must be after window_start ({window_start} .. {window_end})")
    now_us = to_us(now)
    lo = max(to_us(window_start), now_us + appointment.min_notice_minutes * US_PER_MINUTE)
    hi = to_us(window_end)
    if appointment.booking_window_days is not None:
        hi = min(hi, now_us + appointment.booking_window_days * 86_400 * US_PER_SECOND)
    if lo >= hi:
        return None
    return _Query(
        lo=lo,
        hi=hi,
        duration=appointment.duration_minutes * US_PER_MINUTE,
        step=appointment.interval_minutes * US_PER_MINUTE,
        before=appointment.buffer_before_minutes * US_PER_MINUTE,
        after=appointment.buffer_after_minutes * US_PER_MINUTE,
    )


def find_slots(
    staff: Sequence[StaffSchedule],
    appointment: AppointmentSpec,
    window_start: datetime,
    window_end: datetime,
    *,
    now: datetime,
    mode: Mode = "individual",
) -> list[Slot]:
    """Every start that can be offered for `appointment` in [window_start, window_end).

    Promises (docs/availability.md has the full statement):

    * each slot's buffered interval [start − buffer_before, end + buffer_after) lies inside one
      contiguous block of its staff member's working time and overlaps none of their busy time
      (bookings widened by their own buffers, busy intervals);
    * starts lie on the grid anchor + k·interval (real elapsed time from the working block's
      start), at or after now + min_notice, before now + booking_window_days, and inside the
      window; the answer for an instant never depends on how wide the window is;
    * individual: every staff member's slots; round_robin: each start once, given to the free
      staff member with the fewest bookings (then least recently booked, name, staff_id);
      collective: starts on the first (lead) member's grid where every member is free;
    * sorted by (start, staff_name, staff_id); start/end are aware UTC datetimes.

    Raises ValueError for naive datetimes, window_end <= window_start, an unknown mode or zone,
    or the same staff_id listed twice.
    """
    if mode not in get_args(Mode):
        raise ValueError(f"mode must be one of {get_args(Mode)}, got {mode!r}")
    ids = [s.staff_id for s in staff]
    if len(set(ids)) != len(ids):
        raise ValueError(f"a staff member is listed twice: {ids}")
    query = _query(appointment, window_start, window_end, now)
    if query is None or not staff:
        return []

    type_id = appointment.id
    duration = query.duration

    def slot(start: int, who: StaffSchedule, participants: tuple[str, ...]) -> Slot:
        return Slot(from_us(start), from_us(start + duration), who.staff_id, who.name, type_id, participants)

    if mode == "collective":
        timelines = [_timeline(s, appointment, query) for s in staff]
        lead, others = timelines[0], timelines[1:]
        everyone = tuple(ids)
        return [
            slot(s, lead.schedule, everyone)
            for s in _starts(lead, query)
            if all(_free_at(tl, query, s) for tl in others)
        ]

    if mode == "round_robin":
        # Visit staff from most to least deserving; the first to claim a start keeps it.
        owner: dict[int, StaffSchedule] = {}
        for schedule in sorted(staff, key=_fairness_key):
            for s in _starts(_timeline(schedule, appointment, query), query):
                owner.setdefault(s, schedule)
        return [slot(s, owner[s], (owner[s].staff_id,)) for s in sorted(owner)]

    slots = [
        slot(s, schedule, (schedule.staff_id,))
        for schedule in staff
        for s in _starts(_timeline(schedule, appointment, query), query)
    ]
    if len(staff) > 1:
        slots.sort(key=lambda x: (x.start, x.staff_name, x.staff_id))
    return slots


def find_slot_at(
    staff: Sequence[StaffSchedule],
    appointment: AppointmentSpec,
    start: datetime,
    *,
    now: datetime,
    mode: Mode = "individual",
) -> list[Slot]:
    """The slots find_slots would offer starting exactly at `start` (empty: not bookable).

    For checking a requested time when a booking is made: because results never depend on the
    window, this agrees with any wider find_slots call that was shown to the customer.
    """
    require_aware("start", start)
    return [s for s in find_slots(staff, appointment, start, start + ONE_US, now=now, mode=mode) if s.start == start]


def working_time(schedule: StaffSchedule, window_start: datetime, window_end: datetime) -> list[tuple[datetime, datetime]]:
    """The staff member's merged working blocks (before bookings and busy time), clipped to the
    window, as aware UTC (start, end) pairs in ascending order. For display (dashboards)."""
    require_aware("window_start", window_start)
    require_aware("window_end", window_end)
    if window_end <= window_start:
        raise ValueError("window_end must be after window_start")
    calendar = WorkingCalendar(schedule)
    lo, hi = to_us(window_start), to_us(window_end)
    first = local_date(lo, calendar.zone) - ONE_DAY
    last = local_date(hi, calendar.zone)
    blocks, _ = calendar.blocks(first, last)
    return [(from_us(max(a, lo)), from_us(min(b, hi))) for a, b in blocks if a < hi and b > lo]


def local_day_window(start_date: date, end_date: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants [start of start_date, start of end_date + 1 day) in zone `tz`.

    "Start of a day" is local midnight, or the end of the DST gap where midnight does not exist.
    Raises ValueError when end_date is before start_date or the zone is unknown.
    """
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    zone = zone_info(tz)
    return (
        from_us(wall_to_us(start_date, time(0), zone)),
        from_us(wall_to_us(end_date + ONE_DAY, time(0), zone)),
    )


def days_with_slots(slots: Iterable[Slot], tz: str) -> set[date]:
    """The local dates in zone `tz` on which at least one of `slots` starts (for a date picker)."""
    zone = zone_info(tz)
    return {s.start.astimezone(zone).date() for s in slots}
