"""The day and week calendars as plain layout data for a server-rendered CSS grid.

Pure functions: bookings (and class sessions, as ClassEntry) and working blocks in, columns and
positioned events out (grid rows of 15 minutes in the organization's time zone). Nothing here
queries the database.
"""
from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.services.reports import CalendarBooking

SLOT_MINUTES = 15
DEFAULT_FIRST_HOUR = 7
DEFAULT_LAST_HOUR = 20  # the grid runs until this hour (exclusive)


@dataclass(frozen=True)
class ClassEntry:
    """A class session placed like a booking (in its instructor's column), linking to its roster."""

    id: uuid.UUID
    staff_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    name: str
    booked: int
    capacity: int
    waitlist: int
    color: str | None
    status: str = "class"
    is_class: bool = True

    @property
    def attendee_name(self) -> str:
        return f"{self.name} {self.booked}/{self.capacity}"

    @property
    def type_name(self) -> str:
        return f"Class · {self.waitlist} waiting" if self.waitlist else "Class"


def class_entries(rows) -> list[ClassEntry]:
    """Calendar entries of class sessions (timetable SessionRows), cancelled ones left out."""
    return [ClassEntry(id=r.session.id, staff_id=r.session.instructor_id, start_at=r.session.start_at,
                       end_at=r.session.end_at, name=r.session.class_type.name, booked=r.session.booked_count,
                       capacity=r.session.capacity, waitlist=r.waitlist_length, color=r.session.class_type.color)
            for r in rows if r.session.status == "scheduled"]


@dataclass
class Event:
    booking: CalendarBooking | ClassEntry
    row: int            # 1-based grid row of the start
    span: int           # rows covered
    starts: str         # "09:00"
    ends: str
    lane: int = 0
    lanes: int = 1


@dataclass
class Shade:
    row: int
    span: int


@dataclass
class Column:
    key: str
    label: str
    sublabel: str
    day: date
    staff_id: uuid.UUID | None
    is_today: bool
    events: list[Event] = field(default_factory=list)
    working: list[Shade] = field(default_factory=list)


@dataclass
class TimeGrid:
    columns: list[Column]
    first_hour: int
    last_hour: int

    @property
    def rows(self) -> int:
        return (self.last_hour - self.first_hour) * 60 // SLOT_MINUTES

    @property
    def openings(self) -> list[tuple[int, str]]:
        """(grid row, "HH:MM") of every half hour: where a click on empty time opens New booking."""
        per_half = 30 // SLOT_MINUTES
        return [(1 + i * per_half, f"{(self.first_hour * 60 + i * 30) // 60 % 24:02d}:{i * 30 % 60:02d}")
                for i in range((self.last_hour - self.first_hour) * 2)]

    @property
    def hours(self) -> list[tuple[int, str]]:
        """(grid row, "HH:00") of each hour line."""
        per_hour = 60 // SLOT_MINUTES
        return [(1 + i * per_hour, f"{h % 24:02d}:00") for i, h in enumerate(range(self.first_hour, self.last_hour))]


@dataclass
class MatrixCell:
    day: date
    is_today: bool
    bookings: list[tuple[str, CalendarBooking]]  # ("09:00", booking)
    hours: list[str]                             # working time as "09:00–17:00"


@dataclass
class MatrixRow:
    staff_id: uuid.UUID
    name: str
    cells: list[MatrixCell]

    @property
    def total(self) -> int:
        """One-to-one bookings only: classes are counted in the toolbar."""
        return sum(1 for c in self.cells for _, b in c.bookings if not getattr(b, "is_class", False))


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())  # Monday


def _minutes_into(day: date, instant: datetime, zone: ZoneInfo) -> int:
    local = instant.astimezone(zone)
    delta = (local.date() - day).days
    return delta * 1440 + local.hour * 60 + local.minute


