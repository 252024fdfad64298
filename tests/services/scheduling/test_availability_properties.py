"""Property tests: random small schedules against a brute-force reference, plus invariants.

The reference below shares no code with the engine. It works minute by minute on a UTC minute
grid: it reads every minute's local wall clock, maps a wall time to "the first minute whose wall
clock has reached it" with a running maximum (which is exactly the spring-gap / first-fold rule
of docs/availability.md), paints working and busy minutes into byte arrays and walks the runs.
It is slow and obviously right; the engine is fast. They must agree.

Generated schedules keep one rest day a week with no weekly rules and no available overrides,
so every working block begins within 8 days and the reference's 9-day lead-in sees its start.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.scheduling.engine import (
    AppointmentSpec,
    BusyInterval,
    DateOverride,
    ExistingBooking,
    Slot,
    StaffSchedule,
    WeeklyRule,
    find_slot_at,
    find_slots,
    local_day_window,
)

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ORDINAL_1970 = date(1970, 1, 1).toordinal()
MINUTE = timedelta(minutes=1)
LEAD_IN_DAYS = 9

# Whole-hour, half-hour and quarter-hour offsets; DST of an hour and of half an hour; southern
# hemisphere. Every transition of these zones falls on a UTC quarter hour (the reference relies
# on that to read offsets cheaply).
ZONES = (
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
)
# The 2025 change days of the zones above that have DST (St John's changes on New York's days).
CHANGE_DAYS = {
    "Europe/London": (date(2025, 3, 30), date(2025, 10, 26)),
    "America/New_York": (date(2025, 3, 9), date(2025, 11, 2)),
    "America/St_Johns": (date(2025, 3, 9), date(2025, 11, 2)),
    "Australia/Lord_Howe": (date(2025, 4, 6), date(2025, 10, 5)),
}
PROFILE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# Brute-force reference
# --------------------------------------------------------------------------------------------


def _epoch_minutes(value: datetime) -> int:
    return (value - EPOCH) // MINUTE


def _ceil_minutes(value: timedelta) -> int:
    return -(-value // timedelta(microseconds=1) // 60_000_000)


class Reference:
    """Slots by brute force over minutes [t0, t0 + n) for the instants [lo, hi)."""

    def __init__(self, window_start: datetime, window_end: datetime, now: datetime, spec: AppointmentSpec):
        self.t0 = window_start - timedelta(days=LEAD_IN_DAYS)
        self.n = _epoch_minutes(window_end + timedelta(days=3)) - _epoch_minutes(self.t0)
        self.spec = spec
        lo = max(window_start, now + timedelta(minutes=spec.min_notice_minutes))
        hi = window_end
        if spec.booking_window_days is not None:
            hi = min(hi, now + timedelta(days=spec.booking_window_days))
        self.lo = _ceil_minutes(lo - self.t0)  # minute index s is allowed iff lo <= s < hi
        self.hi = _ceil_minutes(hi - self.t0)
        self.step = spec.slot_interval_minutes or spec.duration_minutes
        self.staff: dict[str, _RefStaff] = {}

    def index(self, value: datetime) -> int:
        return _epoch_minutes(value) - _epoch_minutes(self.t0)

    def instant(self, i: int) -> datetime:
        return self.t0 + i * MINUTE

    def load(self, schedule: StaffSchedule) -> _RefStaff:
        ref = _RefStaff(self, schedule)
        self.staff[schedule.staff_id] = ref
        return ref

    def slots(self, staff: list[StaffSchedule], mode: str) -> set[tuple[datetime, str, tuple[str, ...]]]:
        refs = [self.load(s) for s in staff]
        if mode == "individual":
            return {(self.instant(i), r.id, (r.id,)) for r in refs for i in r.starts()}
        if mode == "round_robin":
            claims: dict[int, list[_RefStaff]] = {}
            for r in refs:
                for i in r.starts():
                    claims.setdefault(i, []).append(r)

            def fairness(r: _RefStaff):
                last = r.schedule.last_booked_at
                return (r.schedule.booking_count, last is not None, last or EPOCH, r.schedule.name, r.id)

            return {(self.instant(i), min(rs, key=fairness).id, (min(rs, key=fairness).id,)) for i, rs in claims.items()}
        lead, *others = refs
        everyone = tuple(r.id for r in refs)
        return {(self.instant(i), lead.id, everyone) for i in lead.starts() if all(o.free(i) for o in others)}


class _RefStaff:
    def __init__(self, ref: Reference, schedule: StaffSchedule):
        self.ref, self.schedule, self.id = ref, schedule, schedule.staff_id
        zone = ZoneInfo(schedule.timezone)
        n, base = ref.n, _epoch_minutes(ref.t0)
        # Local wall clock of every minute, as minutes since 1970-01-01 00:00 local.
        wall = [0] * n
        for chunk in range(0, n, 15):
            stop = min(chunk + 15, n)
            first = (ref.t0 + chunk * MINUTE).astimezone(zone).utcoffset() // MINUTE
            if (ref.t0 + (stop - 1) * MINUTE).astimezone(zone).utcoffset() // MINUTE != first:
                raise AssertionError("an offset change inside a UTC quarter hour: pick other zones")
            for i in range(chunk, stop):
                wall[i] = base + i + first
        self.wall = wall
        reached = []
        high = wall[0]
        for w in wall:
            high = max(high, w)
            reached.append(high)
        self.reached = reached

        work = bytearray(n)
        first_day = self.local_date(0) + timedelta(days=1)
        last_day = self.local_date(n - 1)
        days = [first_day + timedelta(days=k) for k in range((last_day - first_day).days + 1)]
        for day in days:
            for a, b in self.spans(day):
                lo, hi = self.first_minute_at(day, a), self.first_minute_at(day + timedelta(days=b <= a), b)
                work[lo:hi] = b"\x01" * max(0, hi - lo)
        for o in schedule.overrides:
            if o.kind == "unavailable" and o.start is not None and o.date in days:
                lo = self.first_minute_at(o.date, o.start)
                hi = self.first_minute_at(o.date + timedelta(days=o.end <= o.start), o.end)
                work[lo:hi] = bytes(max(0, hi - lo))
        self.work = work

        busy = bytearray(n)
        for bk in schedule.bookings:
            lo = max(0, ref.index(bk.start) - bk.buffer_before_minutes)
            hi = min(n, ref.index(bk.end) + bk.buffer_after_minutes)
            busy[lo:hi] = b"\x01" * max(0, hi - lo)
        for iv in schedule.busy:
            lo, hi = max(0, ref.index(iv.start)), min(n, ref.index(iv.end))
            busy[lo:hi] = b"\x01" * max(0, hi - lo)
        self.busy = busy

        self.full_days: set[date] = set()
        if ref.spec.max_per_day is not None:
            counts: dict[date, int] = {}
            for bk in schedule.bookings:
                if bk.appointment_type_id == ref.spec.id:
                    d = bk.start.astimezone(zone).date()
                    counts[d] = counts.get(d, 0) + 1
            self.full_days = {d for d, c in counts.items() if c >= ref.spec.max_per_day}

    def local_date(self, i: int) -> date:
        return date.fromordinal(ORDINAL_1970 + self.wall[i] // 1440)

    def first_minute_at(self, day: date, wall_time: time) -> int:
        target = (day.toordinal() - ORDINAL_1970) * 1440 + wall_time.hour * 60 + wall_time.minute
        return bisect.bisect_left(self.reached, target)

    def spans(self, day: date) -> list[tuple[time, time]]:
        """The spec's per-date rule, restated: day off > replacement > holiday > weekly rules."""
        todays = [o for o in self.schedule.overrides if o.date == day]
        extra = [(o.start, o.end) for o in todays if o.kind == "available" and not o.replace]
        replacing = [(o.start, o.end) for o in todays if o.kind == "available" and o.replace]
        if any(o.kind == "unavailable" and o.start is None for o in todays):
            return []
        if replacing:
            return replacing + extra
        if day in self.schedule.holidays:
            return extra
        weekday = day.isoweekday() % 7
        return [(r.start, r.end) for r in self.schedule.rules if r.day_of_week == weekday] + extra

    def fits(self, i: int) -> bool:
        spec = self.ref.spec
        lo, hi = i - spec.buffer_before_minutes, i + spec.duration_minutes + spec.buffer_after_minutes
        return (
            0 <= lo and hi <= self.ref.n
            and 0 not in self.work[lo:hi]
            and 1 not in self.busy[lo:hi]
            and self.local_date(i) not in self.full_days
        )

    def free(self, i: int) -> bool:
        return self.ref.lo <= i < self.ref.hi and self.fits(i)

    def starts(self) -> list[int]:
        ref, out = self.ref, []
        i = self.work.find(1)
        while i != -1:
            end = self.work.find(0, i)
            end = ref.n if end == -1 else end
            out.extend(s for s in range(i, end, ref.step) if ref.lo <= s < ref.hi and self.fits(s))
            i = self.work.find(1, end)
        return out


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------


