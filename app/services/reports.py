"""What the dashboard shows about bookings: the filtered list, calendar rows, a booking's audit trail,
bookings per day and each trainer's utilisation; and about classes: fill rate, waitlist promotions,
late cancellations and no-shows by class type and instructor.

Read-only functions taking ids and primitives. Each costs a fixed number of queries whatever the
number of bookings it returns (the calendar and the charts read only the columns they show).

A collective booking is one row per trainer, sharing a group id (the lead's row carries the manage
token). Where bookings are listed or counted for the organization it is one booking: the list shows
and counts the lead's row, naming every trainer, and bookings per day count it once. Where the view is
one trainer's (a trainer's list or chart, the calendar's columns, utilisation) each trainer's own row
counts: the session is in each of their days and takes each of their hours.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select

from app.extensions import db
from app.models import AppointmentType, Booking, BookingAudit, ClassBooking, ClassSession, ClassType, User
from app.models.bookings import BOOKING_STATUSES
from app.models.classes import PLACE_HOLDING_STATUSES
from app.services.dates import check_date
from app.services.errors import InvalidRequest
from app.services.scheduling import appointment_spec, engine, link_staff, load_schedules
from app.services.scoping import org_row

# Statuses that mean the time was (or is) booked; cancelled bookings free their time.
BOOKED_STATUSES = ("pending", "confirmed", "completed", "no_show")
PER_PAGE = 50
EXPORT_MAX = 20_000  # bookings in one CSV download
MAX_RANGE_DAYS = 366


# --- the booking list ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BookingFilter:
    status: str | None = None
    staff_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    when: str = "upcoming"  # upcoming | past | all (explicit dates take precedence)


@dataclass(frozen=True)
class BookingPage:
    bookings: list[Booking]
    total: int
    page: int
    per_page: int
    # The trainers of each collective booking on the page (lead first, then by name), by group id.
    groups: dict[uuid.UUID, list[User]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def staff_of(self, booking: Booking) -> list[User]:
        """Everyone the booking is with: all the trainers of a collective booking, else its trainer."""
        return self.groups.get(booking.group_id) or [booking.staff]


def one_row_per_booking():
    """The condition keeping one row of each collective booking (the lead's, which carries the
    manage token): an organization-wide list or count sees the booking once, not once per trainer."""
    return or_(Booking.group_id.is_(None), Booking.manage_token_hash.is_not(None))


def list_bookings(org_id: uuid.UUID, tz: str, filters: BookingFilter, *, page: int = 1, per_page: int = PER_PAGE,
                  now: datetime | None = None) -> BookingPage:
    """The organization's bookings matching `filters` (dates are local to `tz`), one page of them.

    A date alone is open-ended: `date_from` lists from that date on, `date_to` until it (inclusive);
    both make a range of at most a year. A collective booking is listed and counted once, with all
    its trainers (BookingPage.staff_of); filtered by trainer, that trainer's own row is listed.
    Two queries (the page, with trainer and type; the count), three when the page holds a
    collective booking (its trainers)."""
    now = now or datetime.now(timezone.utc)
    conditions = [Booking.organization_id == org_id]
    if filters.status:
        if filters.status not in BOOKING_STATUSES:
            raise InvalidRequest("Unknown status.", fields={"status": "unknown status"})
        conditions.append(Booking.status == filters.status)
    if filters.staff_id:
        conditions.append(Booking.staff_id == filters.staff_id)
    else:
        conditions.append(one_row_per_booking())
    if filters.q:
        needle = filters.q.strip().lower()[:100]
        conditions.append(or_(func.lower(Booking.attendee_name).contains(needle, autoescape=True),
                              func.lower(Booking.attendee_email).contains(needle, autoescape=True)))
    descending = False
    if filters.date_from or filters.date_to:
        first, last = filters.date_from, filters.date_to
        if first is not None:
            check_date(first, "date_from")
        if last is not None:
            check_date(last, "date_to")
        if first is not None and last is not None:
            if last < first:
                raise InvalidRequest("The end date is before the start date.", fields={"date_to": "before the start"})
            if (last - first).days > MAX_RANGE_DAYS:
                raise InvalidRequest("Choose at most a year.", fields={"date_to": "at most a year after the start"})
        # One date alone is open-ended ("from 8 January"): the list is paged, so no range to cap.
        if first is not None:
            conditions.append(Booking.start_at >= engine.local_day_window(first, first, tz)[0])
        if last is not None:
            conditions.append(Booking.start_at < engine.local_day_window(last, last, tz)[1])
    elif filters.when == "upcoming":
        conditions.append(Booking.end_at >= now)
    elif filters.when == "past":
        conditions.append(Booking.end_at < now)
        descending = True
    order = (Booking.start_at.desc(),) if descending else (Booking.start_at,)
    page = max(1, page)
    rows = list(db.session.scalars(
        select(Booking).where(*conditions).order_by(*order, Booking.id).limit(per_page).offset((page - 1) * per_page)
    ).unique())
    total = db.session.scalar(select(func.count()).select_from(Booking).where(*conditions)) or 0
    return BookingPage(bookings=rows, total=total, page=page, per_page=per_page, groups=_group_staff(rows))


def export_bookings(org_id: uuid.UUID, tz: str, filters: BookingFilter, *, now: datetime | None = None,
                    limit: int = EXPORT_MAX) -> BookingPage:
    """Every booking list_bookings lists for `filters`, in the same order, as one page of at most
    `limit` (the CSV download of the list as on screen)."""
    return list_bookings(org_id, tz, filters, page=1, per_page=limit, now=now)


def _group_staff(rows: Sequence[Booking]) -> dict[uuid.UUID, list[User]]:
    """The trainers of the collective bookings among `rows`, lead first then by name: one query."""
    group_ids = {row.group_id for row in rows if row.group_id is not None}
    groups: dict[uuid.UUID, list[User]] = {}
    if group_ids:
        for group_id, member in db.session.execute(
            select(Booking.group_id, User).join(User, User.id == Booking.staff_id)
            .where(Booking.group_id.in_(group_ids))
            .order_by(Booking.group_id, Booking.manage_token_hash.is_(None), User.name, User.id)
        ):
            groups.setdefault(group_id, []).append(member)
    return groups


# --- one booking -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditLine:
    at: datetime
    action: str
    actor: str
    changes: list[tuple[str, str | None, str | None]]
    ip_address: str | None


AUDITED_FIELDS = {"status": "Status", "start_at": "Start", "end_at": "End", "staff_id": "Trainer",
                  "appointment_type_id": "Type", "attendee_name": "Name", "attendee_email": "Email",
                  "attendee_phone": "Phone", "cancellation_reason": "Reason"}


def get_booking(org_id: uuid.UUID, booking_id) -> Booking:
    """One of the organization's bookings, or NotFound."""
    return org_row(Booking, org_id, booking_id, "booking")


