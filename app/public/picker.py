"""The slot picker shared by the booking page and the reschedule page: calendar → day → slot.

Its whole state lives in the query string (type, tz, month, date, slot, staff), so every step is a
real URL that works without JavaScript and can be reloaded or shared; htmx only swaps the part
that changed. The day and month answers are rendered to plain values inside search_slots, so the
availability cache hands back ready-to-template data.
"""
from __future__ import annotations

import calendar
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone

from flask import url_for

from app.public.zones import fmt_time, local
from app.services.dates import supported
from app.services.errors import InvalidRequest
from app.services.scheduling import SlotSearch, engine, reuse, search_slots
from app.services.zones import valid_zone
from app.timeformat import iso_utc

MONTHS_AHEAD = 12  # how far the calendar goes when the appointment type sets no booking window


iso_z = iso_utc


def parse_instant(value: str | None) -> datetime | None:
    """An aware UTC datetime from an ISO string with an offset or Z; None when absent or invalid."""
    if not value or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    try:
        parsed = parsed.astimezone(timezone.utc)
    except OverflowError:
        return None
    return parsed if supported(parsed) else None


def parse_uuid(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except (ValueError, TypeError, AttributeError):
        return None


def _parse_date(value: str | None) -> date | None:
    """A day from the query string; None when absent, malformed or outside the supported range."""
    try:
        day = date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None
    return day if supported(day) else None


def _parse_month(value: str | None) -> date | None:
    """The first of a month from `YYYY-MM`; None when absent, malformed or outside the supported range."""
    return _parse_date(f"{value}-01") if value and len(value) == 7 else None


@dataclass(frozen=True)
class PickerState:
    """What the visitor has chosen so far, read from the query string (bad values are dropped)."""

    tz: str | None = None        # a zone the visitor chose (or their browser reported)
    type_id: str | None = None
    month: date | None = None    # first of a month
    day: date | None = None
    slot: datetime | None = None
    staff: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> PickerState:
        day = _parse_date(args.get("date"))
        slot = parse_instant(args.get("slot")) if day else None
        return cls(
            tz=valid_zone(args.get("tz")),
            type_id=parse_uuid(args.get("type")),
            month=_parse_month(args.get("month")),
            day=day,
            slot=slot,
            staff=parse_uuid(args.get("staff")) if slot else None,
        )


@dataclass(frozen=True)
class SlotRow:
    start: datetime
    end: datetime
    staff_id: str
    staff_name: str
    label: str      # 09:00, in the zone the day was searched in
    end_label: str
    hour: int

    @property
    def value(self) -> str:
        return iso_z(self.start)


@dataclass(frozen=True)
class DaySlots:
    """One local day's offered starts, ready for the template (cached per day, zone and type)."""

    day: date
    timezone: str
    appointment_type_id: str
    show_staff: bool
    slots: tuple[SlotRow, ...]

    def groups(self) -> list[tuple[str, list[SlotRow]]]:
        parts: dict[str, list[SlotRow]] = {}
        for row in self.slots:
            name = "Morning" if row.hour < 12 else "Afternoon" if row.hour < 17 else "Evening"
            parts.setdefault(name, []).append(row)
        return list(parts.items())

    def find(self, start: datetime, staff_id: str | None) -> SlotRow | None:
        for row in self.slots:
            if row.start == start and (staff_id is None or row.staff_id == staff_id):
                return row
        return None


def render_day(search: SlotSearch) -> DaySlots:
    """One day's slots as the page shows them (labels computed once per cached search)."""
    tz = search.timezone
    rows = tuple(
        SlotRow(start=s.start, end=s.end, staff_id=s.staff_id, staff_name=s.staff_name, label=fmt_time(s.start, tz),
                end_label=fmt_time(s.end, tz), hour=local(s.start, tz).hour)
        for s in search.slots
    )
    # Names matter only where the visitor picks the person (an individual link with several staff).
    show_staff = search.link_type == "individual" and len({r.staff_id for r in rows}) > 1
    return DaySlots(day=search.start_date, timezone=tz, appointment_type_id=search.appointment_type_id,
                    show_staff=show_staff, slots=rows)


@dataclass(frozen=True)
class MonthAvailability:
    timezone: str
    appointment_type_id: str
    days: frozenset[date]


def render_month(search: SlotSearch) -> MonthAvailability:
    """The calendar's view of a search: only which local days have a free slot."""
    return MonthAvailability(timezone=search.timezone, appointment_type_id=search.appointment_type_id,
                             days=frozenset(engine.days_with_slots(search.slots, search.timezone)))


def _search(link_slug: str, type_id: str | None, tz: str | None, render, exclude_booking_id=None, **dates):
    """search_slots through the app's cache; an appointment type not offered falls back to the default.

    `exclude_booking_id`: the booking being rescheduled, whose own time counts as free."""
    kwargs = dict(link_slug=link_slug, timezone_name=tz, exclude_booking_id=exclude_booking_id, **dates)
    try:
        search = search_slots(appointment_type_id=type_id, **kwargs)
    except InvalidRequest as exc:
        if not (type_id and "appointment_type_id" in exc.fields):
            raise
        search = search_slots(appointment_type_id=None, **kwargs)
    return reuse(("picker", render.__name__), search, render)


def day_slots(link_slug: str, day: date, *, type_id: str | None, tz: str | None,
              exclude_booking_id=None) -> DaySlots:
    return _search(link_slug, type_id, tz, render_day, exclude_booking_id, date_=day)


def month_availability(link_slug: str, month: date, *, type_id: str | None, tz: str, today: date,
                       exclude_booking_id=None) -> MonthAvailability:
    first = max(month, today)
    last = _month_end(month)
    if last < first:  # a month wholly in the past
        return MonthAvailability(timezone=tz, appointment_type_id=type_id or "", days=frozenset())
    return _search(link_slug, type_id, tz, render_month, exclude_booking_id, start_date=first, end_date=last)


def _month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class CalendarDay:
    date: date
    available: bool
    today: bool
    selected: bool
    past: bool
    later: bool = False  # past the booking window: not open for booking yet


@dataclass(frozen=True)
class CalendarMonth:
    month: date
    weeks: list[list[CalendarDay | None]]
    prev_month: date | None
    next_month: date | None
    # The appointment type's booking window (days ahead) and the last day it reaches today; None: no window.
    window_days: int | None = None
    last_bookable: date | None = None

    @property
    def opens_on(self) -> date | None:
        """For a month wholly past the booking window, the day its first day opens for booking
        (the engine offers a slot from `booking_window_days` before it: scheduling/engine.py)."""
        if self.window_days and self.last_bookable and self.month > self.last_bookable:
            return self.month - timedelta(days=self.window_days)
        return None

    @property
    def window_ends_here(self) -> bool:
        """The booking window ends inside this month: its later days open one a day."""
        return bool(self.window_days and self.last_bookable and self.last_bookable.replace(day=1) == self.month
                    and self.last_bookable < _month_end(self.month))

    @property
    def title(self) -> str:
        return f"{self.month:%B %Y}"

    @property
    def has_free_days(self) -> bool:
        return any(d and d.available for week in self.weeks for d in week)

    def first_free_day(self) -> date | None:
        return next((d.date for week in self.weeks for d in week if d and d.available), None)


def build_calendar(month: date, free: frozenset[date], *, today: date, selected: date | None,
                   window_days: int | None) -> CalendarMonth:
    """A Monday-first month grid; navigation stops at this month and at the end of the booking window."""
    last_bookable = today + timedelta(days=window_days) if window_days else add_months(today, MONTHS_AHEAD)
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        weeks.append([
            CalendarDay(date=d, available=d in free, today=d == today, selected=d == selected, past=d < today,
                        later=bool(window_days) and d > last_bookable)
            if d.month == month.month else None
            for d in week
        ])
    this_month = today.replace(day=1)
    prev_month = add_months(month, -1) if month > this_month else None
    following = add_months(month, 1)
    next_month = following if following <= last_bookable else None
    return CalendarMonth(month=month, weeks=weeks, prev_month=prev_month, next_month=next_month,
                         window_days=window_days or None, last_bookable=last_bookable if window_days else None)


@dataclass
class Picker:
    """Builds the picker's URLs: the current state with some parts changed (None removes a part)."""

    endpoint: str
    view_args: dict
    state: PickerState
    tz: str                      # the zone times are shown in
    month: date                  # the month on show
    extra: dict = field(default_factory=dict)

    def base_url(self) -> str:
        return url_for(self.endpoint, **self.view_args)

    def url(self, **changes) -> str:
        s = self.state
        params = {
            "type": s.type_id,
            "tz": s.tz,
            "month": f"{s.month:%Y-%m}" if s.month else None,
            "date": s.day.isoformat() if s.day else None,
            "slot": iso_z(s.slot) if s.slot else None,
            "staff": s.staff,
        }
        for key, value in changes.items():
            if isinstance(value, date) and not isinstance(value, datetime):
                value = f"{value:%Y-%m}" if key == "month" else value.isoformat()
            elif isinstance(value, datetime):
                value = iso_z(value)
            params[key] = value
        if params.get("date") and params.get("month") == (params["date"] or "")[:7]:
            params["month"] = None  # implied by the date
        return url_for(self.endpoint, **self.view_args, **{k: v for k, v in params.items() if v})

    def day_url(self, day: date) -> str:
        return self.url(date=day, month=None, slot=None, staff=None)

    def month_url(self, month: date) -> str:
        return self.url(month=month)

    def slot_url(self, row: SlotRow) -> str:
        return self.url(date=self.state.day, slot=row.start, staff=row.staff_id)

    def back_to_day_url(self) -> str:
        return self.url(slot=None, staff=None)

    def hidden_fields(self, *skip: str) -> list[tuple[str, str]]:
        """The state as hidden inputs, for GET forms that change one part of it (zone, type)."""
        s = self.state
        values = {"type": s.type_id, "month": f"{s.month:%Y-%m}" if s.month else None,
                  "date": s.day.isoformat() if s.day else None, "slot": iso_z(s.slot) if s.slot else None,
                  "staff": s.staff, "tz": s.tz}
        return [(k, v) for k, v in values.items() if v and k not in skip]

    def with_state(self, **changes) -> Picker:
        return replace(self, state=replace(self.state, **changes))
