"""Unit tests of the availability engine: one rule or edge per test, exact expected starts.

Most tests use a London trainer in June 2025 (BST, UTC+1) and compare local wall-clock start
times, which is how a trainer would read them. DST and odd zones: test_availability_dst.py;
random schedules against a brute-force reference: test_availability_properties.py.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.services.scheduling.engine import (
    AppointmentSpec,
    BusyInterval,
    DateOverride,
    ExistingBooking,
    Slot,
    StaffSchedule,
    WeeklyRule,
    days_with_slots,
    find_slot_at,
    find_slots,
    local_day_window,
    working_time,
)

UTC = timezone.utc
LONDON = "Europe/London"
NEW_YORK = "America/New_York"
MON = date(2025, 6, 2)  # a Monday in BST
TUE = MON + timedelta(days=1)
FRI = date(2025, 6, 6)
SAT = FRI + timedelta(days=1)
SUN = FRI + timedelta(days=2)
EARLY = datetime(2025, 1, 1, tzinfo=UTC)  # "now" long before every test day


def at(day: date, hh: int, mm: int = 0, tz: str = LONDON) -> datetime:
    """The UTC instant of a local wall-clock time."""
    return datetime.combine(day, time(hh, mm), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def rules(*spans: tuple[str, str], days: range | tuple[int, ...] = range(1, 6)) -> tuple[WeeklyRule, ...]:
    """Weekly rules with the given "HH:MM" spans on each of `days` (default Mon–Fri)."""
    return tuple(WeeklyRule(d, time.fromisoformat(a), time.fromisoformat(b)) for d in days for a, b in spans)


def trainer(staff_id: str = "t1", *, name: str | None = None, tz: str = LONDON, **kw) -> StaffSchedule:
    kw.setdefault("rules", rules(("09:00", "17:00")))
    return StaffSchedule(staff_id=staff_id, name=name or staff_id.upper(), timezone=tz, **kw)


def appt(duration: int = 60, **kw) -> AppointmentSpec:
    return AppointmentSpec(id="pt", duration_minutes=duration, **kw)


def starts(slots: list[Slot], tz: str = LONDON) -> list[str]:
    return [s.start.astimezone(ZoneInfo(tz)).strftime("%H:%M") for s in slots]


def day_slots(staff, appointment, day: date, *, now: datetime = EARLY, mode="individual", tz: str = LONDON):
    if isinstance(staff, StaffSchedule):
        staff = [staff]
    return find_slots(staff, appointment, *local_day_window(day, day, tz), now=now, mode=mode)


def hours(first: int, last: int, minute: int = 0) -> list[str]:
    return [f"{h:02d}:{minute:02d}" for h in range(first, last + 1)]


# --- working intervals and alignment ---------------------------------------------------------


def test_one_rule_gives_hourly_slots_with_exact_utc_times():
    slots = day_slots(trainer(), appt(), MON)
    assert starts(slots) == hours(9, 16)
    assert slots[0] == Slot(
        start=datetime(2025, 6, 2, 8, tzinfo=UTC),
        end=datetime(2025, 6, 2, 9, tzinfo=UTC),
        staff_id="t1",
        staff_name="T1",
        appointment_type_id="pt",
        staff_ids=("t1",),
    )
    assert all(s.start.tzinfo is UTC and s.end.tzinfo is UTC for s in slots)


def test_several_intervals_a_day():
    t = trainer(rules=rules(("09:00", "12:00"), ("14:00", "16:00")))
    assert starts(day_slots(t, appt(), MON)) == ["09:00", "10:00", "11:00", "14:00", "15:00"]


def test_rules_only_apply_to_their_weekday():
    t = trainer(rules=rules(("09:00", "11:00"), days=(2,)))  # Tuesday only
    assert day_slots(t, appt(), MON) == []
    assert starts(day_slots(t, appt(), TUE)) == ["09:00", "10:00"]


def test_adjacent_intervals_merge_into_one_block():
    # Separately, 09:00–11:30 and 11:30–17:00 would restart the grid at 11:30.
    t = trainer(rules=rules(("09:00", "11:30"), ("11:30", "17:00")))
    assert starts(day_slots(t, appt(), MON)) == hours(9, 16)


def test_overlapping_intervals_merge_into_one_block():
    t = trainer(rules=rules(("09:00", "13:00"), ("11:30", "17:00")))
    assert starts(day_slots(t, appt(), MON)) == hours(9, 16)


def test_grid_counts_from_the_start_of_the_working_interval():
    t = trainer(rules=rules(("09:15", "13:15")))
    assert starts(day_slots(t, appt(), MON)) == ["09:15", "10:15", "11:15", "12:15"]


def test_interval_shorter_than_duration_offers_overlapping_starts():
    t = trainer(rules=rules(("09:00", "12:00")))
    assert starts(day_slots(t, appt(60, slot_interval_minutes=30), MON)) == [
        "09:00", "09:30", "10:00", "10:30", "11:00",
    ]


def test_interval_longer_than_duration():
    t = trainer(rules=rules(("09:00", "12:00")))
    assert starts(day_slots(t, appt(30, slot_interval_minutes=45), MON)) == ["09:00", "09:45", "10:30", "11:15"]


def test_slot_must_fit_before_the_interval_ends():
    t = trainer(rules=rules(("09:00", "11:50")))
    assert starts(day_slots(t, appt(), MON)) == ["09:00", "10:00"]


def test_partial_block_splits_the_interval_and_restarts_the_grid():
    t = trainer(overrides=(DateOverride(MON, "unavailable", time(12), time(12, 20)),))
    assert starts(day_slots(t, appt(), MON)) == ["09:00", "10:00", "11:00", "12:20", "13:20", "14:20", "15:20"]


def test_busy_time_does_not_move_the_grid():
    t = trainer(busy=(BusyInterval(at(MON, 10), at(MON, 10, 20)),))
    assert starts(day_slots(t, appt(), MON)) == ["09:00"] + hours(11, 16)


# --- date overrides and holidays -------------------------------------------------------------


def test_whole_day_off():
    t = trainer(overrides=(DateOverride(MON, "unavailable"),))
    assert day_slots(t, appt(), MON) == []
    assert starts(day_slots(t, appt(), TUE)) == hours(9, 16)


def test_extra_hours_adjacent_to_rules_merge():
    t = trainer(overrides=(DateOverride(MON, "available", time(17), time(19)),))
    assert starts(day_slots(t, appt(), MON)) == hours(9, 18)
    assert starts(day_slots(t, appt(), TUE)) == hours(9, 16)


def test_extra_hours_apart_from_rules():
    t = trainer(overrides=(DateOverride(MON, "available", time(19, 30), time(21)),))
    assert starts(day_slots(t, appt(), MON)) == hours(9, 16) + ["19:30"]


def test_extra_hours_on_a_day_without_rules():
    t = trainer(overrides=(DateOverride(SUN, "available", time(10), time(12)),))
    assert starts(day_slots(t, appt(), SUN)) == ["10:00", "11:00"]


def test_replacement_hours_ignore_the_weekly_rules():
    t = trainer(overrides=(DateOverride(MON, "available", time(10), time(12), replace=True),))
    assert starts(day_slots(t, appt(), MON)) == ["10:00", "11:00"]
    assert starts(day_slots(t, appt(), TUE)) == hours(9, 16)


def test_several_replacement_overrides_combine():
    t = trainer(
        overrides=(
            DateOverride(MON, "available", time(7), time(9), replace=True),
            DateOverride(MON, "available", time(14), time(15), replace=True),
        )
    )
    assert starts(day_slots(t, appt(), MON)) == ["07:00", "08:00", "14:00"]


def test_extra_hours_add_to_replacement_hours():
    t = trainer(
        overrides=(
            DateOverride(MON, "available", time(10), time(12), replace=True),
            DateOverride(MON, "available", time(12), time(13)),
        )
    )
    assert starts(day_slots(t, appt(), MON)) == ["10:00", "11:00", "12:00"]


def test_day_off_beats_extra_hours_on_the_same_date():
    t = trainer(
        overrides=(
            DateOverride(MON, "available", time(18), time(20)),
            DateOverride(MON, "unavailable"),
        )
    )
    assert day_slots(t, appt(), MON) == []


def test_holiday_means_no_work():
    t = trainer(holidays=frozenset({MON}))
    assert day_slots(t, appt(), MON) == []
    assert starts(day_slots(t, appt(), TUE)) == hours(9, 16)


def test_available_override_on_a_holiday_wins_with_its_own_hours():
    t = trainer(holidays=frozenset({MON}), overrides=(DateOverride(MON, "available", time(10), time(12)),))
    assert starts(day_slots(t, appt(), MON)) == ["10:00", "11:00"]


def test_holiday_is_a_date_in_the_staff_members_own_zone():
    # Evenings in New York are the next day in UTC: the holiday must follow New York's date.
    t = trainer(tz=NEW_YORK, rules=rules(("20:00", "22:00"), days=range(7)), holidays=frozenset({MON}))
    utc_window = local_day_window(MON - timedelta(days=1), TUE + timedelta(days=1), "UTC")
    got = [s.start for s in find_slots([t], appt(), *utc_window, now=EARLY)]
    evenings = (MON - timedelta(days=2), MON - timedelta(days=1), TUE)  # Monday's is the holiday
    assert got == [at(d, h, tz=NEW_YORK) for d in evenings for h in (20, 21)]


# --- buffers -----------------------------------------------------------------------------------


def test_appointment_buffers_must_lie_inside_working_time():
    spec = appt(60, buffer_before_minutes=15, buffer_after_minutes=15, slot_interval_minutes=30)
    got = starts(day_slots(trainer(), spec, MON))
    # 09:00 would need 08:45 as prep time; 16:00 would need until 17:15.
    assert got[0] == "09:30" and got[-1] == "15:30" and len(got) == 13


def test_buffer_before_pushes_the_first_start_to_the_next_grid_point():
    spec = appt(60, buffer_before_minutes=15)
    assert starts(day_slots(trainer(), spec, MON)) == hours(10, 16)


def test_existing_booking_blocks_its_own_buffers():
    booking = ExistingBooking(at(MON, 11), at(MON, 12), buffer_before_minutes=0, buffer_after_minutes=30)
    got = starts(day_slots(trainer(bookings=(booking,)), appt(60, slot_interval_minutes=30), MON))
    # 10:00–11:00 touches the booking and is fine; nothing may start before 12:30 after it.
    assert got == ["09:00", "09:30", "10:00", "12:30", "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00"]


def test_existing_booking_buffer_before():
    booking = ExistingBooking(at(MON, 11), at(MON, 12), buffer_before_minutes=30)
    got = starts(day_slots(trainer(bookings=(booking,)), appt(60, slot_interval_minutes=30), MON))
    assert "09:30" in got and "10:00" not in got and "12:00" in got


@pytest.mark.parametrize(("booking_at", "offered"), [((10, 30), True), ((10, 25), False)])
def test_buffers_of_slot_and_booking_add_up(booking_at, offered):
    # The slot 09:00–10:00 blocks until 10:15; a booking at 10:30 with 15 min prep blocks from 10:15.
    booking = ExistingBooking(at(MON, *booking_at), at(MON, 11, 30), buffer_before_minutes=15)
    spec = appt(60, buffer_after_minutes=15, slot_interval_minutes=15)
    assert ("09:00" in starts(day_slots(trainer(bookings=(booking,)), spec, MON))) is offered


# --- busy time -----------------------------------------------------------------------------------


def test_busy_interval_blocks_only_overlapping_slots():
    t = trainer(busy=(BusyInterval(at(MON, 13, 10), at(MON, 13, 20)),))
    assert starts(day_slots(t, appt(), MON)) == [h for h in hours(9, 16) if h != "13:00"]


def test_busy_interval_touching_a_slot_does_not_block_it():
    t = trainer(busy=(BusyInterval(at(MON, 12), at(MON, 13)),))
    assert starts(day_slots(t, appt(), MON)) == [h for h in hours(9, 16) if h != "12:00"]


def test_empty_busy_interval_blocks_nothing():
    t = trainer(busy=(BusyInterval(at(MON, 12, 30), at(MON, 12, 30)),))
    assert starts(day_slots(t, appt(), MON)) == hours(9, 16)


def test_busy_interval_given_in_another_offset():
    kolkata = ZoneInfo("Asia/Kolkata")
    # 17:30–18:30 in Kolkata is 13:00–14:00 in London (BST).
    busy = BusyInterval(datetime(2025, 6, 2, 17, 30, tzinfo=kolkata), datetime(2025, 6, 2, 18, 30, tzinfo=kolkata))
    assert "13:00" not in starts(day_slots(trainer(busy=(busy,)), appt(), MON))
    assert "12:00" in starts(day_slots(trainer(busy=(busy,)), appt(), MON))


def test_overlapping_busy_sources_combine():
    t = trainer(
        busy=(BusyInterval(at(MON, 10), at(MON, 11, 30)), BusyInterval(at(MON, 11), at(MON, 12))),
        bookings=(ExistingBooking(at(MON, 12), at(MON, 13)),),
    )
    assert starts(day_slots(t, appt(), MON)) == ["09:00"] + hours(13, 16)


# --- notice, booking window, max per day, window clipping ----------------------------------------


def test_min_notice():
    now = at(MON, 9, 40)
    got = starts(day_slots(trainer(), appt(60, slot_interval_minutes=15, min_notice_minutes=60), MON, now=now))
    assert got[0] == "10:45"


def test_a_start_exactly_at_now_plus_notice_is_offered():
    now = at(MON, 10)
    assert starts(day_slots(trainer(), appt(60, min_notice_minutes=120), MON, now=now))[0] == "12:00"


def test_nothing_in_the_past():
    assert starts(day_slots(trainer(), appt(), MON, now=at(MON, 13, 1))) == hours(14, 16)


def test_booking_window():
    now = at(MON, 10)
    window = local_day_window(MON, MON + timedelta(days=2), LONDON)
    slots = find_slots([trainer()], appt(60, booking_window_days=1), *window, now=now)
    # Nothing starting at or after Tuesday 10:00 (now + 24 h).
    assert [s.start for s in slots] == [at(MON, h) for h in range(10, 17)] + [at(TUE, 9)]


def test_booking_window_zero_days_offers_nothing():
    assert day_slots(trainer(), appt(60, booking_window_days=0), MON, now=at(MON, 6)) == []


def _pt_booking(day: date, hh: int, tz: str = LONDON, type_id: str | None = "pt") -> ExistingBooking:
    return ExistingBooking(at(day, hh, tz=tz), at(day, hh, tz=tz) + timedelta(hours=1), appointment_type_id=type_id)


def test_max_per_day_reached_closes_that_day():
    t = trainer(bookings=(_pt_booking(MON, 10), _pt_booking(MON, 14)))
    assert day_slots(t, appt(60, max_per_day=2), MON) == []
    assert starts(day_slots(t, appt(60, max_per_day=2), TUE)) == hours(9, 16)


def test_max_per_day_not_yet_reached():
    t = trainer(bookings=(_pt_booking(MON, 10), _pt_booking(MON, 14)))
    assert starts(day_slots(t, appt(60, max_per_day=3), MON)) == ["09:00", "11:00", "12:00", "13:00", "15:00", "16:00"]


def test_max_per_day_counts_only_the_same_appointment_type():
    t = trainer(bookings=(_pt_booking(MON, 10, type_id="other"), _pt_booking(MON, 14, type_id=None)))
    assert len(day_slots(t, appt(60, max_per_day=1), MON)) == 6


def test_max_per_day_uses_the_staff_members_local_date():
    # 23:00 on Monday in New York is already Tuesday in UTC: it counts for Monday.
    t = trainer(tz=NEW_YORK, bookings=(_pt_booking(MON, 23, tz=NEW_YORK),))
    spec = appt(60, max_per_day=1)
    assert day_slots(t, spec, MON, tz=NEW_YORK) == []
    assert starts(day_slots(t, spec, TUE, tz=NEW_YORK), NEW_YORK) == hours(9, 16)


def test_only_starts_inside_the_window_and_the_grid_stays_put():
    slots = find_slots([trainer()], appt(), at(MON, 10, 10), at(MON, 11, 30), now=EARLY)
    # 11:00–12:00 ends after the window but starts inside it; 10:10 is not on the grid.
    assert starts(slots) == ["11:00"]


def test_window_end_is_exclusive():
    assert starts(find_slots([trainer()], appt(), at(MON, 10), at(MON, 11), now=EARLY)) == ["10:00"]


# --- rules past midnight ---------------------------------------------------------------------------


def test_rule_running_past_midnight_gives_slots_on_both_sides():
    t = trainer(rules=rules(("22:00", "02:00"), days=(5,)))  # Friday night
    window = local_day_window(FRI, SAT, LONDON)
    slots = find_slots([t], appt(), *window, now=EARLY)
    assert [s.start for s in slots] == [at(FRI, 22), at(FRI, 23), at(SAT, 0), at(SAT, 1)]


def test_end_at_midnight_means_until_midnight():
    t = trainer(rules=rules(("20:00", "00:00")))
    assert starts(day_slots(t, appt(), MON)) == hours(20, 23)


def test_day_off_removes_only_shifts_starting_that_day():
    night = rules(("22:00", "02:00"), days=(5,))
    window = local_day_window(FRI, SAT, LONDON)
    sat_off = trainer(rules=night, overrides=(DateOverride(SAT, "unavailable"),))
    assert [s.start for s in find_slots([sat_off], appt(), *window, now=EARLY)] == [
        at(FRI, 22), at(FRI, 23), at(SAT, 0), at(SAT, 1),
    ]
    fri_off = trainer(rules=night, overrides=(DateOverride(FRI, "unavailable"),))
    assert find_slots([fri_off], appt(), *window, now=EARLY) == []
    fri_holiday = trainer(rules=night, holidays=frozenset({FRI}))
    assert find_slots([fri_holiday], appt(), *window, now=EARLY) == []


def test_partial_block_applies_to_whatever_shift_covers_it():
    t = trainer(rules=rules(("22:00", "02:00"), days=(5,)), overrides=(DateOverride(SAT, "unavailable", time(0), time(1)),))
    window = local_day_window(FRI, SAT, LONDON)
    assert [s.start for s in find_slots([t], appt(), *window, now=EARLY)] == [at(FRI, 22), at(FRI, 23), at(SAT, 1)]


def test_grid_of_a_block_continuing_past_midnight_starts_the_evening_before():
    t = trainer(rules=rules(("20:30", "00:00"), days=(5,)) + rules(("00:00", "03:00"), days=(6,)))
    # Asking about Saturday alone must not restart the grid at midnight.
    assert starts(day_slots(t, appt(), SAT)) == ["00:30", "01:30"]
    both = find_slots([t], appt(), *local_day_window(FRI, SAT, LONDON), now=EARLY)
    assert starts(both) == ["20:30", "21:30", "22:30", "23:30", "00:30", "01:30"]


def test_grid_of_a_block_that_began_days_earlier():
    # Wednesday 20:20 until Friday 06:00 without a break: Friday's grid still counts from 20:20.
    wed, thu = FRI - timedelta(days=2), FRI - timedelta(days=1)
    t = trainer(
        rules=rules(("20:20", "00:00"), days=(3,)) + rules(("00:00", "00:00"), days=(4,)) + rules(("00:00", "06:00"), days=(5,))
    )
    assert starts(day_slots(t, appt(), FRI)) == ["00:20", "01:20", "02:20", "03:20", "04:20"]
    assert starts(day_slots(t, appt(), wed))[0] == "20:20"
    assert len(day_slots(t, appt(), thu)) == 24


def test_grid_of_a_block_cut_by_a_block_from_the_evening_before():
    # Friday 00:00 → Saturday 03:00, but Thursday's 23:00–00:30 block cuts its first half hour.
    t = trainer(
        rules=rules(("00:00", "00:00"), days=(5,)) + rules(("00:00", "03:00"), days=(6,)),
        overrides=(DateOverride(FRI - timedelta(days=1), "unavailable", time(23), time(0, 30)),),
    )
    assert starts(day_slots(t, appt(), SAT)) == ["00:30", "01:30"]


def test_overnight_shift_from_the_day_before_joins_two_blocks_into_one_grid():
    # Wednesday 22:00–10:00 bridges Thursday's 01:00–02:00 and 03:00–03:00 (to Friday 03:00):
    # one block from Wednesday 22:00, so Friday's 45-minute grid is 00:15, 01:00, 01:45.
    t = trainer(
        rules=rules(("22:00", "10:00"), days=(3,)) + rules(("01:00", "02:00"), ("03:00", "03:00"), days=(4,))
    )
    spec = appt(45)
    assert starts(day_slots(t, spec, FRI)) == ["00:15", "01:00", "01:45"]
    wide = find_slots([t], spec, *local_day_window(FRI - timedelta(days=2), FRI, LONDON), now=EARLY)
    assert starts([s for s in wide if s.start >= at(FRI, 0)]) == ["00:15", "01:00", "01:45"]


def test_round_the_clock_schedule_uses_a_fixed_grid_whatever_the_window():
    t = trainer(rules=rules(("00:00", "00:00"), days=range(7)))  # 24 h every day
    spec = appt(45)
    one_day = day_slots(t, spec, MON)
    three_days = find_slots([t], spec, *local_day_window(MON - timedelta(days=1), TUE, LONDON), now=EARLY)
    assert one_day == [s for s in three_days if s.start >= at(MON, 0) and s.start < at(TUE, 0)]
    # The grid is anchored at 2000-01-01 00:00 London (= UTC), where every UTC midnight is a
    # multiple of 45 minutes: Monday 00:00 BST (23:00Z) is not on it, 00:15 BST is.
    assert starts(one_day)[:2] == ["00:15", "01:00"]


# --- round robin ---------------------------------------------------------------------------------------


def test_round_robin_gives_each_start_once_to_the_least_booked():
    a = trainer("a", booking_count=5)
    b = trainer("b", booking_count=2)
    slots = day_slots([a, b], appt(), MON, mode="round_robin")
    assert starts(slots) == hours(9, 16)
    assert {s.staff_id for s in slots} == {"b"}
    assert all(s.staff_ids == ("b",) for s in slots)


def test_round_robin_falls_back_to_the_next_free_trainer():
    a = trainer("a", booking_count=5)
    b = trainer("b", booking_count=2, busy=(BusyInterval(at(MON, 10), at(MON, 11)),))
    slots = day_slots([a, b], appt(), MON, mode="round_robin")
    by_start = dict(zip(starts(slots), (s.staff_id for s in slots)))
    assert len(by_start) == len(slots) == 8
    assert by_start["10:00"] == "a" and by_start["09:00"] == "b" and by_start["11:00"] == "b"


def test_round_robin_tie_goes_to_the_least_recently_booked():
    a = trainer("a", booking_count=3, last_booked_at=at(MON, 8) - timedelta(days=1))
    b = trainer("b", booking_count=3, last_booked_at=at(MON, 8) - timedelta(days=7))
    assert {s.staff_id for s in day_slots([a, b], appt(), MON, mode="round_robin")} == {"b"}
    never = trainer("c", booking_count=3, last_booked_at=None)
    assert {s.staff_id for s in day_slots([a, b, never], appt(), MON, mode="round_robin")} == {"c"}


def test_round_robin_tie_then_name_then_staff_id():
    same = dict(booking_count=1, last_booked_at=EARLY)
    zoe, amy = trainer("z1", name="Zoe", **same), trainer("z2", name="Amy", **same)
    assert {s.staff_name for s in day_slots([zoe, amy], appt(), MON, mode="round_robin")} == {"Amy"}
    twin_b, twin_a = trainer("id-b", name="Sam", **same), trainer("id-a", name="Sam", **same)
    assert {s.staff_id for s in day_slots([twin_b, twin_a], appt(), MON, mode="round_robin")} == {"id-a"}


def test_round_robin_offers_the_union_of_grids():
    a = trainer("a", rules=rules(("09:00", "11:00")), booking_count=0)
    b = trainer("b", rules=rules(("09:30", "11:30")), booking_count=1)
    slots = day_slots([a, b], appt(), MON, mode="round_robin")
    assert [(t, s.staff_id) for t, s in zip(starts(slots), slots)] == [
        ("09:00", "a"), ("09:30", "b"), ("10:00", "a"), ("10:30", "b"),
    ]


# --- collective -----------------------------------------------------------------------------------------


def test_collective_needs_everyone_free():
    lead = trainer("lead")
    other = trainer("other", rules=rules(("12:00", "17:00")), busy=(BusyInterval(at(MON, 14), at(MON, 15)),))
    slots = day_slots([lead, other], appt(), MON, mode="collective")
    assert starts(slots) == ["12:00", "13:00", "15:00", "16:00"]
    assert all(s.staff_id == "lead" and s.staff_name == "LEAD" and s.staff_ids == ("lead", "other") for s in slots)


def test_collective_uses_the_leads_grid():
    lead = trainer("lead")
    other = trainer("other", rules=rules(("09:30", "17:00")))
    assert starts(day_slots([lead, other], appt(), MON, mode="collective")) == hours(10, 16)
    # With the roles swapped the grid is the other one's.
    assert starts(day_slots([other, lead], appt(), MON, mode="collective")) == hours(9, 15, minute=30)


def test_collective_across_zones():
    lead = trainer("lead")
    # 05:00–10:00 in New York (EDT) is 10:00–15:00 in London.
    other = trainer("other", tz=NEW_YORK, rules=rules(("05:00", "10:00")))
    assert starts(day_slots([lead, other], appt(), MON, mode="collective")) == hours(10, 14)


def test_collective_respects_each_members_max_per_day():
    lead = trainer("lead")
    other = trainer("other", bookings=(_pt_booking(MON, 7),))
    assert day_slots([lead, other], appt(60, max_per_day=1), MON, mode="collective") == []


def test_individual_with_several_staff_sorts_by_start_then_name():
    zed, amy = trainer("z", name="Zed"), trainer("a", name="Amy", rules=rules(("10:00", "12:00")))
    slots = day_slots([zed, amy], appt(), MON)
    assert [(t, s.staff_name) for t, s in zip(starts(slots), slots)][:5] == [
        ("09:00", "Zed"), ("10:00", "Amy"), ("10:00", "Zed"), ("11:00", "Amy"), ("11:00", "Zed"),
    ]


def test_no_staff_no_slots():
    assert day_slots([], appt(), MON) == []


# --- validation ---------------------------------------------------------------------------------------


NAIVE = datetime(2025, 6, 2, 9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_start": NAIVE},
        {"window_end": NAIVE + timedelta(days=1)},
        {"now": NAIVE},
    ],
)
def test_naive_datetimes_are_rejected(kwargs):
    args = {"window_start": at(MON, 0), "window_end": at(TUE, 0), "now": EARLY} | kwargs
    with pytest.raises(ValueError, match="timezone-aware"):
        find_slots([trainer()], appt(), args["window_start"], args["window_end"], now=args["now"])


@pytest.mark.parametrize("end_offset", [timedelta(0), timedelta(hours=-1)])
def test_empty_or_reversed_window_is_rejected(end_offset):
    with pytest.raises(ValueError, match="window_end"):
        find_slots([trainer()], appt(), at(MON, 9), at(MON, 9) + end_offset, now=EARLY)


def test_naive_booking_busy_and_last_booked_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        ExistingBooking(NAIVE, at(MON, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        BusyInterval(at(MON, 9), NAIVE)
    with pytest.raises(ValueError, match="timezone-aware"):
        trainer(last_booked_at=NAIVE)


@pytest.mark.parametrize(
    "build",
    [
        lambda: trainer(tz="Mars/Olympus_Mons"),
        lambda: WeeklyRule(7, time(9), time(10)),
        lambda: WeeklyRule(1, time(9, tzinfo=UTC), time(10)),
        lambda: DateOverride(MON, "unavailable", time(9), None),
        lambda: DateOverride(MON, "available"),
        lambda: DateOverride(MON, "unavailable", time(9), time(10), replace=True),
        lambda: DateOverride(MON, "maybe", time(9), time(10)),  # type: ignore[arg-type]
        lambda: AppointmentSpec("x", 0),
        lambda: AppointmentSpec("x", 30, slot_interval_minutes=0),
        lambda: AppointmentSpec("x", 30, buffer_after_minutes=-5),
        lambda: ExistingBooking(at(MON, 10), at(MON, 9)),
        lambda: find_slots([trainer(), trainer()], appt(), at(MON, 0), at(TUE, 0), now=EARLY),
        lambda: find_slots([trainer()], appt(), at(MON, 0), at(TUE, 0), now=EARLY, mode="team"),  # type: ignore[arg-type]
        lambda: local_day_window(TUE, MON, LONDON),
    ],
)
def test_invalid_input_is_rejected(build):
    with pytest.raises(ValueError):
        build()


def test_lists_are_accepted_and_frozen_into_tuples():
    t = StaffSchedule("t", "T", LONDON, rules=list(rules(("09:00", "10:00"))), holidays={MON})  # type: ignore[arg-type]
    assert isinstance(t.rules, tuple) and isinstance(t.holidays, frozenset)
    hash(t)


# --- helpers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "tz", "expected"),
    [
        (MON, MON, LONDON, (datetime(2025, 6, 1, 23, tzinfo=UTC), datetime(2025, 6, 2, 23, tzinfo=UTC))),
        (MON, TUE, "UTC", (datetime(2025, 6, 2, tzinfo=UTC), datetime(2025, 6, 4, tzinfo=UTC))),
        (MON, MON, "Asia/Kathmandu", (datetime(2025, 6, 1, 18, 15, tzinfo=UTC), datetime(2025, 6, 2, 18, 15, tzinfo=UTC))),
        (MON, MON, NEW_YORK, (datetime(2025, 6, 2, 4, tzinfo=UTC), datetime(2025, 6, 3, 4, tzinfo=UTC))),
    ],
)
def test_local_day_window(first, last, tz, expected):
    assert local_day_window(first, last, tz) == expected


def test_days_with_slots_depends_on_the_zone_asked_about():
    t = trainer(rules=rules(("20:00", "22:00")))
    slots = day_slots(t, appt(), MON)
    assert days_with_slots(slots, LONDON) == {MON}
    # 20:00 London is 00:30 the next day in Kolkata.
    assert days_with_slots(slots, "Asia/Kolkata") == {TUE}
    assert days_with_slots([], LONDON) == set()


def test_find_slot_at_agrees_with_the_wide_search():
    t = trainer(busy=(BusyInterval(at(MON, 12), at(MON, 13)),))
    spec = appt(60, slot_interval_minutes=30)
    wide = day_slots(t, spec, MON)
    assert find_slot_at([t], spec, at(MON, 10, 30), now=EARLY) == [s for s in wide if s.start == at(MON, 10, 30)]
    assert find_slot_at([t], spec, at(MON, 12), now=EARLY) == []  # busy
    assert find_slot_at([t], spec, at(MON, 10, 15), now=EARLY) == []  # off the grid
    assert find_slot_at([t], spec, at(MON, 10, 30), now=at(MON, 11)) == []  # in the past


def test_working_time_shows_merged_blocks_clipped_to_the_window():
    t = trainer(
        rules=rules(("09:00", "12:00"), ("12:00", "17:00")),
        overrides=(DateOverride(MON, "unavailable", time(13), time(14)),),
    )
    assert working_time(t, at(MON, 10), at(TUE, 0)) == [(at(MON, 10), at(MON, 13)), (at(MON, 14), at(MON, 17))]