def audit_trail(booking: Booking, tz: str) -> list[AuditLine]:
    """The booking's audit rows, oldest first, with people's names and readable before → after values.
    Two queries (the rows; the names of the staff they mention)."""
    entries = list(db.session.scalars(
        select(BookingAudit).where(BookingAudit.booking_id == booking.id).order_by(BookingAudit.created_at)
    ))
    mentioned = set()
    for entry in entries:
        if entry.actor_type == "staff" and entry.actor_id:
            mentioned.add(entry.actor_id)
        for snap in (entry.before or {}, entry.after or {}):
            if snap.get("staff_id"):
                mentioned.add(snap["staff_id"])
    names = _staff_names(booking.organization_id, mentioned)
    type_names = {}
    zone = ZoneInfo(tz)

    def show(field: str, value):
        if value in (None, ""):
            return None
        if field in ("start_at", "end_at"):
            try:
                return datetime.fromisoformat(value).astimezone(zone).strftime("%a %d %b %Y, %H:%M")
            except (TypeError, ValueError):
                return str(value)
        if field == "staff_id":
            return names.get(value, "another member of staff")
        if field == "appointment_type_id":
            return type_names.get(value, booking.appointment_type.name if booking.appointment_type else value)
        if field == "status":
            return str(value).replace("_", "-")
        return str(value)

    lines = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        changes = []
        for field, label in AUDITED_FIELDS.items():
            old, new = before.get(field), after.get(field)
            if entry.action == "created":
                if field in ("status", "start_at", "staff_id") and new:
                    changes.append((label, None, show(field, new)))
            elif old != new:
                changes.append((label, show(field, old), show(field, new)))
        # What staff chose when they made it (app/services/bookings/create.py).
        if after.get("outside_hours"):
            changes.append(("Outside working hours", None, "yes (staff override)"))
        if after.get("client_notified") is False:
            changes.append(("Client notified", None, "no"))
        if entry.actor_type == "staff":
            actor = names.get(entry.actor_id or "", "Staff")
        else:
            actor = {"attendee": "Customer", "ai": "AI assistant", "calendar": "Calendar sync",
                     "system": "System"}.get(entry.actor_type, entry.actor_type)
        lines.append(AuditLine(at=entry.created_at, action=entry.action.replace("_", "-"), actor=actor,
                               changes=changes, ip_address=entry.ip_address))
    return lines


