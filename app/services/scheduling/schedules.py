"""Staff schedules: weekly rules, date overrides and organization holidays, and a preview of the slots
they produce.

Plain functions taking ids and primitives. Each writing function validates, writes and commits in
one transaction (the organization's schedule version is raised by the flush listener in
app/services/scheduling/versions.py, so cached availability answers die with the change), and raises
NotFound for rows of another organization — the same answer as for rows that do not exist.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.database import commit_or_rollback
from app.extensions import db
from app.models import (
    AppointmentType,
    AvailabilityOverride,
    AvailabilityRule,
    Holiday,
    Organization,
    User,
)
from app.services.errors import InvalidRequest
from app.services.scheduling import engine
from app.services.scheduling.loader import appointment_spec, load_schedules
from app.services.scoping import org_row

# 0 = Sunday … 6 = Saturday, as the model and the engine count; shown Monday first.
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
DISPLAY_DAY_ORDER = (1, 2, 3, 4, 5, 6, 0)
OVERRIDE_KINDS = {
    # kind → (model type, needs times, replaces the weekly rules)
    "day_off": ("unavailable", False, False),
    "time_off": ("unavailable", True, False),
    "extra": ("available", True, False),
    "replace": ("available", True, True),
}
PREVIEW_DAYS = 7
REASON_MAX = 200
HOLIDAY_NAME_MAX = 200
_MIDNIGHT = 24 * 60


@dataclass(frozen=True)
class PreviewDay:
    date: date
    slots: tuple[engine.Slot, ...]
    off_reason: str | None = None  # "Holiday: …" / "Day off" when the day has none because of that


@dataclass(frozen=True)
class SlotPreview:
    """The next days' slots of one trainer for one appointment type, as a customer would see them."""

    staff_id: uuid.UUID
    staff_name: str
    staff_active: bool
    appointment_type_id: uuid.UUID
    appointment_type_name: str
    timezone: str
    days: tuple[PreviewDay, ...]

    @property
    def total(self) -> int:
        return sum(len(day.slots) for day in self.days)


# --- lookups ---------------------------------------------------------------------------------------

def get_staff_member(org_id: uuid.UUID, user_id) -> User:
    """The member of staff of this organization with this id, or NotFound."""
    return org_row(User, org_id, user_id, "member of staff")


def get_rule(org_id: uuid.UUID, rule_id) -> AvailabilityRule:
    return org_row(AvailabilityRule, org_id, rule_id, "weekly hours")


def get_override(org_id: uuid.UUID, override_id) -> AvailabilityOverride:
    return org_row(AvailabilityOverride, org_id, override_id, "date change")


def get_holiday(org_id: uuid.UUID, holiday_id) -> Holiday:
    return org_row(Holiday, org_id, holiday_id, "holiday")


def weekly_rules(org_id: uuid.UUID, user_id) -> list[AvailabilityRule]:
    """A trainer's weekly rules, Monday first, then by start time."""
    member = get_staff_member(org_id, user_id)
    rules = db.session.scalars(select(AvailabilityRule).where(AvailabilityRule.user_id == member.id)).all()
    return sorted(rules, key=lambda r: (DISPLAY_DAY_ORDER.index(r.day_of_week), r.start_time))


def upcoming_overrides(org_id: uuid.UUID, user_id, today: date) -> list[AvailabilityOverride]:
    """A trainer's overrides from `today` on, by date and time."""
    member = get_staff_member(org_id, user_id)
    rows = db.session.scalars(
        select(AvailabilityOverride)
        .where(AvailabilityOverride.user_id == member.id, AvailabilityOverride.date >= today)
        .order_by(AvailabilityOverride.date)
    ).all()
    return sorted(rows, key=lambda o: (o.date, o.start_time or time(0)))


def upcoming_holidays(org_id: uuid.UUID, today: date) -> list[Holiday]:
    return list(db.session.scalars(
        select(Holiday).where(Holiday.organization_id == org_id, Holiday.date >= today).order_by(Holiday.date)
    ))


# --- validation ------------------------------------------------------------------------------------

def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _span(start: time, end: time) -> tuple[int, int]:
    """Minutes since midnight; an end of 00:00 means midnight at the end of the day."""
    return _minutes(start), _minutes(end) or _MIDNIGHT


def _check_interval(start: time | None, end: time | None) -> tuple[int, int]:
    fields = {}
    if start is None:
        fields["start_time"] = "required"
    if end is None:
        fields["end_time"] = "required"
    if fields:
        raise InvalidRequest("Give a start and an end time.", fields=fields)
    if start == end:
        # 00:00–00:00 would be the whole day, but a stored interval's ends must differ.
        raise InvalidRequest("The end must be after the start. For the whole day, enter two intervals: "
                             "00:00–12:00 and 12:00–00:00.", fields={"end_time": "must differ from the start"})
    lo, hi = _span(start, end)  # type: ignore[arg-type]
    if hi <= lo:
        raise InvalidRequest("The end must be after the start (use 00:00 for midnight).",
                             fields={"end_time": "must be after the start"})
    return lo, hi