def _wall(five_minutes: int) -> time:
    return time(five_minutes // 12, five_minutes % 12 * 5)


# Wall times in five-minute steps, often in the small hours where the DST changes happen.
wall_starts = st.integers(0, 287) | st.integers(0, 40)
lengths = st.integers(1, 288) | st.integers(12, 120) | st.sampled_from((144, 288))


@dataclass(frozen=True)
class Scenario:
    staff: list[StaffSchedule]
    spec: AppointmentSpec
    window_start: datetime
    window_end: datetime
    now: datetime
    mode: str
    first_day: date
    last_day: date


Weekly = tuple[int, tuple[WeeklyRule, ...]]  # (rest day, rules)


@st.composite
def weekly_rules(draw) -> Weekly:
    rest = draw(st.integers(0, 6))
    workdays = [d for d in range(7) if d != rest]
    spans = draw(st.lists(st.tuples(st.sampled_from(workdays), wall_starts, lengths), min_size=3, max_size=10))
    return rest, tuple(WeeklyRule(dow, _wall(start), _wall((start + length) % 288)) for dow, start, length in spans)


@st.composite
def staff_schedules(draw, staff_id: str, base: date, window_start: datetime, zone: str, weekly: Weekly) -> StaffSchedule:
    rest, rules = weekly
    overrides = []
    for offset, kind, start, length in draw(
        st.lists(
            st.tuples(st.integers(-3, 5), st.sampled_from(("off", "block", "extra", "replace")), wall_starts, lengths),
            max_size=4,
        )
    ):
        day = base + timedelta(days=offset)
        if kind in ("extra", "replace") and day.isoweekday() % 7 == rest:
            kind = "block"  # keep the rest day free of work (see module docstring)
        start_t, end_t = _wall(start), _wall((start + length) % 288)
        if kind == "off":
            overrides.append(DateOverride(day, "unavailable"))
        elif kind == "block":
            overrides.append(DateOverride(day, "unavailable", start_t, end_t))
        else:
            overrides.append(DateOverride(day, "available", start_t, end_t, replace=kind == "replace"))
    holidays = frozenset(base + timedelta(days=o) for o in draw(st.sets(st.integers(-1, 3), max_size=1)))
    minutes = st.integers(-1440, 4 * 1440).map(lambda m: window_start + timedelta(minutes=m))
    bookings = tuple(
        ExistingBooking(
            start,
            start + timedelta(minutes=length),
            buffer_before_minutes=bb,
            buffer_after_minutes=ba,
            appointment_type_id=type_id,
        )
        for start, length, bb, ba, type_id in draw(
            st.lists(
                st.tuples(
                    minutes,
                    st.integers(5, 120),
                    st.sampled_from((0, 5, 15)),
                    st.sampled_from((0, 10, 30)),
                    st.sampled_from(("pt", "pt", "other", None)),
                ),
                max_size=6,
            )
        )
    )
    busy = tuple(
        BusyInterval(start, start + timedelta(minutes=length))
        for start, length in draw(st.lists(st.tuples(minutes, st.integers(0, 180)), max_size=5))
    )
    last_booked = draw(st.sampled_from((None, window_start - timedelta(days=3), window_start - timedelta(days=1))))
    return StaffSchedule(
        staff_id=staff_id,
        name=draw(st.sampled_from(("Amy", "Bob"))),
        timezone=zone,
        rules=rules,
        overrides=tuple(overrides),
        holidays=holidays,
        bookings=bookings,
        busy=busy,
        booking_count=draw(st.integers(0, 1)),
        last_booked_at=last_booked,
    )


@st.composite
def scenarios(draw, modes=("individual", "round_robin", "collective")) -> Scenario:
    # A home zone most staff share; half the time the window holds one of its DST change days.
    home = draw(st.sampled_from(ZONES))
    if home in CHANGE_DAYS and draw(st.booleans()):
        base = draw(st.sampled_from(CHANGE_DAYS[home])) - timedelta(days=draw(st.integers(0, 2)))
    else:
        base = draw(st.dates(date(2025, 1, 1), date(2026, 12, 31)))
    last = base + timedelta(days=draw(st.integers(0, 2)))
    client_zone = draw(st.sampled_from(ZONES))
    window_start, window_end = local_day_window(base, last, client_zone)
    mode = draw(st.sampled_from(modes))
    count = draw(st.integers(1, 3) if mode == "individual" else st.integers(2, 3))
    lead_week = draw(weekly_rules())
    staff = []
    for i in range(count):
        zone = home if draw(st.integers(0, 3)) else draw(st.sampled_from(ZONES))
        # Team members often keep the lead's hours, so that collective links have slots at all.
        week = lead_week if i == 0 or draw(st.integers(0, 2)) else draw(weekly_rules())
        staff.append(draw(staff_schedules(f"s{i}", base, window_start, zone, week)))
    spec = AppointmentSpec(
        id="pt",
        duration_minutes=draw(st.sampled_from((15, 20, 30, 45, 60, 90))),
        buffer_before_minutes=draw(st.sampled_from((0, 5, 10, 20))),
        buffer_after_minutes=draw(st.sampled_from((0, 5, 15))),
        slot_interval_minutes=draw(st.sampled_from((None, 10, 15, 25, 30, 45, 60))),
        min_notice_minutes=draw(st.sampled_from((0, 0, 30, 125, 600))),
        booking_window_days=draw(st.none() | st.integers(0, 4)),
        max_per_day=draw(st.none() | st.integers(1, 2)),
    )
    now = window_start + timedelta(minutes=draw(st.integers(-3000, 900)), seconds=draw(st.integers(0, 59)))
    return Scenario(staff, spec, window_start, window_end, now, mode, base, last)


@st.composite
def change_day_scenarios(draw) -> Scenario:
    """One trainer in a DST zone, with rule edges crowded around that zone's change."""
    zone = draw(st.sampled_from(sorted(CHANGE_DAYS)))
    day = draw(st.sampled_from(CHANGE_DAYS[zone]))
    dow, eve = day.isoweekday() % 7, (day.isoweekday() - 1) % 7
    small_hours = st.tuples(st.just(dow), st.integers(0, 48), st.integers(1, 72))  # 00:00–04:00 starts
    evening = st.tuples(st.just(eve), st.integers(228, 287), st.integers(12, 120))  # 19:00–23:55, overnight
    spans = draw(st.lists(small_hours | evening, min_size=1, max_size=4))
    rules = tuple(WeeklyRule(d, _wall(a), _wall((a + n) % 288)) for d, a, n in spans)
    window_start, window_end = local_day_window(day - timedelta(days=1), day + timedelta(days=1), zone)
    change = datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    minutes = st.integers(-300, 600).map(lambda m: change + timedelta(minutes=m))
    overrides = tuple(
        DateOverride(day, "unavailable", _wall(a), _wall((a + n) % 288))
        for a, n in draw(st.lists(st.tuples(st.integers(0, 48), st.integers(1, 24)), max_size=1))
    )
    busy = tuple(
        BusyInterval(start, start + timedelta(minutes=length))
        for start, length in draw(st.lists(st.tuples(minutes, st.integers(5, 60)), max_size=2))
    )
    schedule = StaffSchedule("s0", "Amy", zone, rules=rules, overrides=overrides, busy=busy)
    spec = AppointmentSpec(
        id="pt",
        duration_minutes=draw(st.sampled_from((5, 10, 15, 20, 30, 45, 60, 90))),
        buffer_before_minutes=draw(st.sampled_from((0, 5, 10))),
        buffer_after_minutes=draw(st.sampled_from((0, 5, 10))),
        slot_interval_minutes=draw(st.sampled_from((None, 5, 10, 15, 25, 30, 45, 60))),
    )
    now = window_start - timedelta(days=1)
    return Scenario([schedule], spec, window_start, window_end, now, "individual", day - timedelta(days=1), day)


@st.composite
def chained_shift_schedules(draw) -> tuple[StaffSchedule, AppointmentSpec, date]:
    """Dense weekly rules — short intervals and long overnight shifts on consecutive days — so
    that working blocks run over several dates and bridge each other (one rest day a week)."""
    zone = draw(st.sampled_from(ZONES))
    rest = draw(st.integers(0, 6))
    short = st.tuples(st.integers(0, 287), st.integers(3, 36))  # up to 3 h
    long = st.tuples(st.integers(180, 287), st.integers(120, 288))  # evening starts, 10–24 h
    rules = tuple(
        WeeklyRule(dow, _wall(a), _wall((a + n) % 288))
        for dow in range(7)
        if dow != rest
        for a, n in draw(st.lists(short | long, min_size=2, max_size=4))
    )
    holes = tuple(
        DateOverride(date(2025, 6, 2) + timedelta(days=o), "unavailable", _wall(a), _wall((a + n) % 288))
        for o, a, n in draw(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 287), st.integers(1, 24)), max_size=2))
    )
    spec = AppointmentSpec(
        "pt",
        draw(st.sampled_from((20, 30, 45, 60))),
        buffer_before_minutes=draw(st.sampled_from((0, 10))),
        slot_interval_minutes=draw(st.sampled_from((None, 25, 35, 40))),
    )
    first = draw(st.sampled_from((date(2025, 6, 2), date(2025, 10, 22))))  # ordinary week; London's change week
    return StaffSchedule("s0", "Amy", zone, rules=rules, overrides=holes), spec, first


