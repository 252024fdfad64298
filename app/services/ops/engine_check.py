"""The self-test's check of the availability engine: small synthetic schedules whose slots are
written out by hand (including both of London's 2025 DST change days), never computed by the
engine itself."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from datetime import time as wall

from app.integrations.health import DEGRADED, OK, Probe, describe
from app.services.scheduling import engine as availability


@dataclass(frozen=True)
class EngineCase:
    """One synthetic schedule and the slot starts (UTC, "YYYY-MM-DDTHH:MMZ") it must produce."""

    name: str
    timezone: str
    day: date
    rules: tuple[availability.WeeklyRule, ...]
    duration_minutes: int
    expected: tuple[str, ...]
    bookings: tuple[availability.ExistingBooking, ...] = ()
    busy: tuple[availability.BusyInterval, ...] = ()


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# Worked examples from docs/availability.md, written out by hand (not computed by the engine).
ENGINE_CASES: tuple[EngineCase, ...] = (
    EngineCase("Europe/London spring forward (2025-03-30), 00:00-06:00 local, 60 min", "Europe/London",
               date(2025, 3, 30), (availability.WeeklyRule(0, wall(0), wall(6)),), 60,
               ("2025-03-30T00:00Z", "2025-03-30T01:00Z", "2025-03-30T02:00Z", "2025-03-30T03:00Z",
                "2025-03-30T04:00Z")),
    EngineCase("Europe/London fall back (2025-10-26), 00:00-04:00 local, 60 min", "Europe/London",
               date(2025, 10, 26), (availability.WeeklyRule(0, wall(0), wall(4)),), 60,
               ("2025-10-25T23:00Z", "2025-10-26T00:00Z", "2025-10-26T01:00Z", "2025-10-26T02:00Z",
                "2025-10-26T03:00Z")),
    EngineCase("Europe/London summer Monday 09:00-13:00, a booking at 10:00 and busy 12:15-12:45", "Europe/London",
               date(2025, 6, 2), (availability.WeeklyRule(1, wall(9), wall(13)),), 60,
               ("2025-06-02T08:00Z", "2025-06-02T10:00Z"),
               bookings=(availability.ExistingBooking(_utc(2025, 6, 2, 9), _utc(2025, 6, 2, 10)),),
               busy=(availability.BusyInterval(_utc(2025, 6, 2, 11, 15), _utc(2025, 6, 2, 11, 45)),)),
)
# Before every case's day, so no slot is cut by the minimum notice: the answer depends on nothing else.
ENGINE_NOW = _utc(2025, 1, 1)


def check_availability_engine(cases: Sequence[EngineCase] = ENGINE_CASES, *, now: datetime = ENGINE_NOW) -> Probe:
    """Run find_slots on small synthetic schedules (two of them DST change days) and compare the
    starts with the expected ones."""
    results = []
    for case in cases:
        entry: dict = {"name": case.name, "timezone": case.timezone, "date": case.day.isoformat()}
        try:
            schedule = availability.StaffSchedule("self-test", "Self-test trainer", case.timezone, case.rules,
                                                  bookings=case.bookings, busy=case.busy)
            spec = availability.AppointmentSpec("self-test", case.duration_minutes)
            window_start, window_end = availability.local_day_window(case.day, case.day, case.timezone)
            slots = availability.find_slots([schedule], spec, window_start, window_end, now=now)
            got = [slot.start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ") for slot in slots]
        except (ValueError, TypeError) as exc:
            entry.update(ok=False, error=describe(exc), expected=list(case.expected))
        else:
            entry.update(ok=got == list(case.expected), starts=got)
            if not entry["ok"]:
                entry["expected"] = list(case.expected)
        results.append(entry)
    failed = [entry["name"] for entry in results if not entry["ok"]]
    details = {"cases": results, "passed": len(results) - len(failed), "failed": len(failed)}
    if failed:
        return Probe(DEGRADED, f"The availability engine gave wrong slots for: {'; '.join(failed)}.", details)
    return Probe(OK, f"The availability engine gave the expected slots in all {len(results)} cases "
                     "(including both DST change days).", details)
