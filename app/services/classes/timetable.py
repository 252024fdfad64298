"""The timetable: class types, weekly entries (series), the sessions they make, and changes to one
session on its own.

Sessions are real rows, made for every date a series covers over a rolling horizon (HORIZON_WEEKS
ahead; `extend_timetables`, a periodic job, keeps the horizon rolling). A session's start is the
series' local wall time on its date in the organization's time zone, read as the availability engine
reads wall times (scheduling.wall_time.wall_to_us: a time in a spring-forward gap starts at the gap's
end, a repeated hour's first occurrence), so a 07:00 class stays at 07:00 across a change of clocks.

An instructor's time is one time: a session may not overlap the instructor's bookings (with their
buffers), other classes, days or blocks off, or the organization's holidays. Changing one session
checks it and refuses with the clashes listed; a new or edited series lists every clash before
anything is saved (`skip_clashes` saves it without those dates, which are recorded on the series).

Editing a series changes its sessions still to come that nobody has booked; those with people in
them are listed first (`booked="ask"` raises Conflict `sessions_booked` with them) and then either
kept as they are (detached from the series) or changed too, everyone in them told. A session changed
on its own is detached: edits of the series leave it alone.
"""
from __future__ import annotations

import functools
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from app.database import begin_serialized_transaction
from app.extensions import db
from app.models import (
    HOLDING_STATUSES,
    AvailabilityOverride,
    Booking,
    ClassBooking,
    ClassSeries,
    ClassSession,
    ClassType,
    Holiday,
    Organization,
    User,
    holiday_staff,
)
from app.models.classes import LIVE_CLASS_STATUSES
from app.services.bookings import Actor
from app.services.calendar import mark_sessions_changed, write_class_events_soon
from app.services.classes import audit
from app.services.classes.spots import (
    LOCK_TIMEOUT_MS,
    as_uuid,
    in_locked_transaction,
    lock_session,
    promote,
    sealed_manage,
)
from app.services.errors import Conflict, InvalidRequest, NotFound
from app.services.notifications.class_messages import (
    cancel_class_pending,
    schedule_class_message,
    schedule_class_reminders,
)
from app.services.scheduling.wall_time import from_us, wall_to_us

HORIZON_WEEKS = 12
MAX_CAPACITY = 1000
NAME_MAX = 120
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


# --- class types --------------------------------------------------------------------------------------

def class_types(org_id, *, active_only: bool = False) -> list[ClassType]:
    query = select(ClassType).where(ClassType.organization_id == org_id)
    if active_only:
        query = query.where(ClassType.is_active.is_(True))
    return list(db.session.scalars(query.order_by(ClassType.name)))


def get_class_type(org_id, type_id) -> ClassType:
    row = db.session.get(ClassType, as_uuid(type_id, "class_type_id"))
    if row is None or row.organization_id != org_id:
        raise NotFound("That class does not exist.", code="class_type_not_found")
    return row


def save_class_type(org_id, *, actor: Actor, type_id=None, name: str, duration_minutes: int, capacity: int,
                    description: str | None = None, price_pennies: int = 0, color: str = "#2563eb",
                    default_instructor_id=None, location: str | None = None, is_active: bool = True) -> ClassType:
    """Create (no `type_id`) or update a class type; InvalidRequest names every bad field at once.
    Sessions already made keep their own capacity and times (change them from the timetable)."""
    errors: dict[str, str] = {}
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX or any(ord(c) < 32 for c in name):
        errors["name"] = f"required, at most {NAME_MAX} characters"
    if not isinstance(duration_minutes, int) or not 5 <= duration_minutes <= 1440:
        errors["duration_minutes"] = "between 5 and 1440 minutes"
    if not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = f"between 1 and {MAX_CAPACITY}"
    if not isinstance(price_pennies, int) or not 0 <= price_pennies <= 10_000_000:
        errors["price_pennies"] = "a price from 0"
    if not COLOR_RE.match(color or ""):
        errors["color"] = "a colour like #2563eb"
    instructor = None
    if default_instructor_id:
        instructor = _instructor(org_id, default_instructor_id, errors, "default_instructor_id")
    if errors:
        raise InvalidRequest("Please correct the class's details.", fields=errors)
    row = get_class_type(org_id, type_id) if type_id else ClassType(id=uuid.uuid4(), organization_id=org_id)
    before = None if not type_id else {"name": row.name, "capacity": row.capacity,
                                       "duration_minutes": row.duration_minutes}
    row.name, row.description = name, (description or "").strip()[:5000] or None
    row.duration_minutes, row.capacity, row.price_pennies, row.color = duration_minutes, capacity, price_pennies, color
    row.default_instructor_id = instructor.id if instructor else None
    row.location, row.is_active = (location or "").strip()[:200] or None, bool(is_active)
    db.session.add(row)
    audit.record(org_id, actor, "class_type_saved" if type_id else "class_type_created", before=before,
                 after={"name": row.name, "capacity": row.capacity, "duration_minutes": row.duration_minutes})
    db.session.commit()
    return row


