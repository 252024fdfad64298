"""Finding bookable slots for a booking link or an organization: the availability API's service."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import noload

from app.extensions import db
from app.models import AppointmentType, Booking, BookingLink, Organization, User
from app.services.scheduling import engine
from app.services.scheduling.loader import appointment_spec, load_schedules
from app.services.calendar.sync import busy_for_staff
from app.services.errors import InvalidRequest, NotFound
from app.services.zones import require_zone
from app.services.scheduling.cache import SlotCache

T = TypeVar("T")
MAX_RANGE_DAYS = 62
DEFAULT_RANGE_DAYS = 7


@dataclass(frozen=True)
class SlotSearch:
    """What was searched and what was found, as plain values (safe to cache and share)."""

    organization_id: uuid.UUID
    organization_slug: str
    organization_name: str
    link_slug: str | None
    link_name: str | None
    link_type: str | None
    appointment_type_id: str
    appointment_type_name: str
    duration_minutes: int
    min_notice_minutes: int
    timezone: str
    start_date: date
    end_date: date
    slots: tuple[engine.Slot, ...]


@dataclass(frozen=True)
class StaffInfo:
    """What availability and booking need of a member of staff (duck-types models.User)."""

    id: uuid.UUID
    name: str
    timezone: str
    organization_id: uuid.UUID
    active: bool = True


@dataclass(frozen=True)
class TypeInfo:
    """What availability and booking need of an appointment type (duck-types models.AppointmentType)."""

    id: uuid.UUID
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    slot_interval_minutes: int | None
    min_notice_minutes: int
    booking_window_days: int | None
    max_per_day: int | None
    location: str | None
    is_active: bool


@dataclass(frozen=True)
class LinkInfo:
    """A public booking link with its organization, active staff and types, as plain values.

    Safe to cache: it is keyed by the organization's schedule version, which any change to the
    link, its staff, its types or the organization raises. `version` is that schedule version."""

    id: uuid.UUID
    slug: str
    name: str
    type: str
    organization_id: uuid.UUID
    org_slug: str
    org_name: str
    org_timezone: str
    phone_region: str
    staff: tuple[StaffInfo, ...]
    types: tuple[TypeInfo, ...]
    version: int


def link_info(slug: str, *, now: datetime, cache: SlotCache | None = None) -> LinkInfo:
    """The public link `slug` as plain values, from the cache while the schedule is unchanged.

    One query when cached (the schedule version); NotFound for an unknown, private or inactive link.
    """
    state = _schedule_state(slug, None)
    if state is None:
        raise NotFound(f"No booking page called {slug!r}.")
    version = state[0][0]  # the schedule version only: bookings do not change a link
    key = ("link_info", slug)
    if cache is not None:
        hit = cache.get(key, version, now)
        if hit is not None:
            return hit
    link = get_public_link(slug, with_branding=False)
    org = db.session.get(Organization, link.organization_id)
    info = LinkInfo(
        id=link.id, slug=link.slug, name=link.name, type=link.type, organization_id=org.id, org_slug=org.slug,
        org_name=org.name, org_timezone=org.timezone, phone_region=(org.settings or {}).get("phone_region", "GB"),
        staff=tuple(StaffInfo(m.id, m.name, m.timezone, m.organization_id) for m in link_staff(link)),
        types=tuple(
            TypeInfo(t.id, t.name, t.duration_minutes, t.buffer_before_minutes, t.buffer_after_minutes,
                     t.slot_interval_minutes, t.min_notice_minutes, t.booking_window_days, t.max_per_day,
                     t.location, t.is_active)
            for t in link.appointment_types
        ),
        version=version,
    )
    if cache is not None:
        cache.put(key, version, now + timedelta(hours=1), info)
    return info


def get_public_link(slug: str, *, with_branding: bool = True) -> BookingLink:
    """The active, public booking link with this slug, or NotFound (private links are not revealed)."""
    query = select(BookingLink).where(BookingLink.slug == slug)
    if not with_branding:
        query = query.options(noload(BookingLink.branding))
    link = db.session.scalars(query).first()
    if link is None or not link.is_public or not link.is_active:
        raise NotFound(f"No booking page called {slug!r}.")
    return link


def link_staff(link: BookingLink) -> list[User]:
    """The active staff who take bookings through a link (its owner for an individual link)."""
    staff = list(link.staff)
    if not staff and link.user_id:
        owner = db.session.get(User, link.user_id)
        staff = [owner] if owner else []
    return [member for member in staff if member.active]


def choose_appointment_type(
    candidates: list[AppointmentType], appointment_type_id: str | None, duration: int | None
) -> AppointmentType:
    """Pick the appointment type from the request (id, else duration, else the first offered)."""
    active = [t for t in candidates if t.is_active]
    if appointment_type_id:
        for atype in active:
            if str(atype.id) == str(appointment_type_id):
                if duration and duration != atype.duration_minutes:
                    raise InvalidRequest(
                        f"{atype.name} lasts {atype.duration_minutes} minutes, not {duration}.",
                        fields={"duration": f"must be {atype.duration_minutes} for this appointment type"},
                    )
                return atype
        raise InvalidRequest("That appointment type is not offered here.",
                             fields={"appointment_type_id": "not offered on this booking page"})
    if duration:
        for atype in active:
            if atype.duration_minutes == duration:
                return atype
        offered = sorted({t.duration_minutes for t in active})
        raise InvalidRequest(f"No appointment of {duration} minutes is offered here (offered: {offered}).",
                             fields={"duration": f"not offered; choose one of {offered}"})
    if not active:
        raise NotFound("Nothing can be booked here at the moment.")
    return active[0]


def date_window(start_date: date | None, end_date: date | None, single: date | None, tz: str,
                now: datetime) -> tuple[date, date]:
    """The inclusive local date range asked for (default: the next seven days), capped."""
    if single and (start_date or end_date):
        raise InvalidRequest("Give either date or start_date/end_date, not both.",
                             fields={"date": "cannot be combined with start_date/end_date"})
    if single:
        return single, single
    today = now.astimezone(ZoneInfo(tz)).date()
    if start_date and not end_date:
        end_date = start_date + timedelta(days=DEFAULT_RANGE_DAYS - 1)
    elif end_date and not start_date:
        raise InvalidRequest("end_date needs a start_date.", fields={"start_date": "required with end_date"})
    start_date = start_date or today
    end_date = end_date or today + timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if end_date < start_date:
        raise InvalidRequest("end_date is before start_date.", fields={"end_date": "must not be before start_date"})
    if (end_date - start_date).days + 1 > MAX_RANGE_DAYS:
        raise InvalidRequest(f"The date range is longer than {MAX_RANGE_DAYS} days.",
                             fields={"end_date": f"at most {MAX_RANGE_DAYS} days after start_date"})
    return start_date, end_date


def search_slots(
    *,
    link_slug: str | None = None,
    org_slug: str | None = None,
    date_: date | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    duration: int | None = None,
    appointment_type_id: str | None = None,
    staff_id: str | None = None,
    timezone_name: str | None = None,
    exclude_booking_id: uuid.UUID | None = None,
    now: datetime | None = None,
    cache: SlotCache | None = None,
    cache_seconds: int = 0,
    render: Callable[[SlotSearch], T] | None = None,
) -> SlotSearch | T:
    """The slots offered for a link (or an organization's whole team) over local dates in a zone.

    Dates are read in `timezone_name` (default: the organization's zone); slots come back in UTC.
    Raises NotFound for an unknown or private link, InvalidRequest naming the field at fault.
    With a `cache`, an answer computed under the organization's current schedule version is reused
    for up to `cache_seconds` (never past the moment its first slot would fall inside the notice).
    With `render`, the rendered answer is returned (and cached) instead of the SlotSearch, so a
    cache hit also skips the rendering. `exclude_booking_id` treats one booking's own time as free
    (the slots a reschedule may move it to).
    """
    now = now or datetime.now(timezone.utc)
    key = version = None
    if cache is not None and cache_seconds > 0:
        state = _schedule_state(link_slug, org_slug)
        if state is not None:
            version, org_tz = state
            tz = require_zone(timezone_name, default=org_tz)
            first, last = date_window(start_date, end_date, date_, tz, now)
            key = (getattr(render, "__qualname__", None), link_slug, org_slug, first, last, tz, duration,
                   appointment_type_id, staff_id, exclude_booking_id)
            cached = cache.get(key, version, now)
            if cached is not None:
                return cached
    search = _search(link_slug, org_slug, date_, start_date, end_date, duration, appointment_type_id, staff_id,
                     timezone_name, exclude_booking_id, now, cache)
    result = render(search) if render is not None else search
    if key is not None:
        valid_until = now + timedelta(seconds=cache_seconds)
        if search.slots:
            valid_until = min(valid_until, search.slots[0].start - timedelta(minutes=search.min_notice_minutes))
        cache.put(key, version, valid_until, result)
    return result


def _schedule_state(link_slug: str | None, org_slug: str | None) -> tuple[tuple[int, int], str] | None:
    """((schedule version, booking version), organization time zone) for a public link or an
    organization, in one query."""
    columns = (Organization.schedule_version, Organization.booking_version, Organization.timezone)
    if link_slug:
        query = (select(*columns)
                 .join(BookingLink, BookingLink.organization_id == Organization.id)
                 .where(BookingLink.slug == link_slug, BookingLink.is_public.is_(True),
                        BookingLink.is_active.is_(True)))
    else:
        query = select(*columns).where(Organization.slug == org_slug)
    row = db.session.execute(query).first()
    return ((row[0], row[1]), row[2]) if row else None


def _search(link_slug, org_slug, date_, start_date, end_date, duration, appointment_type_id, staff_id,
            timezone_name, exclude_booking_id, now, cache) -> SlotSearch:
    if not link_slug and not org_slug:
        raise InvalidRequest("Say which booking page (link) or organization (org).",
                             fields={"link": "required unless org is given"})
    version = None
    if link_slug:
        link = link_info(link_slug, now=now, cache=cache)
        org_id, org_slug, org_name, org_tz = link.organization_id, link.org_slug, link.org_name, link.org_timezone
        staff = list(link.staff)
        types = list(link.types)
        mode = link.type
        version = link.version
    else:
        link = None
        org = db.session.scalars(select(Organization).where(Organization.slug == org_slug)).first()
        if org is None:
            raise NotFound(f"No organization called {org_slug!r}.")
        org_id, org_slug, org_name, org_tz = org.id, org.slug, org.name, org.timezone
        staff = list(db.session.scalars(
            select(User).where(User.organization_id == org.id, User.active.is_(True)).order_by(User.name)
        ))
        types = list(db.session.scalars(
            select(AppointmentType).where(AppointmentType.organization_id == org.id).order_by(AppointmentType.name)
        ))
        mode = "individual"

    tz = require_zone(timezone_name, default=org_tz)
    atype = choose_appointment_type(types, appointment_type_id, duration)
    if staff_id:
        chosen = [member for member in staff if str(member.id) == str(staff_id)]
        if not chosen:
            raise InvalidRequest("That member of staff does not take bookings here.",
                                 fields={"staff_id": "not on this booking page"})
        staff = chosen
        if mode == "round_robin":
            mode = "individual"

    first, last = date_window(start_date, end_date, date_, tz, now)
    window_start, window_end = engine.local_day_window(first, last, tz)
    # Busy times from connected calendars: cached; refreshed from Google first only when stale.
    exclude = ()
    if exclude_booking_id is not None:
        own = db.session.get(Booking, exclude_booking_id)
        exclude = ((own.start_at, own.end_at),) if own is not None else ()
    external = busy_for_staff([m.id for m in staff], window_start, window_end, now=now, refresh=True,
                              exclude=exclude).busy
    schedules = load_schedules(staff, window_start, window_end, now=now, with_fairness=mode == "round_robin",
                               external_busy=external, exclude_booking_id=exclude_booking_id, cache=cache,
                               version=version)
    slots = engine.find_slots(schedules, appointment_spec(atype), window_start, window_end, now=now, mode=mode)
    return SlotSearch(
        organization_id=org_id, organization_slug=org_slug, organization_name=org_name,
        link_slug=link.slug if link else None, link_name=link.name if link else None,
        link_type=link.type if link else None, appointment_type_id=str(atype.id),
        appointment_type_name=atype.name, duration_minutes=atype.duration_minutes,
        min_notice_minutes=atype.min_notice_minutes, timezone=tz, start_date=first, end_date=last,
        slots=tuple(slots),
    )


def parse_uuid(value: str | None, field: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidRequest(f"{field} is not a valid id.", fields={field: "not a valid id"}) from None
