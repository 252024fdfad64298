"""The availability engine's inputs and outputs: plain frozen values, checked when they are made.

Instants are timezone-aware; working hours are wall-clock times in the staff member's own zone;
time zones are IANA names. A value that breaks these rules raises ValueError at once, so the engine
never meets a half-valid schedule.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Mode = Literal["individual", "round_robin", "collective"]
OverrideKind = Literal["unavailable", "available"]

UTC = timezone.utc


def zone_info(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


def require_wall_time(name: str, value: time | None) -> time | None:
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
        object.__setattr__(self, "start", require_wall_time("start", self.start))
        object.__setattr__(self, "end", require_wall_time("end", self.end))


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
        object.__setattr__(self, "start", require_wall_time("start", self.start))
        object.__setattr__(self, "end", require_wall_time("end", self.end))


@dataclass(frozen=True, slots=True)
class BusyInterval:
    """Time the staff member is busy elsewhere (e.g. external calendar free/busy), half-open."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        require_aware("start", self.start)
        require_aware("end", self.end)
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
        require_aware("start", self.start)
        require_aware("end", self.end)
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
            require_aware("last_booked_at", self.last_booked_at)
        zone_info(self.timezone)


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