# --- reading the timetable ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionRow:
    """A session with what its roster adds up to."""

    session: ClassSession
    waitlist_length: int

    @property
    def spots_left(self) -> int:
        return self.session.spots_left


def sessions_between(org_id, start: datetime, end: datetime, *, class_type_id=None, instructor_id=None,
                     include_cancelled: bool = True) -> list[SessionRow]:
    """The organization's sessions starting in [start, end), in time order, with their waitlist
    lengths (two queries whatever the number)."""
    query = select(ClassSession).where(ClassSession.organization_id == org_id, ClassSession.start_at >= start,
                                       ClassSession.start_at < end)
    if class_type_id:
        query = query.where(ClassSession.class_type_id == as_uuid(class_type_id, "class_type_id"))
    if instructor_id:
        query = query.where(ClassSession.instructor_id == as_uuid(instructor_id, "instructor_id"))
    if not include_cancelled:
        query = query.where(ClassSession.status == "scheduled")
    # The instructor's organization is not wanted here (it would be joined into every row).
    query = query.options(lazyload(ClassSession.instructor, User.organization))
    sessions = list(db.session.scalars(query.order_by(ClassSession.start_at, ClassSession.id)))
    waiting: dict = {}
    if sessions:
        waiting = dict(db.session.execute(
            select(ClassBooking.session_id, func.count()).where(
                ClassBooking.session_id.in_([s.id for s in sessions]), ClassBooking.status == "waitlisted")
            .group_by(ClassBooking.session_id)).all())
    return [SessionRow(s, waiting.get(s.id, 0)) for s in sessions]


def week_stamp(org_id, start: datetime, end: datetime) -> tuple[int, datetime | None]:
    """What changes whenever anything shown of the sessions starting in [start, end) changes: their
    number and their latest update (every change of a session's spots touches its row). One query on
    the (organization, start) index."""
    count, latest = db.session.execute(select(func.count(), func.max(ClassSession.updated_at)).where(
        ClassSession.organization_id == org_id, ClassSession.start_at >= start, ClassSession.start_at < end)).one()
    return count, latest


def get_session(org_id, session_id) -> ClassSession:
    row = db.session.get(ClassSession, as_uuid(session_id, "session_id"))
    if row is None or (org_id is not None and row.organization_id != org_id):
        raise NotFound("That class session does not exist.", code="session_not_found")
    return row


@dataclass(frozen=True)
class Roster:
    session: ClassSession
    booked: list[ClassBooking]      # confirmed, attended, no-show: by name
    waitlisted: list[ClassBooking]  # in order (position = index + 1)
    cancelled: list[ClassBooking]   # most recent first


def roster(org_id, session_id) -> Roster:
    session = get_session(org_id, session_id)
    spots = list(db.session.scalars(select(ClassBooking).where(ClassBooking.session_id == session.id)))
    booked = sorted((s for s in spots if s.status in ("confirmed", "attended", "no_show")),
                    key=lambda s: (s.attendee_name.lower(), s.created_at))
    waiting = sorted((s for s in spots if s.status == "waitlisted"), key=lambda s: s.waitlist_seq)
    cancelled = sorted((s for s in spots if s.status == "cancelled"), key=lambda s: s.cancelled_at or s.created_at,
                       reverse=True)
    return Roster(session, booked, waiting, cancelled)


def series_list(org_id) -> list[ClassSeries]:
    return list(db.session.scalars(select(ClassSeries).where(ClassSeries.organization_id == org_id)
                                   .order_by(ClassSeries.is_active.desc(), ClassSeries.start_time)))


def get_series(org_id, series_id) -> ClassSeries:
    row = db.session.get(ClassSeries, as_uuid(series_id, "series_id"))
    if row is None or row.organization_id != org_id:
        raise NotFound("That timetable entry does not exist.", code="series_not_found")
    return row


# --- clashes with the instructor's other time ---------------------------------------------------------

