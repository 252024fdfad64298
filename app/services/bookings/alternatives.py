"""When the time asked for is not free: the nearest times that are."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from app.services.errors import Conflict
from app.services.scheduling import appointment_spec, engine, load_schedules

ALTERNATIVES = 5
ALTERNATIVE_SEARCH_DAYS = 14


class SlotTaken(Conflict):
    """The requested time is not (or no longer) free; `alternatives` are the nearest free slots
    (engine.Slot values: each entry point formats them as it formats any slot)."""

    code = "slot_taken"

    def __init__(self, message: str, *, alternatives: Sequence[engine.Slot] = ()) -> None:
        super().__init__(message)
        self.alternatives = tuple(alternatives)


def slot_taken(message: str, atype, staff, around: datetime, *, now: datetime, mode: str,
               exclude_booking_id: uuid.UUID | None = None) -> SlotTaken:
    """SlotTaken carrying the free times nearest to `around`."""
    return SlotTaken(message, alternatives=find_alternatives(atype, staff, around, now=now, mode=mode,
                                                             exclude_booking_id=exclude_booking_id))


def find_alternatives(atype, staff, around: datetime, *, now: datetime, mode: str,
                      exclude_booking_id: uuid.UUID | None = None, limit: int = ALTERNATIVES) -> list[engine.Slot]:
    """The free slots nearest to `around` (from then on, within two weeks), in time order. `atype`: an
    appointment type, or the AppointmentSpec to search with (a move keeps its booking's length)."""
    window_start = max(around - timedelta(hours=2), now)
    window_end = window_start + timedelta(days=ALTERNATIVE_SEARCH_DAYS)
    schedules = load_schedules(staff, window_start, window_end, now=now, with_fairness=mode == "round_robin",
                               exclude_booking_id=exclude_booking_id)
    spec = atype if isinstance(atype, engine.AppointmentSpec) else appointment_spec(atype)
    slots = engine.find_slots(schedules, spec, window_start, window_end, now=now, mode=mode)
    nearest = sorted(slots, key=lambda s: (abs((s.start - around).total_seconds()), s.start))[:limit]
    return sorted(nearest, key=lambda s: s.start)