@PROFILE
@given(chained_shift_schedules())
def test_asking_day_by_day_gives_the_same_starts_as_asking_for_the_week(case):
    schedule, spec, first = case
    now = datetime(2025, 1, 1, tzinfo=UTC)
    days = [first + timedelta(days=k) for k in range(7)]
    week = find_slots([schedule], spec, *local_day_window(days[0], days[-1], schedule.timezone), now=now)
    one_by_one = [s for d in days for s in find_slots([schedule], spec, *local_day_window(d, d, schedule.timezone), now=now)]
    assert one_by_one == week


def _run(sc: Scenario) -> list[Slot]:
    return find_slots(sc.staff, sc.spec, sc.window_start, sc.window_end, now=sc.now, mode=sc.mode)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["individual", "round_robin", "collective"])
@PROFILE
@given(data=st.data())
def test_engine_agrees_with_brute_force_reference(mode: str, data: st.DataObject):
    sc = data.draw(scenarios(modes=(mode,)))
    got = _run(sc)
    expected = Reference(sc.window_start, sc.window_end, sc.now, sc.spec).slots(sc.staff, sc.mode)
    assert {(s.start, s.staff_id, s.staff_ids) for s in got} == expected
    assert len(got) == len(expected)  # and no duplicates
    assert got == sorted(got, key=lambda s: (s.start, s.staff_name, s.staff_id))