@dataclass(frozen=True)
class Clash:
    start_at: datetime
    end_at: datetime
    what: str  # "booking", "class", "time off", "holiday"
    label: str

    def as_dict(self) -> dict:
        return {"start": self.start_at.isoformat(), "end": self.end_at.isoformat(), "what": self.what,
                "label": self.label}


def instructor_clashes(instructor: User, intervals: list[tuple[datetime, datetime]], *, org: Organization,
                       exclude_session_ids=()) -> dict[int, list[Clash]]:
    """For each interval (by index), what of the instructor's time it overlaps: bookings that hold
    time (with their buffers), other scheduled classes, time off and holidays. A few queries over the
    whole span, whatever the number of intervals."""
    if not intervals:
        return {}
    lo = min(s for s, _ in intervals) - timedelta(days=2)
    hi = max(e for _, e in intervals) + timedelta(days=2)
    busy: list[Clash] = []
    for b in db.session.scalars(select(Booking).where(
            Booking.staff_id == instructor.id, Booking.status.in_(HOLDING_STATUSES),
            Booking.blocked_end_at > lo, Booking.blocked_start_at < hi)):
        busy.append(Clash(b.blocked_start_at, b.blocked_end_at, "booking", b.title or b.attendee_name))
    query = select(ClassSession).where(ClassSession.instructor_id == instructor.id,
                                       ClassSession.status == "scheduled", ClassSession.end_at > lo,
                                       ClassSession.start_at < hi)
    if exclude_session_ids:
        query = query.where(ClassSession.id.not_in(list(exclude_session_ids)))
    for s in db.session.scalars(query):
        busy.append(Clash(s.start_at, s.end_at, "class", s.class_type.name))
    zone = ZoneInfo(instructor.timezone or org.timezone)
    org_zone = ZoneInfo(org.timezone)
    for o in db.session.scalars(select(AvailabilityOverride).where(
            AvailabilityOverride.user_id == instructor.id, AvailabilityOverride.type == "unavailable",
            AvailabilityOverride.date >= lo.date() - timedelta(days=1), AvailabilityOverride.date <= hi.date())):
        start, end = _day_span(o.date, o.start_time, o.end_time, zone)
        busy.append(Clash(start, end, "time off", o.reason or "Time off"))
    holidays = select(Holiday).where(Holiday.organization_id == org.id,
                                     Holiday.date >= lo.date() - timedelta(days=1), Holiday.date <= hi.date(),
                                     or_(Holiday.affects_all_staff.is_(True), Holiday.id.in_(
                                         select(holiday_staff.c.holiday_id).where(
                                             holiday_staff.c.user_id == instructor.id))))
    for h in db.session.scalars(holidays):
        start, end = _day_span(h.date, None, None, org_zone)
        busy.append(Clash(start, end, "holiday", h.name))
    found: dict[int, list[Clash]] = defaultdict(list)
    for index, (start, end) in enumerate(intervals):
        for clash in busy:
            if clash.start_at < end and start < clash.end_at:
                found[index].append(clash)
    return dict(found)


def _day_span(day: date, start: time | None, end: time | None, zone: ZoneInfo) -> tuple[datetime, datetime]:
    if start is None:
        return from_us(wall_to_us(day, time(0), zone)), from_us(wall_to_us(day + timedelta(days=1), time(0), zone))
    end_day = day + timedelta(days=1) if end <= start else day
    return from_us(wall_to_us(day, start, zone)), from_us(wall_to_us(end_day, end, zone))


def _refuse_clashes(clashes: dict[int, list[Clash]], starts: list[datetime], zone: ZoneInfo) -> None:
    if not clashes:
        return
    listed = []
    for index, items in sorted(clashes.items()):
        for clash in items:
            listed.append({"session_start": starts[index].isoformat(), **clash.as_dict()})
    first = clashes[min(clashes)][0]
    when = starts[min(clashes)].astimezone(zone).strftime("%a %-d %b %H:%M")
    more = f" (and {len(listed) - 1} more)" if len(listed) > 1 else ""
    raise Conflict(f"The instructor is not free on {when}: {first.what} — {first.label}{more}.",
                   code="instructor_busy", clashes=listed)


# --- series -------------------------------------------------------------------------------------------

@dataclass
class SeriesPlan:
    """What saving a series would do: the sessions it makes, and the clashes found."""

    starts: list[datetime] = field(default_factory=list)
    dates: list[date] = field(default_factory=list)
    clashes: dict[int, list[Clash]] = field(default_factory=dict)


