"""Benchmark of the pure availability engine (app/services/availability.py).

Run from the repository root:  python benchmarks/bench_availability_engine.py [--runs N]

Builds deterministic synthetic schedules, times find_slots with time.perf_counter after a
warm-up, prints a table and writes benchmarks/results/availability_engine.json. It always exits
0: a missed goal is reported loudly in the table and the JSON, not as a crash.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

from app.services.scheduling.engine import (  # noqa: E402
    AppointmentSpec,
    BusyInterval,
    DateOverride,
    ExistingBooking,
    StaffSchedule,
    WeeklyRule,
    find_slots,
    local_day_window,
)

UTC = timezone.utc
RESULTS = ROOT / "benchmarks" / "results" / "availability_engine.json"
START = date(2025, 3, 1)  # a month with a DST change in it (London: 2025-03-30)
NOW = datetime(2025, 2, 28, 12, tzinfo=UTC)
ZONE = "Europe/London"
# Three working intervals every day of the week.
DAY_SHAPE = ((time(6), time(10)), (time(12), time(14)), (time(16), time(21)))

APPOINTMENT = AppointmentSpec(
    id="pt-60",
    duration_minutes=60,
    buffer_before_minutes=10,
    buffer_after_minutes=5,
    slot_interval_minutes=15,
    min_notice_minutes=120,
    booking_window_days=90,
    max_per_day=9,
)


def _trainer(rng: random.Random, index: int, days: int, overrides: int, bookings: int, busy: int) -> StaffSchedule:
    rules = tuple(WeeklyRule(dow, start, end) for dow in range(7) for start, end in DAY_SHAPE)
    dates = [START + timedelta(days=d) for d in range(days)]
    override_list = []
    for _ in range(overrides):
        day = rng.choice(dates)
        kind = rng.choice(("off", "block", "extra", "replace"))
        if kind == "off":
            override_list.append(DateOverride(day, "unavailable"))
        elif kind == "block":
            override_list.append(DateOverride(day, "unavailable", time(rng.randrange(6, 20)), time(21)))
        elif kind == "extra":
            override_list.append(DateOverride(day, "available", time(21), time(23)))
        else:
            override_list.append(DateOverride(day, "available", time(8), time(18), replace=True))
    base = datetime.combine(START, time(0), tzinfo=UTC)
    span_minutes = days * 24 * 60
    booking_list = []
    for _ in range(bookings):
        start = base + timedelta(minutes=rng.randrange(0, span_minutes, 15))
        booking_list.append(
            ExistingBooking(
                start,
                start + timedelta(minutes=rng.choice((30, 45, 60))),
                buffer_before_minutes=rng.choice((0, 5, 10)),
                buffer_after_minutes=rng.choice((0, 5, 15)),
                appointment_type_id=rng.choice(("pt-60", "intro-30", None)),
            )
        )
    busy_list = []
    for _ in range(busy):
        start = base + timedelta(minutes=rng.randrange(0, span_minutes, 5))
        busy_list.append(BusyInterval(start, start + timedelta(minutes=rng.choice((15, 30, 60, 90)))))
    return StaffSchedule(
        staff_id=f"staff-{index:02d}",
        name=f"Trainer {index:02d}",
        timezone=ZONE,
        rules=rules,
        overrides=tuple(override_list),
        holidays=frozenset({START + timedelta(days=24)}),
        bookings=tuple(booking_list),
        busy=tuple(busy_list),
        booking_count=rng.randrange(0, 50),
        last_booked_at=NOW - timedelta(hours=rng.randrange(1, 500)),
    )


@dataclass(frozen=True)
class Case:
    name: str
    goal_ms: float
    run: Callable[[], int]  # returns the number of slots, so the work cannot be optimised away


def _cases() -> list[Case]:
    rng = random.Random(20250301)
    one = _trainer(rng, 1, days=31, overrides=20, bookings=300, busy=200)
    window_31 = local_day_window(START, START + timedelta(days=30), ZONE)
    # "Similar per-trainer data": the same density per day over the shorter range.
    ten = [_trainer(rng, i, days=14, overrides=9, bookings=135, busy=90) for i in range(10)]
    window_14 = local_day_window(START, START + timedelta(days=13), ZONE)
    return [
        Case(
            "1 trainer, 31 days, individual",
            5.0,
            lambda: len(find_slots([one], APPOINTMENT, *window_31, now=NOW)),
        ),
        Case(
            "10 trainers, 14 days, round robin",
            25.0,
            lambda: len(find_slots(ten, APPOINTMENT, *window_14, now=NOW, mode="round_robin")),
        ),
        Case(
            "3 trainers, 14 days, collective (extra)",
            25.0,
            lambda: len(find_slots(ten[:3], APPOINTMENT, *window_14, now=NOW, mode="collective")),
        ),
    ]


def _measure(case: Case, runs: int, warmup: int) -> dict[str, object]:
    for _ in range(warmup):
        case.run()
    timings = []
    slots = 0
    for _ in range(runs):
        t0 = clock.perf_counter()
        slots = case.run()
        timings.append((clock.perf_counter() - t0) * 1000)
    timings.sort()
    median = statistics.median(timings)
    p95 = timings[min(len(timings) - 1, int(round(0.95 * (len(timings) - 1))))]
    return {
        "case": case.name,
        "runs": runs,
        "slots": slots,
        "median_ms": round(median, 3),
        "p95_ms": round(p95, 3),
        "goal_ms": case.goal_ms,
        "passed": median <= case.goal_ms,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)

    results = [_measure(case, args.runs, args.warmup) for case in _cases()]

    header = f"{'case':<42} {'runs':>5} {'slots':>6} {'median ms':>10} {'p95 ms':>8} {'goal ms':>8}  result"
    print(header)
    print("-" * len(header))
    for r in results:
        verdict = "pass" if r["passed"] else "FAIL (goal missed)"
        print(
            f"{r['case']:<42} {r['runs']:>5} {r['slots']:>6} {r['median_ms']:>10.3f} "
            f"{r['p95_ms']:>8.3f} {r['goal_ms']:>8.1f}  {verdict}"
        )
    missed = [r["case"] for r in results if not r["passed"]]
    if missed:
        print(f"\nGOAL MISSED for: {', '.join(map(str, missed))} (median above goal)")
    else:
        print("\nAll goals met.")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "availability_engine",
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "all_goals_met": not missed,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"Wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
