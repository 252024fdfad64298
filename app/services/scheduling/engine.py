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
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

Mode = Literal["individual", "round_robin", "collective"]
OverrideKind = Literal["unavailable", "available"]

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
_US_PER_SECOND = 1_000_000
_ONE_DAY = timedelta(days=1)

# How far before the earliest override/holiday the engine walks back looking for the start of a
# working block before it concludes the block never started (round-the-clock weekly rules). Two
# weeks: the weekly pattern repeats every 7 days, and a DST day can join two intervals once.
_LOOKBACK_PAST_SPECIAL_DAYS = 15
# A hard stop for that walk, so hostile input cannot make one query walk for years.
_MAX_LOOKBACK_DAYS = 400
# The grid anchor of a block that never started (see docs/availability.md, "Alignment").
_UNBOUNDED_ANCHOR_DATE = date(2000, 1, 1)


# --------------------------------------------------------------------------------------------
# Input and output values
# --------------------------------------------------------------------------------------------


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


def _require_wall_time(name: str, value: time | None) -> time | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        raise ValueError(f"{name} is a wall-clock time in the staff member's zone: no tzinfo, got {value!r}")
    # fold is chosen by the engine (first occurrence); a stray fold=1 must not change results.
    return value.replace(fold=0)


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """A weekly working interval, wall-clock in the staff member's zone.

    day_of_week: 0 = Sunday … 6 = Saturday (the spec's JavaScript convention).
    end <= start runs past local midnight into the next day; end == 00:00 means "until midnight";
    end == start is a full 24 hours.
    """

    day_of_week: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.day_of_week <= 6:
            raise ValueError(f"day_of_week must be 0 (Sunday) … 6 (Saturday), got {self.day_of_week}")
        object.__setattr__(self, "start", _require_wall_time("start", self.start))
        object.__setattr__(self, "end", _require_wall_time("end", self.end))


@dataclass(frozen=True, slots=True)
class DateOverride:
    """A change to one local date of one staff member.

    * unavailable, no times: the whole day off (that date's own working intervals are dropped);
    * unavailable with times: a blocked stretch of time;
    * available with times: extra hours that date;
    * available with times and replace=True: replacement hours (the weekly rules of that date are
      ignored; several replacing overrides on a date combine).

    Times follow the WeeklyRule convention (end <= start runs past midnight).
    """

    date: date
    kind: OverrideKind
    start: time | None = None
    end: time | None = None
    replace: bool = False

    def __post_init__(self) -> None:
        if self.kind not in get_args(OverrideKind):
            raise ValueError(f"kind must be 'unavailable' or 'available', got {self.kind!r}")
        if (self.start is None) != (self.end is None):
            raise ValueError("an override has both a start and an end time, or neither")
        if self.kind == "available" and self.start is None:
            raise ValueError("an 'available' override needs start and end times")
        if self.replace and self.kind != "available":
            raise ValueError("replace=True only makes sense for an 'available' override")
        object.__setattr__(self, "start", _require_wall_time("start", self.start))
        object.__setattr__(self, "end", _require_wall_time("end", self.end))