def _occurrences(series_weekdays, first: date, last: date | None, start_time: time, duration: int,
                 zone: ZoneInfo, window_from: date, window_to: date) -> tuple[list[date], list[tuple[datetime, datetime]]]:
    days, spans = [], []
    day = max(first, window_from)
    stop = min(last, window_to) if last else window_to
    wanted = set(series_weekdays)
    while day <= stop:
        if (day.isoweekday() % 7) in wanted:  # 0 = Sunday, as availability_rules
            start = from_us(wall_to_us(day, start_time, zone))
            days.append(day)
            spans.append((start, start + timedelta(minutes=duration)))
        day += timedelta(days=1)
    return days, spans


def _check_series_fields(org_id, *, class_type_id, instructor_id, weekdays, start_time, first_date, last_date,
                         capacity) -> tuple[ClassType, User, list[int], time, date, date | None, int | None]:
    errors: dict[str, str] = {}
    ctype = None
    try:
        ctype = get_class_type(org_id, class_type_id)
    except (NotFound, InvalidRequest):
        errors["class_type_id"] = "choose a class"
    instructor = _instructor(org_id, instructor_id, errors, "instructor_id")
    try:
        days = sorted({int(d) for d in (weekdays or [])})
    except (TypeError, ValueError):
        days = []
    if not days or any(not 0 <= d <= 6 for d in days):
        errors["weekdays"] = "choose at least one day"
    if not isinstance(start_time, time):
        errors["start_time"] = "a time like 07:00"
    if not isinstance(first_date, date):
        errors["first_date"] = "a date"
    if last_date is not None and (not isinstance(last_date, date) or
                                  (isinstance(first_date, date) and last_date < first_date)):
        errors["last_date"] = "on or after the first date"
    if capacity is not None and (not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY):
        errors["capacity"] = f"between 1 and {MAX_CAPACITY}"
    if errors:
        raise InvalidRequest("Please correct the timetable entry.", fields=errors)
    return ctype, instructor, days, start_time, first_date, last_date, capacity