@PROFILE
@given(scenarios())
def test_offered_slots_respect_every_constraint(sc: Scenario):
    slots = _run(sc)
    spec = sc.spec
    by_id = {s.staff_id: s for s in sc.staff}
    ref = Reference(sc.window_start, sc.window_end, sc.now, spec)
    earliest = sc.now + timedelta(minutes=spec.min_notice_minutes)
    for slot in slots:
        assert slot.end - slot.start == timedelta(minutes=spec.duration_minutes)
        assert slot.start >= earliest and sc.window_start <= slot.start < sc.window_end
        if spec.booking_window_days is not None:
            assert slot.start < sc.now + timedelta(days=spec.booking_window_days)
        lo = slot.start - timedelta(minutes=spec.buffer_before_minutes)
        hi = slot.end + timedelta(minutes=spec.buffer_after_minutes)
        for staff_id in slot.staff_ids:
            schedule = by_id[staff_id]
            for b in schedule.bookings:  # no overlap with bookings and their own buffers
                assert not (
                    b.start - timedelta(minutes=b.buffer_before_minutes) < hi
                    and lo < b.end + timedelta(minutes=b.buffer_after_minutes)
                ), (slot, b)
            for iv in schedule.busy:
                assert not (iv.start < hi and lo < iv.end and iv.start < iv.end), (slot, iv)
            # Every minute of the buffered slot is working time, recomputed independently.
            work = ref.staff.get(staff_id) or ref.load(schedule)
            assert 0 not in work.work[ref.index(lo) : ref.index(hi)], (slot, schedule)