def _staff_names(org_id: uuid.UUID, ids: set[str]) -> dict[str, str]:
    keys = []
    for value in ids:
        try:
            keys.append(uuid.UUID(value))
        except ValueError:
            continue
    if not keys:
        return {}
    rows = db.session.execute(select(User.id, User.name).where(User.id.in_(keys), User.organization_id == org_id))
    return {str(row.id): row.name for row in rows}


# --- calendar --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CalendarBooking:
    id: uuid.UUID
    staff_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    status: str
    attendee_name: str
    type_name: str | None
    color: str | None
    group_id: uuid.UUID | None = None  # a collective booking's: one row per trainer
    is_lead: bool = True               # the row of a collective booking that carries its manage link
    staff_ids: tuple[uuid.UUID, ...] = ()  # agenda(): everyone it is with


def calendar_bookings(org_id: uuid.UUID, window_start: datetime, window_end: datetime,
                      staff_ids: Sequence[uuid.UUID] | None = None) -> list[CalendarBooking]:
    """Bookings (not cancelled) overlapping [window_start, window_end), by start: one query, only the
    columns a calendar shows. Bounded on the (organization_id, start_at) index; a booking is at most
    a day long, so one starting a day before the window is the earliest that can reach into it."""
    conditions = [Booking.organization_id == org_id, Booking.status != "cancelled",
                  Booking.start_at >= window_start - timedelta(days=1), Booking.start_at < window_end,
                  Booking.end_at > window_start]
    if staff_ids is not None:
        conditions.append(Booking.staff_id.in_(list(staff_ids)))
    rows = db.session.execute(
        select(Booking.id, Booking.staff_id, Booking.start_at, Booking.end_at, Booking.status, Booking.attendee_name,
               AppointmentType.name, AppointmentType.color, Booking.group_id, Booking.manage_token_hash.is_not(None))
        .outerjoin(AppointmentType, AppointmentType.id == Booking.appointment_type_id)
        .where(*conditions).order_by(Booking.start_at)
    )
    return [CalendarBooking(*row[:-1], is_lead=bool(row[-1])) for row in rows]


def agenda(org_id: uuid.UUID, window_start: datetime, window_end: datetime,
           staff_ids: Sequence[uuid.UUID] | None = None) -> list[CalendarBooking]:
    """calendar_bookings() as a list of bookings rather than of trainers' time: a collective booking
    once (its lead's row when it is among them), with everyone it is with in `staff_ids`."""
    rows = calendar_bookings(org_id, window_start, window_end, staff_ids)
    groups: dict[uuid.UUID, list[CalendarBooking]] = defaultdict(list)
    for row in rows:
        groups[row.group_id or row.id].append(row)
    result = []
    for row in rows:
        group = sorted(groups[row.group_id or row.id], key=lambda r: (not r.is_lead, str(r.staff_id)))
        if row is group[0]:  # one row per booking: the lead's, or the first of its rows there is
            result.append(replace(row, staff_ids=tuple(r.staff_id for r in group)))
    return result


def count_bookings(rows: Sequence[CalendarBooking]) -> int:
    """How many bookings calendar rows hold: a collective booking (a row per trainer) is one."""
    return len({row.group_id or row.id for row in rows})


