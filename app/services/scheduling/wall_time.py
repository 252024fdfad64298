"""Wall-clock working time turned into instants: one staff member's weekly rules, date overrides and
holidays, read one local date at a time in their own zone, so DST days come out right.

Instants are integer microseconds since the Unix epoch (exact, and several times faster to compare
and step than aware datetimes); the engine works on these.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.services.scheduling.values import UTC, StaffSchedule, zone_info

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
US_PER_MINUTE = 60_000_000
US_PER_SECOND = 1_000_000
ONE_DAY = timedelta(days=1)

# How far before the earliest override/holiday the engine walks back looking for the start of a
# working block before it concludes the block never started (round-the-clock weekly rules). Two
# weeks: the weekly pattern repeats every 7 days, and a DST day can join two intervals once.
_LOOKBACK_PAST_SPECIAL_DAYS = 15
# A hard stop for that walk, so hostile input cannot make one query walk for years.
_MAX_LOOKBACK_DAYS = 400
# The grid anchor of a block that never started (see docs/availability.md, "Alignment").
_UNBOUNDED_ANCHOR_DATE = date(2000, 1, 1)


def to_us(value: datetime) -> int:
    return (value - EPOCH) // ONE_US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def local_date(us: int, zone: ZoneInfo) -> date:
    return from_us(us).astimezone(zone).date()


def wall_to_us(day: date, wall: time, zone: ZoneInfo) -> int:
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
        return _transition_between(to_us(local.replace(fold=1)), to_us(local), zone, after)
    return to_us(local)


def _transition_between(lo_us: int, hi_us: int, zone: ZoneInfo, new_offset: timedelta) -> int:
    """Smallest whole second in (lo, hi] at which `zone` already shows `new_offset`."""
    lo = lo_us // US_PER_SECOND
    hi = -(-hi_us // US_PER_SECOND)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == new_offset:
            hi = mid
        else:
            lo = mid
    return hi * US_PER_SECOND


def _wall_interval(day: date, start: time, end: time, zone: ZoneInfo) -> tuple[int, int] | None:
    """The instants of the wall-clock interval [day start, end) (end <= start: next day)."""
    end_day = day + ONE_DAY if end <= start else day
    lo = wall_to_us(day, start, zone)
    hi = wall_to_us(end_day, end, zone)
    # An interval lying wholly inside a spring-forward gap has no instants at all.
    return (lo, hi) if hi > lo else None


def merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
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


@dataclass(slots=True)
class _DayChanges:
    day_off: bool = False
    replacement: list[tuple[time, time]] = field(default_factory=list)
    extra: list[tuple[time, time]] = field(default_factory=list)
    blocked: list[tuple[time, time]] = field(default_factory=list)


class WorkingCalendar:
    """One staff member's wall-clock rules, turned into instants one local date at a time."""

    __slots__ = ("zone", "_rules", "_changes", "_holidays", "_earliest_special", "_work", "_blocked")

    def __init__(self, schedule: StaffSchedule) -> None:
        self.zone = zone_info(schedule.timezone)
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
        horizon = wall_to_us(first + ONE_DAY, time(0), self.zone)
        limit = first if self._earliest_special is None else min(first, self._earliest_special)
        limit -= timedelta(days=_LOOKBACK_PAST_SPECIAL_DAYS)
        hard_limit = first - timedelta(days=_MAX_LOOKBACK_DAYS)
        day = first
        while True:
            blocks = [b for b in self._assemble(day, last) if b[1] > horizon]
            # Only a start strictly after (d + 1) 00:00 is final: where midnight falls in a DST gap,
            # an interval of the day before can end exactly at that instant.
            if not blocks or blocks[0][0] > wall_to_us(day + ONE_DAY, time(0), self.zone):
                return blocks, [lo for lo, _ in blocks]
            day -= ONE_DAY
            if day < limit or day < hard_limit:
                # Continuous for longer than the weekly pattern can explain: the block never
                # started. Anchor its grid at a fixed instant so answers do not depend on the query.
                anchors = [lo for lo, _ in blocks]
                anchors[0] = wall_to_us(_UNBOUNDED_ANCHOR_DATE, time(0), self.zone)
                return blocks, anchors

    def _assemble(self, first: date, last: date) -> list[tuple[int, int]]:
        """Working blocks from the intervals of local dates first..last (cached per date)."""
        work: list[tuple[int, int]] = []
        holes: list[tuple[int, int]] = []
        day = first
        while day <= last:
            work.extend(self.work(day))
            day += ONE_DAY
        # Partial blocks of the date before can cut into `first`'s intervals after midnight.
        day = first - ONE_DAY
        while day <= last:
            holes.extend(self.blocked(day))
            day += ONE_DAY
        return _subtract(merge(work), merge(holes))