@dataclass(frozen=True, slots=True)
class BusyInterval:
    """Time the staff member is busy elsewhere (e.g. external calendar free/busy), half-open."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end < self.start:
            raise ValueError(f"busy interval ends before it starts: {self.start} > {self.end}")


@dataclass(frozen=True, slots=True)
class ExistingBooking:
    """An active booking of the staff member; it blocks [start − buffer_before, end + buffer_after)."""

    start: datetime
    end: datetime
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    appointment_type_id: str | None = None

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end < self.start:
            raise ValueError(f"booking ends before it starts: {self.start} > {self.end}")
        if self.buffer_before_minutes < 0 or self.buffer_after_minutes < 0:
            raise ValueError("booking buffers cannot be negative")


@dataclass(frozen=True, slots=True)
class StaffSchedule:
    """Everything the engine needs to know about one staff member.

    holidays are local dates (in `timezone`) on which this person does not work; the loader has
    already resolved organisation-wide versus staff-specific holidays. booking_count and
    last_booked_at only feed round-robin fairness.
    """

    staff_id: str
    name: str
    timezone: str
    rules: tuple[WeeklyRule, ...]
    overrides: tuple[DateOverride, ...] = ()
    holidays: frozenset[date] = frozenset()
    bookings: tuple[ExistingBooking, ...] = ()
    busy: tuple[BusyInterval, ...] = ()
    booking_count: int = 0
    last_booked_at: datetime | None = None

    def __post_init__(self) -> None:
        # Loaders naturally build lists; accept them but keep the value immutable and hashable.
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "bookings", tuple(self.bookings))
        object.__setattr__(self, "busy", tuple(self.busy))
        if self.last_booked_at is not None:
            _require_aware("last_booked_at", self.last_booked_at)
        _zone(self.timezone)


@dataclass(frozen=True, slots=True)
class AppointmentSpec:
    """The bookable thing: its length, buffers, slot grid and booking rules (all in minutes/days)."""

    id: str
    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    slot_interval_minutes: int | None = None
    min_notice_minutes: int = 0
    booking_window_days: int | None = None
    max_per_day: int | None = None

    def __post_init__(self) -> None:
        if self.duration_minutes <= 0:
            raise ValueError("duration_minutes must be positive")
        if self.buffer_before_minutes < 0 or self.buffer_after_minutes < 0:
            raise ValueError("buffers cannot be negative")
        if self.slot_interval_minutes is not None and self.slot_interval_minutes <= 0:
            raise ValueError("slot_interval_minutes must be positive (or None for the duration)")
        if self.min_notice_minutes < 0:
            raise ValueError("min_notice_minutes cannot be negative")
        if self.booking_window_days is not None and self.booking_window_days < 0:
            raise ValueError("booking_window_days cannot be negative")
        if self.max_per_day is not None and self.max_per_day < 0:
            raise ValueError("max_per_day cannot be negative")

    @property
    def interval_minutes(self) -> int:
        """The step between slot starts: slot_interval_minutes, or the duration when unset."""
        return self.slot_interval_minutes or self.duration_minutes


@dataclass(frozen=True, slots=True)
class Slot:
    """One offered start. start/end are aware UTC; staff_ids lists every participant."""

    start: datetime
    end: datetime
    staff_id: str
    staff_name: str
    appointment_type_id: str
    staff_ids: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------------
# Time helpers
# --------------------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _to_us(value: datetime) -> int:
    return (value - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _local_date(us: int, zone: ZoneInfo) -> date:
    return _from_us(us).astimezone(zone).date()


def _wall_to_us(day: date, wall: time, zone: ZoneInfo) -> int:
    """The first instant whose local wall-clock reading in `zone` is at or after `day wall`.

    For an ordinary wall time that is the one instant showing it; in a repeated (fall-back) hour
    the first occurrence (fold=0); inside a spring-forward gap, the instant the gap ends.
    """
    local = datetime.combine(day, wall, tzinfo=zone)
    before = local.utcoffset()
    after = local.replace(fold=1).utcoffset()
    assert before is not None and after is not None
    if before < after:
        # In a gap, fold=0 applies the pre-transition offset, which lands past the transition;
        # fold=1 lands before it. The transition instant lies between: find it by bisection.
        return _transition_between(_to_us(local.replace(fold=1)), _to_us(local), zone, after)
    return _to_us(local)


def _transition_between(lo_us: int, hi_us: int, zone: ZoneInfo, new_offset: timedelta) -> int:
    """Smallest whole second in (lo, hi] at which `zone` already shows `new_offset`."""
    lo = lo_us // _US_PER_SECOND
    hi = -(-hi_us // _US_PER_SECOND)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == new_offset:
            hi = mid
        else:
            lo = mid
    return hi * _US_PER_SECOND


def _wall_interval(day: date, start: time, end: time, zone: ZoneInfo) -> tuple[int, int] | None:
    """The instants of the wall-clock interval [day start, end) (end <= start: next day)."""
    end_day = day + _ONE_DAY if end <= start else day
    lo = _wall_to_us(day, start, zone)
    hi = _wall_to_us(end_day, end, zone)
    # An interval lying wholly inside a spring-forward gap has no instants at all.
    return (lo, hi) if hi > lo else None


def _merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint, non-touching union of half-open intervals (empty ones dropped)."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if hi <= lo:
            continue
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _subtract(blocks: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """blocks − holes; both sorted and merged. Linear merge walk."""
    if not holes:
        return blocks
    result: list[tuple[int, int]] = []
    j = 0
    for lo, hi in blocks:
        while j < len(holes) and holes[j][1] <= lo:
            j += 1
        k = j
        cur = lo
        while k < len(holes) and holes[k][0] < hi:
            if holes[k][0] > cur:
                result.append((cur, holes[k][0]))
            cur = max(cur, holes[k][1])
            k += 1
        if cur < hi:
            result.append((cur, hi))
    return result


def _js_weekday(day: date) -> int:
    """0 = Sunday … 6 = Saturday, as WeeklyRule.day_of_week counts."""
    return (day.weekday() + 1) % 7


# --------------------------------------------------------------------------------------------
# Working time of one staff member
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _DayChanges:
    day_off: bool = False
    replacement: list[tuple[time, time]] = field(default_factory=list)
    extra: list[tuple[time, time]] = field(default_factory=list)
    blocked: list[tuple[time, time]] = field(default_factory=list)


class _Calendar:
    """One staff member's wall-clock rules, turned into instants one local date at a time."""

    __slots__ = ("zone", "_rules", "_changes", "_holidays", "_earliest_special", "_work", "_blocked")

    def __init__(self, schedule: StaffSchedule) -> None:
        self.zone = _zone(schedule.timezone)
        rules: list[list[tuple[time, time]]] = [[] for _ in range(7)]
        for rule in schedule.rules:
            rules[rule.day_of_week].append((rule.start, rule.end))
        self._rules = rules
        changes: dict[date, _DayChanges] = {}
        for override in schedule.overrides:
            day = changes.setdefault(override.date, _DayChanges())
            start, end = override.start, override.end
            if start is None or end is None:  # validation allows this for 'unavailable' only
                day.day_off = True
            elif override.kind == "unavailable":
                day.blocked.append((start, end))
            elif override.replace:
                day.replacement.append((start, end))
            else:
                day.extra.append((start, end))
        self._changes = changes
        self._holidays = schedule.holidays
        special = [*changes, *schedule.holidays]
        self._earliest_special = min(special) if special else None
        self._work: dict[date, list[tuple[int, int]]] = {}
        self._blocked: dict[date, list[tuple[int, int]]] = {}

    def work(self, day: date) -> list[tuple[int, int]]:
        """Instants of the working intervals attributed to local date `day` (unmerged)."""
        cached = self._work.get(day)
        if cached is not None:
            return cached
        changes = self._changes.get(day)
        walls: list[tuple[time, time]]
        if changes is not None and changes.day_off:
            walls = []
        elif changes is not None and changes.replacement:
            walls = changes.replacement + changes.extra
        elif day in self._holidays:
            # The rules stop; hours the trainer explicitly chose to work that day still count.
            walls = changes.extra if changes is not None else []
        else:
            walls = self._rules[_js_weekday(day)] + (changes.extra if changes is not None else [])
        result = [iv for start, end in walls if (iv := _wall_interval(day, start, end, self.zone))]
        self._work[day] = result
        return result

    def blocked(self, day: date) -> list[tuple[int, int]]:
        """Instants of the partial 'unavailable' overrides of local date `day`."""
        cached = self._blocked.get(day)
        if cached is not None:
            return cached
        changes = self._changes.get(day)
        result = []
        if changes is not None:
            result = [iv for start, end in changes.blocked if (iv := _wall_interval(day, start, end, self.zone))]
        self._blocked[day] = result
        return result

    def blocks(self, first: date, last: date) -> tuple[list[tuple[int, int]], list[int]]:
        """The working blocks that run past (first + 1) 00:00, built from the intervals of local
        dates up to `last`, and the grid anchor of each (normally its start).

        Intervals and partial blocks of date D lie in [D 00:00, D+2 00:00), so blocks assembled
        from the dates d..last are exact from (d + 1) 00:00 on, and at most one of them (the
        first) can reach past that instant while having begun earlier. Step d back a day at a
        time until that block too begins inside the exact part.
        """
        horizon = _wall_to_us(first + _ONE_DAY, time(0), self.zone)
        limit = first if self._earliest_special is None else min(first, self._earliest_special)
        limit -= timedelta(days=_LOOKBACK_PAST_SPECIAL_DAYS)
        hard_limit = first - timedelta(days=_MAX_LOOKBACK_DAYS)
        day = first
        while True:
            blocks = [b for b in self._assemble(day, last) if b[1] > horizon]
            # Only a start strictly after (d + 1) 00:00 is final: where midnight falls in a DST gap,
            # an interval of the day before can end exactly at that instant.
            if not blocks or blocks[0][0] > _wall_to_us(day + _ONE_DAY, time(0), self.zone):
                return blocks, [lo for lo, _ in blocks]
            day -= _ONE_DAY
            if day < limit or day < hard_limit:
                # Continuous for longer than the weekly pattern can explain: the block never
                # started. Anchor its grid at a fixed instant so answers do not depend on the query.
                anchors = [lo for lo, _ in blocks]
                anchors[0] = _wall_to_us(_UNBOUNDED_ANCHOR_DATE, time(0), self.zone)
                return blocks, anchors

    def _assemble(self, first: date, last: date) -> list[tuple[int, int]]:
        """Working blocks from the intervals of local dates first..last (cached per date)."""
        work: list[tuple[int, int]] = []
        holes: list[tuple[int, int]] = []
        day = first
        while day <= last:
            work.extend(self.work(day))
            day += _ONE_DAY
        # Partial blocks of the date before can cut into `first`'s intervals after midnight.
        day = first - _ONE_DAY
        while day <= last:
            holes.extend(self.blocked(day))
            day += _ONE_DAY
        return _subtract(_merge(work), _merge(holes))


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
    calendar = _Calendar(schedule)
    zone = calendar.zone
    # Dates whose intervals can hold a buffered slot starting in [lo, hi): see _Calendar.blocks.
    first = _local_date(query.lo - query.before, zone) - _ONE_DAY
    last = _local_date(query.hi + query.duration + query.after, zone)
    blocks, anchors = calendar.blocks(first, last)

    busy: list[tuple[int, int]] = []
    for booking in schedule.bookings:
        busy.append(
            (
                _to_us(booking.start) - booking.buffer_before_minutes * _US_PER_MINUTE,
                _to_us(booking.end) + booking.buffer_after_minutes * _US_PER_MINUTE,
            )
        )
    for interval in schedule.busy:
        busy.append((_to_us(interval.start), _to_us(interval.end)))
    busy = _merge(busy)

    full_starts: list[int] = []
    full_ends: list[int] = []
    if appointment.max_per_day is not None:
        per_day = Counter(
            _local_date(_to_us(b.start), zone) for b in schedule.bookings if b.appointment_type_id == appointment.id
        )
        for day in sorted(d for d, n in per_day.items() if n >= appointment.max_per_day):
            full_starts.append(_wall_to_us(day, time(0), zone))
            full_ends.append(_wall_to_us(day + _ONE_DAY, time(0), zone))
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
        last.astimezone(UTC) if last is not None else _EPOCH,
        schedule.name,
        schedule.staff_id,
    )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _query(
    appointment: AppointmentSpec, window_start: datetime, window_end: datetime, now: datetime
) -> _Query | None:
    _require_aware("window_start", window_start)
    _require_aware("window_end", window_end)
    _require_aware("now", now)
    if window_end <= window_start:
        raise ValueError(f"window_end must be after window_start ({window_start} .. {window_end})")
    now_us = _to_us(now)
    lo = max(_to_us(window_start), now_us + appointment.min_notice_minutes * _US_PER_MINUTE)
    hi = _to_us(window_end)
    if appointment.booking_window_days is not None:
        hi = min(hi, now_us + appointment.booking_window_days * 86_400 * _US_PER_SECOND)
    if lo >= hi:
        return None
    return _Query(
        lo=lo,
        hi=hi,
        duration=appointment.duration_minutes * _US_PER_MINUTE,
        step=appointment.interval_minutes * _US_PER_MINUTE,
        before=appointment.buffer_before_minutes * _US_PER_MINUTE,
        after=appointment.buffer_after_minutes * _US_PER_MINUTE,
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
        return Slot(_from_us(start), _from_us(start + duration), who.staff_id, who.name, type_id, participants)

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
    _require_aware("start", start)
    return [s for s in find_slots(staff, appointment, start, start + _ONE_US, now=now, mode=mode) if s.start == start]


def working_time(schedule: StaffSchedule, window_start: datetime, window_end: datetime) -> list[tuple[datetime, datetime]]:
    """The staff member's merged working blocks (before bookings and busy time), clipped to the
    window, as aware UTC (start, end) pairs in ascending order. For display (dashboards)."""
    _require_aware("window_start", window_start)
    _require_aware("window_end", window_end)
    if window_end <= window_start:
        raise ValueError("window_end must be after window_start")
    calendar = _Calendar(schedule)
    lo, hi = _to_us(window_start), _to_us(window_end)
    first = _local_date(lo, calendar.zone) - _ONE_DAY
    last = _local_date(hi, calendar.zone)
    blocks, _ = calendar.blocks(first, last)
    return [(_from_us(max(a, lo)), _from_us(min(b, hi))) for a, b in blocks if a < hi and b > lo]


def local_day_window(start_date: date, end_date: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants [start of start_date, start of end_date + 1 day) in zone `tz`.

    "Start of a day" is local midnight, or the end of the DST gap where midnight does not exist.
    Raises ValueError when end_date is before start_date or the zone is unknown.
    """
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    zone = _zone(tz)
    return (
        _from_us(_wall_to_us(start_date, time(0), zone)),
        _from_us(_wall_to_us(end_date + _ONE_DAY, time(0), zone)),
    )


def days_with_slots(slots: Iterable[Slot], tz: str) -> set[date]:
    """The local dates in zone `tz` on which at least one of `slots` starts (for a date picker)."""
    zone = _zone(tz)
    return {s.start.astimezone(zone).date() for s in slots}