def working_blocks(staff: Sequence[User], window_start: datetime, window_end: datetime, *,
                   now: datetime) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
    """Each trainer's working time (weekly rules, overrides, holidays) within the window, from the
    availability engine's working_time(). A fixed number of queries for any number of trainers."""
    if not staff:
        return {}
    schedules = load_schedules(list(staff), window_start, window_end, now=now)
    return {uuid.UUID(s.staff_id): engine.working_time(s, window_start, window_end) for s in schedules}


# --- charts ----------------------------------------------------------------------------------------

def bookings_per_day(org_id: uuid.UUID, first_day: date, days: int, tz: str, *,
                     staff_id: uuid.UUID | None = None) -> list[tuple[date, int]]:
    """Bookings (not cancelled) starting on each local date first_day … first_day + days − 1: a
    collective booking once, or, for one trainer (`staff_id`), each of their own bookings."""
    start, end = engine.local_day_window(first_day, first_day + timedelta(days=days - 1), tz)
    conditions = [Booking.organization_id == org_id, Booking.status.in_(BOOKED_STATUSES),
                  Booking.start_at >= start, Booking.start_at < end]
    if staff_id is not None:
        conditions.append(Booking.staff_id == staff_id)
    else:
        conditions.append(one_row_per_booking())
    zone = ZoneInfo(tz)
    counts: dict[date, int] = defaultdict(int)
    for (start_at,) in db.session.execute(select(Booking.start_at).where(*conditions)):
        counts[start_at.astimezone(zone).date()] += 1
    return [(first_day + timedelta(days=i), counts.get(first_day + timedelta(days=i), 0)) for i in range(days)]


@dataclass(frozen=True)
class Utilisation:
    staff_id: uuid.UUID
    name: str
    booked_minutes: int
    available_minutes: int

    @property
    def ratio(self) -> float | None:
        return self.booked_minutes / self.available_minutes if self.available_minutes else None

    @property
    def percent(self) -> int | None:
        return None if self.ratio is None else round(self.ratio * 100)


def utilisation(org_id: uuid.UUID, first_day: date, days: int, tz: str, *, now: datetime,
                staff_ids: Sequence[uuid.UUID] | None = None) -> list[Utilisation]:
    """Per active trainer: hours booked ÷ hours available (working_time()) over the local dates
    first_day … first_day + days − 1. Bookings are clipped to the period; a collective booking is
    booked time for each of its trainers."""
    start, end = engine.local_day_window(first_day, first_day + timedelta(days=days - 1), tz)
    query = select(User).where(User.organization_id == org_id, User.active.is_(True)).order_by(User.name)
    if staff_ids is not None:
        query = query.where(User.id.in_(list(staff_ids)))
    staff = list(db.session.scalars(query))
    blocks = working_blocks(staff, start, end, now=now)
    booked: dict[uuid.UUID, float] = defaultdict(float)
    if staff:
        for staff_id, b_start, b_end in db.session.execute(
            select(Booking.staff_id, Booking.start_at, Booking.end_at).where(
                Booking.organization_id == org_id, Booking.staff_id.in_([m.id for m in staff]),
                Booking.status.in_(BOOKED_STATUSES), Booking.start_at >= start - timedelta(days=1),
                Booking.start_at < end, Booking.end_at > start)
        ):
            booked[staff_id] += (min(b_end, end) - max(b_start, start)).total_seconds() / 60
    result = []
    for member in staff:
        available = sum((b - a).total_seconds() / 60 for a, b in blocks.get(member.id, ()))
        if available == 0 and booked.get(member.id, 0) == 0 and member.role != "staff":
            continue  # owners and admins who do not train
        result.append(Utilisation(staff_id=member.id, name=member.name, booked_minutes=round(booked.get(member.id, 0)),
                                  available_minutes=round(available)))
    return result


# --- rescheduling ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RescheduleOptions:
    """The free starts on one local date for a booking, for one trainer of the booking's pool."""

    pool: list[User]
    staff: User
    slots: list[engine.Slot]
    collective: bool