def _check_no_overlap(span: tuple[int, int], others: Iterable[tuple[time, time]], where: str) -> None:
    lo, hi = span
    for other_start, other_end in others:
        o_lo, o_hi = _span(other_start, other_end)
        if lo < o_hi and o_lo < hi:
            label = f"{other_start.strftime('%H:%M')}–{other_end.strftime('%H:%M')}"
            raise InvalidRequest(f"That overlaps {label} {where}.",
                                 fields={"start_time": f"overlaps {label}"})


def _check_day(day_of_week) -> int:
    try:
        day = int(day_of_week)
    except (TypeError, ValueError):
        day = -1
    if not 0 <= day <= 6:
        raise InvalidRequest("Choose a day of the week.", fields={"day_of_week": "choose a day"})
    return day


# --- weekly rules ----------------------------------------------------------------------------------

def add_rule(org_id: uuid.UUID, user_id, day_of_week: int, start_time: time | None,
             end_time: time | None) -> AvailabilityRule:
    """Add a weekly working interval. Promises: end after start, no overlap with the trainer's other
    intervals on that day; written and committed together with the schedule version raise."""
    member = get_staff_member(org_id, user_id)
    day = _check_day(day_of_week)
    span = _check_interval(start_time, end_time)
    _check_no_overlap(span, _day_rules(member.id, day, exclude=None), f"on {DAY_NAMES[day]}")
    rule = AvailabilityRule(organization_id=org_id, user_id=member.id, day_of_week=day, start_time=start_time,
                            end_time=end_time)
    db.session.add(rule)
    commit_or_rollback()
    return rule


def check_rule_update(org_id: uuid.UUID, rule_id, day_of_week: int, start_time: time | None,
                      end_time: time | None) -> tuple[AvailabilityRule, int]:
    """The weekly interval and the day it would move to, after update_rule's checks; nothing changed
    (services.schedule_changes judges a change before it is saved)."""
    rule = org_row(AvailabilityRule, org_id, rule_id, "weekly hours")
    day = _check_day(day_of_week)
    span = _check_interval(start_time, end_time)
    _check_no_overlap(span, _day_rules(rule.user_id, day, exclude=rule.id), f"on {DAY_NAMES[day]}")
    return rule, day


def update_rule(org_id: uuid.UUID, rule_id, day_of_week: int, start_time: time | None,
                end_time: time | None) -> AvailabilityRule:
    """Change a weekly interval in place, with the same checks as add_rule."""
    rule, day = check_rule_update(org_id, rule_id, day_of_week, start_time, end_time)
    rule.day_of_week, rule.start_time, rule.end_time = day, start_time, end_time
    commit_or_rollback()
    return rule


def delete_rule(org_id: uuid.UUID, rule_id) -> uuid.UUID:
    """Remove a weekly interval; returns the trainer's id."""
    return _delete(org_row(AvailabilityRule, org_id, rule_id, "weekly hours"))


def _delete(row):
    """Delete one of a trainer's schedule rows; returns the trainer's id (None for a holiday)."""
    user_id = getattr(row, "user_id", None)
    db.session.delete(row)
    commit_or_rollback()
    return user_id


def _day_rules(user_id: uuid.UUID, day: int, exclude) -> list[tuple[time, time]]:
    query = select(AvailabilityRule.start_time, AvailabilityRule.end_time).where(
        AvailabilityRule.user_id == user_id, AvailabilityRule.day_of_week == day)
    if exclude is not None:
        query = query.where(AvailabilityRule.id != exclude)
    return [(row.start_time, row.end_time) for row in db.session.execute(query)]


# --- date overrides --------------------------------------------------------------------------------

def check_override(org_id: uuid.UUID, user_id, *, day: date | None, kind: str, start_time: time | None = None,
                   end_time: time | None = None, reason: str | None = None,
                   today: date | None = None) -> AvailabilityOverride:
    """The date override add_override would save, checked as it checks it, but not added to the
    session (services.schedule_changes judges a change before it is saved)."""
    member = get_staff_member(org_id, user_id)
    if kind not in OVERRIDE_KINDS:
        raise InvalidRequest("Choose what kind of change this is.", fields={"kind": "choose one"})
    if day is None:
        raise InvalidRequest("Choose a date.", fields={"date": "required"})
    if today is not None and day < today:
        raise InvalidRequest("That date has passed.", fields={"date": "must be today or later"})
    model_type, needs_times, replaces = OVERRIDE_KINDS[kind]
    existing = db.session.scalars(select(AvailabilityOverride).where(
        AvailabilityOverride.user_id == member.id, AvailabilityOverride.date == day)).all()
    if needs_times:
        span = _check_interval(start_time, end_time)
        if model_type == "available":
            _check_no_overlap(span, [(o.start_time, o.end_time) for o in existing
                                     if o.type == "available" and o.start_time is not None], "that day")
    else:
        start_time = end_time = None
        if any(o.type == "unavailable" and o.start_time is None for o in existing):
            raise InvalidRequest("That date is already a day off.", fields={"date": "already a day off"})
    reason = " ".join((reason or "").split())[:REASON_MAX] or None
    return AvailabilityOverride(organization_id=org_id, user_id=member.id, date=day, type=model_type,
                                start_time=start_time, end_time=end_time, replace_rules=replaces, reason=reason)