def _rolls_back(fn):
    """A timetable change is written whole or not at all: any failure (a clash, a question to ask,
    a lost lock) rolls the transaction back, releasing the locks it took."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise
    return wrapper


@_rolls_back
def create_series(org_id, *, actor: Actor, class_type_id, instructor_id, weekdays, start_time: time,
                  first_date: date, last_date: date | None = None, capacity: int | None = None,
                  skip_clashes: bool = False, now: datetime | None = None) -> ClassSeries:
    """Add a weekly timetable entry and make its sessions over the horizon. Conflict
    `instructor_busy` listing every clash, unless `skip_clashes` (those dates are left out and
    recorded on the series)."""
    now = now or datetime.now(timezone.utc)
    org = db.session.get(Organization, org_id)
    ctype, instructor, days, start_time, first_date, last_date, capacity = _check_series_fields(
        org_id, class_type_id=class_type_id, instructor_id=instructor_id, weekdays=weekdays, start_time=start_time,
        first_date=first_date, last_date=last_date, capacity=capacity)
    series = ClassSeries(id=uuid.uuid4(), organization_id=org_id, class_type_id=ctype.id, instructor_id=instructor.id,
                         weekdays=days, start_time=start_time, first_date=first_date, last_date=last_date,
                         capacity=capacity, skipped=[], is_active=True)
    series.class_type, series.instructor = ctype, instructor
    made = _materialise(series, org, now, refuse=not skip_clashes)
    db.session.add(series)
    audit.record(org_id, actor, "series_created", after={**audit.series_snapshot(series), "sessions": made},
                 series=series)
    db.session.commit()
    write_class_events_soon()
    return series


def _materialise(series: ClassSeries, org: Organization, now: datetime, *, refuse: bool) -> int:
    """Make the series' missing sessions from today to the horizon (in the caller's transaction).
    Clashing dates: Conflict when `refuse`, else left out and recorded in `series.skipped`."""
    zone = ZoneInfo(org.timezone)
    today = now.astimezone(zone).date()
    horizon = today + timedelta(weeks=HORIZON_WEEKS)
    ctype = series.class_type or db.session.get(ClassType, series.class_type_id)
    instructor = series.instructor or db.session.get(User, series.instructor_id)
    days, spans = _occurrences(series.weekdays, series.first_date, series.last_date, series.start_time,
                               ctype.duration_minutes, zone, today, horizon)
    existing = set(db.session.scalars(select(ClassSession.occurrence_date).where(
        ClassSession.series_id == series.id))) if series.id and db.session.get(ClassSeries, series.id) else set()
    todo = [(d, span) for d, span in zip(days, spans) if d not in existing and span[0] > now]
    clashes = instructor_clashes(instructor, [span for _, span in todo], org=org)
    if clashes and refuse:
        _refuse_clashes(clashes, [span[0] for _, span in todo], zone)
    skipped = list(series.skipped or [])
    made = []
    for index, (day, (start, end)) in enumerate(todo):
        if index in clashes:
            entry = {"date": day.isoformat(), "reason": f"{clashes[index][0].what}: {clashes[index][0].label}"}
            if entry not in skipped:
                skipped.append(entry)
            continue
        made.append(ClassSession(
            id=uuid.uuid4(), organization_id=series.organization_id, class_type_id=ctype.id, series_id=series.id,
            instructor_id=instructor.id, occurrence_date=day, start_at=start, end_at=end,
            capacity=series.capacity or ctype.capacity, booked_count=0, waitlist_seq=0, status="scheduled",
            location=ctype.location, detached=False, sequence=0))
        db.session.add(made[-1])
    mark_sessions_changed(made)
    series.skipped = skipped
    series.materialised_until = horizon if series.last_date is None else min(horizon, series.last_date)
    return len(made)


def extend_timetables(now: datetime | None = None) -> int:
    """The periodic job: every active series gets its sessions up to the horizon. A date on which
    the instructor is busy is left out and recorded on the series. Returns how many were made."""
    now = now or datetime.now(timezone.utc)
    made = 0
    ids = db.session.scalars(select(ClassSeries.id).where(ClassSeries.is_active.is_(True))).all()
    for series_id in ids:
        series = db.session.get(ClassSeries, series_id)
        org = db.session.get(Organization, series.organization_id)
        try:
            made += _materialise(series, org, now, refuse=False)
            db.session.commit()
        except IntegrityError:
            # Another pass made the same sessions meanwhile (one per series and date): nothing is lost.
            db.session.rollback()
    write_class_events_soon()
    return made


@_rolls_back
def update_series(org_id, series_id, *, actor: Actor, class_type_id, instructor_id, weekdays, start_time: time,
                  first_date: date, last_date: date | None = None, capacity: int | None = None,
                  booked: str = "ask", skip_clashes: bool = False, now: datetime | None = None) -> ClassSeries:
    """Change a timetable entry. Its sessions still to come that nobody holds a spot in follow the
    change (moved, re-staffed, removed when their date left the entry, new ones made). Sessions with
    people in them: `booked="ask"` raises Conflict `sessions_booked` listing them; `"keep"` leaves
    them as they are (detached from the series); `"change"` changes them too and tells everyone in
    them (a session whose date left the entry is cancelled). Clashes as in create_series."""
    now = now or datetime.now(timezone.utc)
    if booked not in ("ask", "keep", "change"):
        raise InvalidRequest("booked is ask, keep or change.", fields={"booked": "ask, keep or change"})
    org = db.session.get(Organization, org_id)
    series = get_series(org_id, series_id)
    ctype, instructor, days, start_time, first_date, last_date, capacity = _check_series_fields(
        org_id, class_type_id=class_type_id, instructor_id=instructor_id, weekdays=weekdays, start_time=start_time,
        first_date=first_date, last_date=last_date, capacity=capacity)
    before = audit.series_snapshot(series)
    zone = ZoneInfo(org.timezone)
    future = _lock_future_sessions(series.id, now)
    live = _live_counts([s.id for s in future])
    booked_sessions = [s for s in future if live.get(s.id)]
    if booked_sessions and booked == "ask":
        raise Conflict(f"{len(booked_sessions)} of this entry's sessions have people booked. Keep them as they are, "
                       "or change them too (everyone booked is told).", code="sessions_booked",
                       sessions=[{"id": str(s.id), "start": s.start_at.isoformat(), "people": live[s.id]}
                                 for s in booked_sessions])
    new_cap = capacity or ctype.capacity
    # Where each future session would go under the new entry.
    moves: list[tuple[ClassSession, datetime | None]] = []
    for s in future:
        day = s.occurrence_date
        keeps_date = (day.isoweekday() % 7) in days and day >= first_date and (last_date is None or day <= last_date)
        start = from_us(wall_to_us(day, start_time, zone)) if keeps_date else None
        moves.append((s, start))
    # Sessions that will be changed must fit the instructor's time (their own old times aside).
    changing = [(s, start) for s, start in moves if start is not None and (not live.get(s.id) or booked == "change")]
    spans = [(start, start + timedelta(minutes=ctype.duration_minutes)) for _, start in changing]
    clashes = instructor_clashes(instructor, spans, org=org, exclude_session_ids=[s.id for s in future])
    if clashes and not skip_clashes:
        _refuse_clashes(clashes, [s for s, _ in spans], zone)
    for index, (s, start) in enumerate(changing):
        if index in clashes:
            continue  # left as it was; listed below
        _apply(s, start=start, end=start + timedelta(minutes=ctype.duration_minutes), instructor=instructor,
               capacity=max(new_cap, s.booked_count), ctype=ctype, org=org, actor=actor, now=now,
               tell=bool(live.get(s.id)))
    for s, start in moves:
        if start is None:
            if not live.get(s.id):
                _drop_empty(s, now)
            elif booked == "change":
                _cancel_session_rows(s, org, actor, "The class no longer runs on this day.", now)
        if live.get(s.id) and booked == "keep":
            s.detached = True
    series.class_type_id, series.instructor_id, series.weekdays = ctype.id, instructor.id, days
    series.class_type, series.instructor = ctype, instructor
    series.start_time, series.first_date, series.last_date, series.capacity = start_time, first_date, last_date, capacity
    db.session.flush()
    made = _materialise(series, org, now, refuse=False)
    audit.record(org_id, actor, "series_changed", before=before,
                 after={**audit.series_snapshot(series), "sessions_made": made, "booked": booked}, series=series)
    db.session.commit()
    write_class_events_soon()
    return series


@_rolls_back
def end_series(org_id, series_id, *, actor: Actor, booked: str = "ask", now: datetime | None = None) -> ClassSeries:
    """Stop a timetable entry: its sessions still to come with nobody in them go; booked ones are
    listed (`booked="ask"`), kept (`"keep"`) or cancelled with everyone told (`"change"`)."""
    now = now or datetime.now(timezone.utc)
    org = db.session.get(Organization, org_id)
    series = get_series(org_id, series_id)
    future = [s for s in _lock_future_sessions(series.id, now) if s.status == "scheduled"]
    live = _live_counts([s.id for s in future])
    if any(live.values()) and booked == "ask":
        raise Conflict("Some of this entry's sessions have people booked. Keep them, or cancel them too "
                       "(everyone booked is told).", code="sessions_booked",
                       sessions=[{"id": str(s.id), "start": s.start_at.isoformat(), "people": live[s.id]}
                                 for s in future if live.get(s.id)])
    before = audit.series_snapshot(series)
    for s in future:
        if not live.get(s.id):
            _drop_empty(s, now)
        elif booked == "change":
            _cancel_session_rows(s, org, actor, "The class has been taken off the timetable.", now)
        else:
            s.detached = True
    series.is_active = False
    series.last_date = max(series.first_date, now.astimezone(ZoneInfo(org.timezone)).date())
    audit.record(org_id, actor, "series_ended", before=before, after=audit.series_snapshot(series), series=series)
    db.session.commit()
    write_class_events_soon()
    return series


def _lock_future_sessions(series_id, now: datetime) -> list[ClassSession]:
    """The series' sessions still to come that follow it, locked for this transaction as
    lock_session locks one (FOR UPDATE on PostgreSQL, in id order so two editors cannot deadlock;
    the write lock on SQLite): a spot booked meanwhile waits, and no count read here goes stale
    before the commit."""
    db.session.flush()
    begin_serialized_transaction()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
    query = select(ClassSession).where(ClassSession.series_id == series_id, ClassSession.detached.is_(False),
                                       ClassSession.start_at > now).order_by(ClassSession.id)
    return list(db.session.scalars(query.with_for_update(of=ClassSession)
                                   .execution_options(populate_existing=True)))


def _live_counts(session_ids) -> dict:
    if not session_ids:
        return {}
    return dict(db.session.execute(select(ClassBooking.session_id, func.count()).where(
        ClassBooking.session_id.in_(session_ids), ClassBooking.status.in_(LIVE_CLASS_STATUSES))
        .group_by(ClassBooking.session_id)).all())


def _drop_empty(session: ClassSession, now: datetime) -> None:
    """A session nobody is in: deleted when no spot was ever taken (and it has no event in Google to
    take away), else cancelled quietly."""
    has_rows = db.session.scalar(select(func.count()).select_from(ClassBooking).where(
        ClassBooking.session_id == session.id))
    if has_rows or session.external_event_id:
        session.status, session.cancelled_at = "cancelled", now
        mark_sessions_changed([session])
    else:
        db.session.delete(session)


# --- one session on its own ---------------------------------------------------------------------------

def create_session(org_id, *, actor: Actor, class_type_id, instructor_id, day: date, start_time: time,
                   capacity: int | None = None, now: datetime | None = None) -> ClassSession:
    """A one-off session (not part of a weekly entry). Conflict `instructor_busy` with the clashes."""
    now = now or datetime.now(timezone.utc)
    org = db.session.get(Organization, org_id)
    errors: dict[str, str] = {}
    try:
        ctype = get_class_type(org_id, class_type_id)
    except (NotFound, InvalidRequest):
        ctype = None
        errors["class_type_id"] = "choose a class"
    instructor = _instructor(org_id, instructor_id, errors, "instructor_id")
    if capacity is not None and (not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY):
        errors["capacity"] = f"between 1 and {MAX_CAPACITY}"
    if not isinstance(day, date) or not isinstance(start_time, time):
        errors["start"] = "a date and a time"
    if errors:
        raise InvalidRequest("Please correct the session.", fields=errors)
    zone = ZoneInfo(org.timezone)
    start = from_us(wall_to_us(day, start_time, zone))
    if start <= now:
        raise InvalidRequest("That time has passed.", fields={"start": "in the future"})
    end = start + timedelta(minutes=ctype.duration_minutes)
    _refuse_clashes(instructor_clashes(instructor, [(start, end)], org=org), [start], zone)
    session = ClassSession(id=uuid.uuid4(), organization_id=org_id, class_type_id=ctype.id, series_id=None,
                           instructor_id=instructor.id, occurrence_date=day, start_at=start, end_at=end,
                           capacity=capacity or ctype.capacity, booked_count=0, waitlist_seq=0, status="scheduled",
                           location=ctype.location, detached=True, sequence=0)
    db.session.add(session)
    db.session.flush()
    mark_sessions_changed([session])
    audit.record(org_id, actor, "session_created", after=audit.session_snapshot(session), session=session)
    db.session.commit()
    write_class_events_soon()
    return session


def change_session(org_id, session_id, *, actor: Actor, instructor_id=None, day: date | None = None,
                   start_time: time | None = None, capacity: int | None = None, location: str | None = None,
                   now: datetime | None = None) -> ClassSession:
    """Change one session on its own (it leaves its series' edits): substitute the instructor, move
    it, change its capacity or place. A new time or instructor must be free (Conflict
    `instructor_busy`); capacity may not go below the places booked (InvalidRequest); a raised
    capacity promotes from the waitlist at once. Everyone booked or waiting is told of a new time,
    place or instructor."""
    now = now or datetime.now(timezone.utc)
    org = db.session.get(Organization, org_id)
    current = get_session(org_id, session_id)
    if current.status == "cancelled":
        raise Conflict("This session was cancelled.", code="session_cancelled")
    if current.end_at <= now:
        raise Conflict("This session is over.", code="session_over")
    errors: dict[str, str] = {}
    instructor = _instructor(org_id, instructor_id, errors, "instructor_id") if instructor_id else None
    if capacity is not None and (not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY):
        errors["capacity"] = f"between 1 and {MAX_CAPACITY}"
    if errors:
        raise InvalidRequest("Please correct the session.", fields=errors)
    zone = ZoneInfo(org.timezone)
    local = current.start_at.astimezone(zone)
    new_start = current.start_at
    if day is not None or start_time is not None:
        new_start = from_us(wall_to_us(day or local.date(), start_time or local.time().replace(tzinfo=None), zone))
        if new_start != current.start_at and new_start <= now:
            raise InvalidRequest("That time has passed.", fields={"start": "in the future"})
    duration = current.end_at - current.start_at
    who = instructor or current.instructor
    if new_start != current.start_at or who.id != current.instructor_id:
        _refuse_clashes(instructor_clashes(who, [(new_start, new_start + duration)], org=org,
                                           exclude_session_ids=[current.id]), [new_start], zone)

    def work() -> ClassSession:
        session = lock_session(current.id, org_id)
        if capacity is not None and capacity < session.booked_count:
            raise InvalidRequest(f"{session.booked_count} people are booked: the capacity can't go below that.",
                                 fields={"capacity": f"at least {session.booked_count}"})
        _apply(session, start=new_start, end=new_start + duration, instructor=who,
               capacity=capacity if capacity is not None else session.capacity, ctype=session.class_type,
               org=org, actor=actor, now=now, tell=True,
               location=location if location is not None else session.location)
        session.detached = True
        return session

    return in_locked_transaction(work)


def _apply(session: ClassSession, *, start: datetime, end: datetime, instructor: User, capacity: int,
           ctype: ClassType, org: Organization, actor: Actor, now: datetime, tell: bool,
           location: str | None = None) -> None:
    """Set a session's time, instructor, capacity and place (in the caller's transaction); promote
    into new places; tell everyone in it when its time, place or instructor changed."""
    before = audit.session_snapshot(session)
    moved = start != session.start_at
    changed = moved or instructor.id != session.instructor_id or (location or None) != (session.location or None)
    session.start_at, session.end_at, session.instructor_id = start, end, instructor.id
    session.instructor = instructor
    session.capacity, session.class_type_id = capacity, ctype.id
    session.location = (location or "").strip()[:200] or None if location is not None else session.location
    if moved or changed:
        session.sequence = (session.sequence or 0) + 1
    after = audit.session_snapshot(session)
    if before != after:
        audit.record(session.organization_id, actor, "session_changed", before=before, after=after, session=session)
        mark_sessions_changed([session])
    if tell and changed:
        for spot in db.session.scalars(select(ClassBooking).where(
                ClassBooking.session_id == session.id, ClassBooking.status.in_(("confirmed", "waitlisted")))):
            manage = sealed_manage(spot.id)
            schedule_class_message(spot, session, "class_session_changed",
                                   context={**manage, "previous_start_at": before["start_at"],
                                            "previous_instructor_id": before["instructor_id"]}, now=now)
            if moved and spot.status == "confirmed":
                cancel_class_pending(spot.id, "moved: the class has a new time", templates=("class_reminder",), now=now)
                schedule_class_reminders(spot, session, org.reminder_offsets_minutes, sealed=manage, now=now)
    promote(session, org, now)


def cancel_session(org_id, session_id, *, actor: Actor, reason: str | None = None,
                   now: datetime | None = None) -> ClassSession:
    """Cancel one session: everyone booked or waiting loses their spot and is told; its places are
    gone. Conflict when it was cancelled already or is over."""
    now = now or datetime.now(timezone.utc)
    org = db.session.get(Organization, org_id)
    reason = (reason or "").strip()[:500] or None

    def work() -> ClassSession:
        session = lock_session(session_id, org_id)
        if session.status == "cancelled":
            raise Conflict("This session was cancelled already.", code="session_cancelled")
        if session.end_at <= now:
            raise Conflict("This session is over.", code="session_over")
        _cancel_session_rows(session, org, actor, reason, now)
        session.detached = True
        return session

    return in_locked_transaction(work)


def _cancel_session_rows(session: ClassSession, org: Organization, actor: Actor, reason: str | None,
                         now: datetime) -> None:
    before = audit.session_snapshot(session)
    for spot in db.session.scalars(select(ClassBooking).where(
            ClassBooking.session_id == session.id, ClassBooking.status.in_(("confirmed", "waitlisted")))):
        spot_before = audit.spot_snapshot(spot)
        spot.status, spot.waitlist_seq, spot.cancel_kind = "cancelled", None, "session_cancelled"
        spot.cancellation_reason, spot.cancelled_at, spot.updated_at = reason, now, now
        audit.record(session.organization_id, actor, "session_cancelled", before=spot_before,
                     after=audit.spot_snapshot(spot), spot=spot, session=session)
        cancel_class_pending(spot.id, "the class was cancelled", now=now)
        schedule_class_message(spot, session, "class_session_cancelled",
                               context={**sealed_manage(spot.id), "reason": reason or ""}, now=now)
    session.booked_count = 0
    session.status, session.cancellation_reason, session.cancelled_at = "cancelled", reason, now
    session.sequence = (session.sequence or 0) + 1
    mark_sessions_changed([session])
    audit.record(session.organization_id, actor, "session_cancelled", before=before,
                 after=audit.session_snapshot(session), session=session)


# --- helpers ------------------------------------------------------------------------------------------

def _instructor(org_id, user_id, errors: dict, field_name: str) -> User | None:
    try:
        user = db.session.get(User, as_uuid(user_id, field_name))
    except InvalidRequest:
        user = None
    if user is None or user.organization_id != org_id or not user.is_active:
        errors[field_name] = "choose an instructor"
        return None
    return user


def local_week(org: Organization, day: date) -> tuple[datetime, datetime]:
    """The UTC bounds of the local week (Monday to Monday) holding `day`, in the organization's zone."""
    zone = ZoneInfo(org.timezone)
    monday = day - timedelta(days=day.weekday())
    return from_us(wall_to_us(monday, time(0), zone)), from_us(wall_to_us(monday + timedelta(days=7), time(0), zone))