def reschedule_options(org_id: uuid.UUID, booking_id, day: date, tz: str, *, staff_id=None,
                       now: datetime) -> RescheduleOptions:
    """The starts reschedule_booking() would accept on `day` (local to `tz`): the booking's own time
    counts as free. The pool is the active staff of the booking's link (its trainer when it has none);
    a collective booking keeps its people and only changes time."""
    booking = get_booking(org_id, booking_id)
    atype = booking.appointment_type
    if atype is None:
        raise InvalidRequest("This booking's service no longer exists, so no new times can be offered.")
    window_start, window_end = engine.local_day_window(day, day, tz)
    if booking.group_id is not None:
        members = list(db.session.scalars(
            select(User).join(Booking, Booking.staff_id == User.id).where(Booking.group_id == booking.group_id)
            .order_by(Booking.manage_token_hash.is_(None), User.name)))
        schedules = load_schedules(members, window_start, window_end, now=now)
        own = {(str(booking.staff_id), booking.start_at, booking.end_at)}
        own |= {(str(m.id), booking.start_at, booking.end_at) for m in members}
        schedules = [engine.StaffSchedule(
            staff_id=s.staff_id, name=s.name, timezone=s.timezone, rules=s.rules, overrides=s.overrides,
            holidays=s.holidays, busy=s.busy,
            bookings=tuple(b for b in s.bookings if (s.staff_id, b.start, b.end) not in own)) for s in schedules]
        slots = engine.find_slots(schedules, appointment_spec(atype), window_start, window_end, now=now,
                                  mode="collective")
        return RescheduleOptions(pool=members, staff=booking.staff, slots=slots, collective=True)
    pool = link_staff(booking.booking_link) if booking.booking_link else []
    if booking.staff not in pool:
        pool = [booking.staff, *pool]
    chosen = next((m for m in pool if staff_id and str(m.id) == str(staff_id)), booking.staff)
    schedules = load_schedules([chosen], window_start, window_end, now=now, exclude_booking_id=booking.id)
    slots = engine.find_slots(schedules, appointment_spec(atype), window_start, window_end, now=now)
    return RescheduleOptions(pool=pool, staff=chosen, slots=slots, collective=False)


# --- classes ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClassFigures:
    """What one class type's, or one instructor's, classes added up to over a period.

    `sessions`, `places` and `booked` count the sessions that ran or are scheduled in the period
    (cancelled ones left out); `booked` is the places taken in them (confirmed, attended, no-show).
    `promoted` counts people moved off a waitlist in the period (a promotion always comes before its
    class starts); `waitlist_closed` the people still waiting when a class in the period started;
    `late_cancels` and `no_shows` the spots of the period's classes given up late or not turned up to.
    """

    id: uuid.UUID | None
    name: str
    color: str | None = None
    sessions: int = 0
    places: int = 0
    booked: int = 0
    promoted: int = 0
    waitlist_closed: int = 0
    late_cancels: int = 0
    no_shows: int = 0

    @property
    def ratio(self) -> float | None:
        return self.booked / self.places if self.places else None

    @property
    def percent(self) -> int | None:
        return None if self.ratio is None else round(self.ratio * 100)


_CLASS_COUNTS = ("sessions", "places", "booked", "promoted", "waitlist_closed", "late_cancels", "no_shows")


@dataclass(frozen=True)
class ClassReport:
    """The class figures of the local dates first_day … last_day, by class type and by instructor
    (each list by name), and their sum."""

    first_day: date
    last_day: date
    by_type: list[ClassFigures]
    by_instructor: list[ClassFigures]
    total: ClassFigures

    @property
    def is_empty(self) -> bool:
        """No class ran, was scheduled or changed hands in the period."""
        return not self.by_type