def time_grid(columns: list[Column], bookings: list[CalendarBooking],
              working: dict[uuid.UUID, list[tuple[datetime, datetime]]], tz: str) -> TimeGrid:
    """Place bookings and working time in `columns` (a column is a day, or a trainer on a day).

    The grid spans 07:00–20:00, widened to the whole hours that any booking or working block needs.
    """
    zone = ZoneInfo(tz)
    by_key: dict[tuple[date, uuid.UUID | None], Column] = {(c.day, c.staff_id): c for c in columns}
    per_staff = any(c.staff_id is not None for c in columns)
    placed: list[tuple[Column, int, int, CalendarBooking | None]] = []  # (column, start min, end min, booking)

    def spans(start_at: datetime, end_at: datetime):
        """(local day, start minute, end minute) pieces of an interval, split at local midnight."""
        day = start_at.astimezone(zone).date()
        while True:
            lo = max(0, _minutes_into(day, start_at, zone))
            hi = min(1440, _minutes_into(day, end_at, zone))
            if hi > lo:
                yield day, lo, hi
            day += timedelta(days=1)
            if _minutes_into(day, end_at, zone) <= 0:
                return

    for booking in bookings:
        for day, lo, hi in spans(booking.start_at, booking.end_at):
            column = by_key.get((day, booking.staff_id if per_staff else None))
            if column is not None:
                placed.append((column, lo, hi, booking))
    for staff_id, blocks in working.items():
        for start_at, end_at in blocks:
            for day, lo, hi in spans(start_at, end_at):
                column = by_key.get((day, staff_id if per_staff else None))
                if column is not None:
                    placed.append((column, lo, hi, None))

    first = min([DEFAULT_FIRST_HOUR, *(lo // 60 for _, lo, _, _ in placed)])
    last = max([DEFAULT_LAST_HOUR, *(math.ceil(hi / 60) for _, _, hi, _ in placed)])
    origin = first * 60
    for column, lo, hi, booking in placed:
        row = (lo - origin) // SLOT_MINUTES + 1
        span = max(1, math.ceil((hi - origin) / SLOT_MINUTES) + 1 - row)
        if booking is None:
            column.working.append(Shade(row=row, span=span))
        else:
            column.events.append(Event(booking=booking, row=row, span=span,
                                       starts=booking.start_at.astimezone(zone).strftime("%H:%M"),
                                       ends=booking.end_at.astimezone(zone).strftime("%H:%M")))
    for column in columns:
        _assign_lanes(column.events)
    return TimeGrid(columns=columns, first_hour=first, last_hour=last)


def _assign_lanes(events: list[Event]) -> None:
    """Side by side where bookings overlap (a no-show and the booking that took its time, say)."""
    events.sort(key=lambda e: (e.row, -e.span))
    cluster: list[Event] = []
    cluster_end = 0
    for event in events:
        if cluster and event.row >= cluster_end:
            _close(cluster)
            cluster = []
        lane_ends: dict[int, int] = {}
        for other in cluster:
            lane_ends[other.lane] = max(lane_ends.get(other.lane, 0), other.row + other.span)
        event.lane = next((lane for lane in range(len(cluster) + 1) if lane_ends.get(lane, 0) <= event.row), 0)
        cluster.append(event)
        cluster_end = max(cluster_end, event.row + event.span)
    _close(cluster)


def _close(cluster: list[Event]) -> None:
    lanes = max((e.lane for e in cluster), default=0) + 1
    for event in cluster:
        event.lanes = lanes


def day_columns(days: list[date], today: date) -> list[Column]:
    return [Column(key=d.isoformat(), label=d.strftime("%a"), sublabel=d.strftime("%d %b"), day=d, staff_id=None,
                   is_today=d == today) for d in days]


def staff_columns(day: date, staff: list, today: date) -> list[Column]:
    return [Column(key=str(m.id), label=m.name, sublabel="", day=day, staff_id=m.id, is_today=day == today)
            for m in staff]


def team_matrix(staff: list, days: list[date], bookings: list[CalendarBooking],
                working: dict[uuid.UUID, list[tuple[datetime, datetime]]], tz: str, today: date) -> list[MatrixRow]:
    """The team's week: one row per trainer, one cell per day with its bookings and classes (in time
    order, whichever list they came from) and working hours."""
    zone = ZoneInfo(tz)
    booked: dict[tuple[uuid.UUID, date], list[tuple[str, CalendarBooking]]] = defaultdict(list)
    for booking in bookings:
        local = booking.start_at.astimezone(zone)
        booked[(booking.staff_id, local.date())].append((local.strftime("%H:%M"), booking))
    hours: dict[tuple[uuid.UUID, date], list[str]] = defaultdict(list)
    for staff_id, blocks in working.items():
        for start_at, end_at in blocks:
            lo, hi = start_at.astimezone(zone), end_at.astimezone(zone)
            end = "24:00" if hi.date() > lo.date() and hi.hour == 0 and hi.minute == 0 else hi.strftime("%H:%M")
            hours[(staff_id, lo.date())].append(f"{lo:%H:%M}–{end}")
    return [
        MatrixRow(staff_id=m.id, name=m.name, cells=[
            MatrixCell(day=d, is_today=d == today, bookings=sorted(booked.get((m.id, d), []), key=lambda pair: pair[0]), hours=hours.get((m.id, d), []))
            for d in days
        ])
        for m in staff
    ]