def add_override(org_id: uuid.UUID, user_id, *, day: date | None, kind: str, start_time: time | None = None,
                 end_time: time | None = None, reason: str | None = None,
                 today: date | None = None) -> AvailabilityOverride:
    """Add a change for one date: a day off, time off, extra hours or replacement hours.

    Promises: a date from today on; times for every kind but a whole day off, end after start; one
    day off per date; extra/replacement hours do not overlap each other on that date.
    """
    override = check_override(org_id, user_id, day=day, kind=kind, start_time=start_time, end_time=end_time,
                              reason=reason, today=today)
    db.session.add(override)
    commit_or_rollback()
    return override


def delete_override(org_id: uuid.UUID, override_id) -> uuid.UUID:
    """Remove a date override; returns the trainer's id."""
    return _delete(org_row(AvailabilityOverride, org_id, override_id, "date change"))


def override_kind(override: AvailabilityOverride) -> str:
    if override.type == "unavailable":
        return "day_off" if override.start_time is None else "time_off"
    return "replace" if override.replace_rules else "extra"


# --- holidays --------------------------------------------------------------------------------------

def check_holiday(org_id: uuid.UUID, *, name: str | None, day: date | None,
                  today: date | None = None) -> tuple[str, date]:
    """The holiday's cleaned name and date after add_holiday's checks; nothing saved."""
    name = " ".join((name or "").split())
    fields = {}
    if not name:
        fields["name"] = "required"
    elif len(name) > HOLIDAY_NAME_MAX:
        fields["name"] = f"at most {HOLIDAY_NAME_MAX} characters"
    if day is None:
        fields["date"] = "required"
    elif today is not None and day < today:
        fields["date"] = "must be today or later"
    if fields:
        raise InvalidRequest("Give the holiday a name and a date from today on.", fields=fields)
    clash = db.session.scalar(select(Holiday.name).where(Holiday.organization_id == org_id, Holiday.date == day))
    if clash:
        raise InvalidRequest(f"{day:%d %b %Y} is already a holiday ({clash}).", fields={"date": "already a holiday"})
    return name, day  # type: ignore[return-value]


def add_holiday(org_id: uuid.UUID, *, name: str | None, day: date | None, today: date | None = None) -> Holiday:
    """An organization-wide day without bookings (one per date)."""
    name, day = check_holiday(org_id, name=name, day=day, today=today)
    holiday = Holiday(organization_id=org_id, name=name, date=day, affects_all_staff=True)
    db.session.add(holiday)
    commit_or_rollback()
    return holiday


def delete_holiday(org_id: uuid.UUID, holiday_id) -> None:
    """Remove an organization holiday."""
    _delete(org_row(Holiday, org_id, holiday_id, "holiday"))


# --- preview ---------------------------------------------------------------------------------------

def preview_slots(org_id: uuid.UUID, user_id, appointment_type_id, *, now: datetime | None = None,
                  days: int = PREVIEW_DAYS) -> SlotPreview:
    """The slots this trainer would offer for this appointment type over the next `days` local dates
    of the organization (today first), computed exactly as the booking pages compute them."""
    now = now or datetime.now(timezone.utc)
    member = get_staff_member(org_id, user_id)
    atype = org_row(AppointmentType, org_id, appointment_type_id, "appointment type")
    org = db.session.get(Organization, org_id)
    tz = org.timezone
    first = now.astimezone(ZoneInfo(tz)).date()
    last = first + timedelta(days=days - 1)
    window_start, window_end = engine.local_day_window(first, last, tz)
    slots: list[engine.Slot] = []
    schedule = None
    if member.active:
        [schedule] = load_schedules([member], window_start, window_end, now=now)
        slots = engine.find_slots([schedule], appointment_spec(atype), window_start, window_end, now=now)
    zone = ZoneInfo(tz)
    by_day: dict[date, list[engine.Slot]] = {}
    for slot in slots:
        by_day.setdefault(slot.start.astimezone(zone).date(), []).append(slot)
    off = _days_off(schedule) if schedule else {}
    result = tuple(
        PreviewDay(date=first + timedelta(days=i), slots=tuple(by_day.get(first + timedelta(days=i), ())),
                   off_reason=off.get(first + timedelta(days=i)))
        for i in range(days)
    )
    return SlotPreview(staff_id=member.id, staff_name=member.name, staff_active=member.active,
                       appointment_type_id=atype.id, appointment_type_name=atype.name, timezone=tz, days=result)


def _days_off(schedule: engine.StaffSchedule) -> dict[date, str]:
    reasons = {day: "Holiday" for day in schedule.holidays}
    for override in schedule.overrides:
        if override.kind == "unavailable" and override.start is None:
            reasons[override.date] = "Day off"
    return reasons