def class_report(org_id: uuid.UUID, first_day: date, last_day: date, tz: str, *,
                 instructor_id: uuid.UUID | None = None) -> ClassReport:
    """Fill rate, waitlist promotions, people left waiting, late cancellations and no-shows of the
    organization's classes over the local dates first_day … last_day (inclusive, at most a year), by
    class type and by instructor (ClassFigures says what each number counts). With `instructor_id`,
    only that instructor's sessions. Four queries whatever the number of classes (two when none)."""
    check_date(first_day, "first_day")
    check_date(last_day, "last_day")
    if last_day < first_day:
        raise InvalidRequest("The end date is before the start date.", fields={"last_day": "before the start"})
    if (last_day - first_day).days > MAX_RANGE_DAYS:
        raise InvalidRequest("Choose at most a year.", fields={"last_day": "at most a year after the start"})
    start, end = engine.local_day_window(first_day, last_day, tz)
    in_period = and_(ClassSession.start_at >= start, ClassSession.start_at < end)
    scope = [ClassSession.organization_id == org_id]
    if instructor_id is not None:
        scope.append(ClassSession.instructor_id == instructor_id)
    cells: dict[tuple[uuid.UUID, uuid.UUID], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_CLASS_COUNTS, 0))
    for type_id, staff_id, sessions, places in db.session.execute(
        select(ClassSession.class_type_id, ClassSession.instructor_id, func.count(), func.sum(ClassSession.capacity))
        .where(*scope, in_period, ClassSession.status == "scheduled")
        .group_by(ClassSession.class_type_id, ClassSession.instructor_id)
    ):
        cells[(type_id, staff_id)].update(sessions=sessions, places=int(places or 0))

    def tally(*conditions):
        return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

    promoted_in_period = and_(ClassBooking.promoted_at >= start, ClassBooking.promoted_at < end)
    for type_id, staff_id, booked, promoted, closed, late, no_shows in db.session.execute(
        select(ClassSession.class_type_id, ClassSession.instructor_id,
               tally(in_period, ClassSession.status == "scheduled", ClassBooking.status.in_(PLACE_HOLDING_STATUSES)),
               tally(promoted_in_period),
               tally(in_period, ClassBooking.cancel_kind == "waitlist_closed"),
               tally(in_period, ClassBooking.cancel_kind == "late"),
               tally(in_period, ClassBooking.status == "no_show"))
        .join(ClassSession, ClassSession.id == ClassBooking.session_id)
        # A promotion comes before its class starts, so its class starts after the period's start:
        # the lower bound holds for both halves of the OR and keeps the query on the start index.
        .where(*scope, ClassBooking.organization_id == org_id, ClassSession.start_at >= start,
               or_(in_period, promoted_in_period))
        .group_by(ClassSession.class_type_id, ClassSession.instructor_id)
    ):
        cells[(type_id, staff_id)].update(booked=booked, promoted=promoted, waitlist_closed=closed,
                                          late_cancels=late, no_shows=no_shows)
    cells = {key: counts for key, counts in cells.items() if any(counts.values())}
    type_rows, staff_names = {}, {}
    if cells:
        type_rows = {row.id: row for row in db.session.execute(
            select(ClassType.id, ClassType.name, ClassType.color).where(
                ClassType.organization_id == org_id, ClassType.id.in_({t for t, _ in cells})))}
        staff_names = dict(db.session.execute(select(User.id, User.name).where(
            User.organization_id == org_id, User.id.in_({s for _, s in cells}))).all())

    def summed(index: int) -> dict[uuid.UUID, dict[str, int]]:
        sums: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_CLASS_COUNTS, 0))
        for key, counts in cells.items():
            for name, value in counts.items():
                sums[key[index]][name] += value
        return sums

    by_type = sorted((ClassFigures(id=type_id, name=type_rows[type_id].name if type_id in type_rows else "Class",
                                   color=type_rows[type_id].color if type_id in type_rows else None, **counts)
                      for type_id, counts in summed(0).items()), key=lambda f: (f.name.lower(), str(f.id)))
    by_instructor = sorted((ClassFigures(id=staff_id, name=staff_names.get(staff_id, "Former instructor"), **counts)
                            for staff_id, counts in summed(1).items()), key=lambda f: (f.name.lower(), str(f.id)))
    total = ClassFigures(id=None, name="All classes",
                         **{name: sum(getattr(f, name) for f in by_type) for name in _CLASS_COUNTS})
    return ClassReport(first_day=first_day, last_day=last_day, by_type=by_type, by_instructor=by_instructor,
                       total=total)
