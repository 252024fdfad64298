"""DST change days and odd zones: exact UTC starts, worked out by hand.

2025 changes used here (all on Sundays):
  Europe/London      2025-03-30 01:00Z  GMT → BST (local 01:00–02:00 does not exist)
                     2025-10-26 01:00Z  BST → GMT (local 01:00–02:00 happens twice)
  America/New_York   2025-03-09 07:00Z  EST → EDT (local 02:00–03:00 does not exist)
                     2025-11-02 06:00Z  EDT → EST (local 01:00–02:00 happens twice)
  Australia/Lord_Howe 2025-10-05 15:30Z +10:30 → +11 (a 30-minute jump, 02:00 → 02:30)
  America/Santiago   2025-09-07 04:00Z  −04 → −03 (local midnight does not exist)
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from app.services.scheduling.engine import (
    AppointmentSpec,
    DateOverride,
    StaffSchedule,
    WeeklyRule,
    find_slots,
    local_day_window,
)

UTC = timezone.utc
EARLY = datetime(2024, 1, 1, tzinfo=UTC)


def _js_dow(day: date) -> int:
    return (day.weekday() + 1) % 7


def _slots_on(tz: str, day: date, start: str, end: str, duration: int, interval: int | None = None, **kw):
    schedule = StaffSchedule(
        "s", "S", tz, rules=(WeeklyRule(_js_dow(day), time.fromisoformat(start), time.fromisoformat(end)),), **kw
    )
    spec = AppointmentSpec("x", duration, slot_interval_minutes=interval)
    # A window two days either side: nothing is clipped, and the rule of `day` is the only one.
    window = local_day_window(day - timedelta(days=2), day + timedelta(days=2), tz)
    return find_slots([schedule], spec, *window, now=EARLY)


def _utc(*stamps: str) -> list[datetime]:
    return [datetime.fromisoformat(s).replace(tzinfo=UTC) for s in stamps]


LONDON_SPRING = date(2025, 3, 30)
LONDON_FALL = date(2025, 10, 26)
NY_SPRING = date(2025, 3, 9)
NY_FALL = date(2025, 11, 2)

CASES = [
    # id, zone, day, rule start, rule end, duration, interval, expected UTC starts
    # -- London, spring forward: the interval over the gap is an hour shorter in real time.
    ("london-spring-over-gap", "Europe/London", LONDON_SPRING, "00:00", "06:00", 60, None,
     _utc("2025-03-30T00:00", "2025-03-30T01:00", "2025-03-30T02:00", "2025-03-30T03:00", "2025-03-30T04:00")),
    ("london-spring-start-in-gap", "Europe/London", LONDON_SPRING, "01:30", "04:00", 30, None,
     _utc("2025-03-30T01:00", "2025-03-30T01:30", "2025-03-30T02:00", "2025-03-30T02:30")),
    ("london-spring-end-in-gap", "Europe/London", LONDON_SPRING, "00:00", "01:30", 30, None,
     _utc("2025-03-30T00:00", "2025-03-30T00:30")),
    ("london-spring-day-hours", "Europe/London", LONDON_SPRING, "09:00", "17:00", 60, None,
     _utc(*(f"2025-03-30T{h:02d}:00" for h in range(8, 16)))),
    ("london-saturday-before-spring", "Europe/London", LONDON_SPRING - timedelta(days=1), "09:00", "17:00", 60, None,
     _utc(*(f"2025-03-29T{h:02d}:00" for h in range(9, 17)))),
    # Real-time stepping: 45 minutes after 00:45 GMT is 02:30 BST, not 01:30.
    ("london-spring-step-real-time", "Europe/London", LONDON_SPRING, "00:00", "04:00", 45, None,
     _utc("2025-03-30T00:00", "2025-03-30T00:45", "2025-03-30T01:30", "2025-03-30T02:15")),
    # -- London, fall back: the interval over the repeat is an hour longer.
    ("london-fall-over-repeat", "Europe/London", LONDON_FALL, "00:00", "04:00", 60, None,
     _utc("2025-10-25T23:00", "2025-10-26T00:00", "2025-10-26T01:00", "2025-10-26T02:00", "2025-10-26T03:00")),
    ("london-fall-start-in-repeat-is-first", "Europe/London", LONDON_FALL, "01:30", "03:00", 30, None,
     _utc("2025-10-26T00:30", "2025-10-26T01:00", "2025-10-26T01:30", "2025-10-26T02:00", "2025-10-26T02:30")),
    ("london-fall-end-in-repeat-is-first", "Europe/London", LONDON_FALL, "00:00", "01:30", 30, None,
     _utc("2025-10-25T23:00", "2025-10-25T23:30", "2025-10-26T00:00")),
    ("london-fall-step-real-time", "Europe/London", LONDON_FALL, "00:00", "04:00", 90, None,
     _utc("2025-10-25T23:00", "2025-10-26T00:30", "2025-10-26T02:00")),
    ("london-fall-day-hours", "Europe/London", LONDON_FALL, "09:00", "17:00", 60, None,
     _utc(*(f"2025-10-26T{h:02d}:00" for h in range(9, 17)))),
    ("london-friday-before-fall", "Europe/London", LONDON_FALL - timedelta(days=2), "09:00", "17:00", 60, None,
     _utc(*(f"2025-10-24T{h:02d}:00" for h in range(8, 16)))),
    # -- New York.
    ("ny-spring-over-gap", "America/New_York", NY_SPRING, "00:00", "06:00", 60, None,
     _utc("2025-03-09T05:00", "2025-03-09T06:00", "2025-03-09T07:00", "2025-03-09T08:00", "2025-03-09T09:00")),
    ("ny-spring-start-in-gap", "America/New_York", NY_SPRING, "02:30", "05:00", 30, None,
     _utc("2025-03-09T07:00", "2025-03-09T07:30", "2025-03-09T08:00", "2025-03-09T08:30")),
    ("ny-spring-day-hours", "America/New_York", NY_SPRING, "09:00", "17:00", 60, None,
     _utc(*(f"2025-03-09T{h:02d}:00" for h in range(13, 21)))),
    ("ny-saturday-before-spring", "America/New_York", NY_SPRING - timedelta(days=1), "09:00", "17:00", 60, None,
     _utc(*(f"2025-03-08T{h:02d}:00" for h in range(14, 22)))),
    ("ny-fall-over-repeat", "America/New_York", NY_FALL, "00:00", "04:00", 60, None,
     _utc("2025-11-02T04:00", "2025-11-02T05:00", "2025-11-02T06:00", "2025-11-02T07:00", "2025-11-02T08:00")),
    ("ny-fall-start-in-repeat-is-first", "America/New_York", NY_FALL, "01:30", "03:00", 30, None,
     _utc("2025-11-02T05:30", "2025-11-02T06:00", "2025-11-02T06:30", "2025-11-02T07:00", "2025-11-02T07:30")),
    ("ny-fall-day-hours", "America/New_York", NY_FALL, "09:00", "17:00", 60, None,
     _utc(*(f"2025-11-02T{h:02d}:00" for h in range(14, 22)))),
    # -- Half-hour, quarter-hour and half-hour-DST zones.
    ("kolkata", "Asia/Kolkata", date(2025, 6, 2), "09:00", "12:00", 60, None,
     _utc("2025-06-02T03:30", "2025-06-02T04:30", "2025-06-02T05:30")),
    ("kathmandu", "Asia/Kathmandu", date(2025, 6, 2), "09:00", "11:00", 30, None,
     _utc("2025-06-02T03:15", "2025-06-02T03:45", "2025-06-02T04:15", "2025-06-02T04:45")),
    ("kathmandu-past-midnight", "Asia/Kathmandu", date(2025, 6, 2), "23:00", "01:00", 60, None,
     _utc("2025-06-02T17:15", "2025-06-02T18:15")),
    ("lord-howe-half-hour-jump", "Australia/Lord_Howe", date(2025, 10, 5), "00:00", "06:00", 60, None,
     _utc("2025-10-04T13:30", "2025-10-04T14:30", "2025-10-04T15:30", "2025-10-04T16:30", "2025-10-04T17:30")),
    # -- Past local midnight across a change: 22:00–04:00 is 5 real hours in spring, 7 in autumn.
    ("london-overnight-into-spring", "Europe/London", LONDON_SPRING - timedelta(days=1), "22:00", "04:00", 60, None,
     _utc("2025-03-29T22:00", "2025-03-29T23:00", "2025-03-30T00:00", "2025-03-30T01:00", "2025-03-30T02:00")),
    ("london-overnight-into-fall", "Europe/London", LONDON_FALL - timedelta(days=1), "22:00", "04:00", 60, None,
     _utc(*(f"2025-10-25T{h:02d}:00" for h in (21, 22, 23)), *(f"2025-10-26T{h:02d}:00" for h in range(0, 4)))),
    # -- Local midnight itself missing: the day starts when the gap ends.
    ("santiago-missing-midnight", "America/Santiago", date(2025, 9, 7), "00:00", "02:00", 60, None,
     _utc("2025-09-07T04:00")),
]


@pytest.mark.parametrize(
    ("zone", "day", "start", "end", "duration", "interval", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_exact_utc_starts(zone, day, start, end, duration, interval, expected):
    slots = _slots_on(zone, day, start, end, duration, interval)
    assert [s.start for s in slots] == expected
    assert all(s.end - s.start == timedelta(minutes=duration) for s in slots)


@pytest.mark.parametrize("day", [LONDON_SPRING, LONDON_FALL])
def test_stepping_never_overlaps_or_repeats_across_a_change(day):
    slots = _slots_on("Europe/London", day, "00:00", "06:00", 25, None)
    assert all(b.start - a.start == timedelta(minutes=25) for a, b in zip(slots, slots[1:]))
    assert len(slots) == (5 * 60 if day == LONDON_SPRING else 7 * 60) // 25


def test_overnight_shift_belongs_to_the_day_it_starts_even_across_a_change():
    saturday = LONDON_SPRING - timedelta(days=1)
    assert _slots_on("Europe/London", saturday, "22:00", "04:00", 60,
                     overrides=(DateOverride(saturday, "unavailable"),)) == []
    kept = _slots_on("Europe/London", saturday, "22:00", "04:00", 60,
                     overrides=(DateOverride(LONDON_SPRING, "unavailable"),))
    assert len(kept) == 5


@pytest.mark.parametrize(
    ("zone", "day", "expected", "hours"),
    [
        ("Europe/London", LONDON_SPRING, _utc("2025-03-30T00:00", "2025-03-30T23:00"), 23),
        ("Europe/London", LONDON_FALL, _utc("2025-10-25T23:00", "2025-10-27T00:00"), 25),
        ("America/New_York", NY_SPRING, _utc("2025-03-09T05:00", "2025-03-10T04:00"), 23),
        ("America/New_York", NY_FALL, _utc("2025-11-02T04:00", "2025-11-03T05:00"), 25),
        ("America/Santiago", date(2025, 9, 7), _utc("2025-09-07T04:00", "2025-09-08T03:00"), 23),
        ("Asia/Kolkata", date(2025, 6, 2), _utc("2025-06-01T18:30", "2025-06-02T18:30"), 24),
    ],
)
def test_local_day_window_on_change_days(zone, day, expected, hours):
    start, end = local_day_window(day, day, zone)
    assert [start, end] == expected
    assert end - start == timedelta(hours=hours)