@PROFILE
@given(change_day_scenarios())
def test_engine_agrees_with_reference_around_dst_changes(sc: Scenario):
    got = _run(sc)
    expected = Reference(sc.window_start, sc.window_end, sc.now, sc.spec).slots(sc.staff, sc.mode)
    assert {(s.start, s.staff_id, s.staff_ids) for s in got} == expected
    assert len(got) == len(expected)


@PROFILE
@given(scenarios(), st.sampled_from(ZONES))
def test_answer_does_not_depend_on_the_clients_zone(sc: Scenario, other_zone: str):
    other_start, other_end = local_day_window(sc.first_day, sc.last_day, other_zone)
    common_start, common_end = max(sc.window_start, other_start), min(sc.window_end, other_end)
    assert common_start < common_end  # zones differ by < 24 h, windows are >= 23 h long
    ours = [s for s in _run(sc) if common_start <= s.start < common_end]
    theirs = find_slots(sc.staff, sc.spec, other_start, other_end, now=sc.now, mode=sc.mode)  # type: ignore[arg-type]
    assert ours == [s for s in theirs if common_start <= s.start < common_end]


@PROFILE
@given(scenarios())
def test_each_offered_start_is_confirmed_on_its_own(sc: Scenario):
    # What a customer was shown must still be bookable when checked alone (booking time).
    slots = _run(sc)
    for slot in slots[:: max(1, len(slots) // 10)]:
        alone = find_slot_at(sc.staff, sc.spec, slot.start, now=sc.now, mode=sc.mode)  # type: ignore[arg-type]
        assert slot in alone


@PROFILE
@given(scenarios(modes=("individual",)))
def test_one_persons_slots_never_overlap_when_the_interval_covers_the_duration(sc: Scenario):
    spec = sc.spec
    if (spec.slot_interval_minutes or spec.duration_minutes) < spec.duration_minutes:
        spec = AppointmentSpec(spec.id, spec.duration_minutes, spec.buffer_before_minutes, spec.buffer_after_minutes)
    for schedule in sc.staff:
        slots = find_slots([schedule], spec, sc.window_start, sc.window_end, now=sc.now)
        assert all(a.end <= b.start for a, b in zip(slots, slots[1:])), schedule
