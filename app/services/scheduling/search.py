"""Finding bookable slots on a booking page (or across an organization's whole team).

`search_slots` answers with plain values (SlotSearch, engine.Slot): each entry point formats them
for its audience (the JSON API, the booking page, the AI tools). Answers are cached per process,
keyed by the question and the organization's versions, for up to AVAILABILITY_CACHE_SECONDS and
never past the moment the first slot would fall inside the minimum notice — any booking, rule,
override, holiday, type or page change raises a version and so invalidates them at once.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Booking, BookingLink, Organization
from app.services.calendar import busy_for_staff, own_events
from app.services.dates import LAST_DATE, check_date
from app.services.errors import InvalidRequest, NotFound
from app.services.scheduling import engine
from app.services.scheduling.cache import app_cache
from app.services.scheduling.links import (
    choose_appointment_type,
    choose_staff,
    link_info,
    link_staff,
    schedule_state,
)
from app.services.scheduling.loader import appointment_spec, booking_spec, load_schedules
from app.services.zones import require_zone

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
    # For callers that cache what they make of this answer (the JSON body, a rendered day): the
    # question, normalised; the organization's versions it was computed under; and until when it
    # holds (None: do not reuse it).
    key: tuple = ()
    versions: tuple[int, int] | None = None
    valid_until: datetime | None = None


def date_window(start_date: date | None, end_date: date | None, single: date | None, tz: str,
                now: datetime) -> tuple[date, date]:
    """The inclusive local date range asked for (default: the next seven days), capped."""
    if single and (start_date or end_date):
        raise InvalidRequest("Give either date or start_date/end_date, not both.",
                             fields={"date": "cannot be combined with start_date/end_date"})
    for value, field in ((single, "date"), (start_date, "start_date"), (end_date, "end_date")):
        if value is not None:
            check_date(value, field)
    if single:
        return single, single
    today = now.astimezone(ZoneInfo(tz)).date()
    if start_date and not end_date:
        end_date = min(start_date + timedelta(days=DEFAULT_RANGE_DAYS - 1), LAST_DATE)
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
    use_cache: bool = True,
) -> SlotSearch:
    """The slots offered for a link (or an organization's whole team) over local dates in a zone.

    Dates are read in `timezone_name` (default: the organization's zone); slots come back in UTC.
    Raises NotFound for an unknown or private link, InvalidRequest naming the field at fault.
    An answer computed under the organization's current versions is reused (see the module
    docstring) unless `use_cache` is off. `exclude_booking_id` treats one booking's own time as
    free (the slots a reschedule may move it to).
    """
    now = now or datetime.now(timezone.utc)
    cache = app_cache() if use_cache else None
    seconds = current_app.config["AVAILABILITY_CACHE_SECONDS"] if cache is not None else 0
    key = state = None
    if seconds > 0:
        state = schedule_state(link_slug, org_slug)
        if state is not None:
            tz = require_zone(timezone_name, default=state.timezone)
            first, last = date_window(start_date, end_date, date_, tz, now)
            key = ("slots", link_slug, org_slug, first, last, tz, duration, appointment_type_id, staff_id,
                   exclude_booking_id)
            cached = cache.get(key, state.versions, now)
            if cached is not None:
                return cached
    search = _search(link_slug, org_slug, date_, start_date, end_date, duration, appointment_type_id, staff_id,
                     timezone_name, exclude_booking_id, now, cache)
    if key is None:
        return search
    valid_until = now + timedelta(seconds=seconds)
    if search.slots:
        valid_until = min(valid_until, search.slots[0].start - timedelta(minutes=search.min_notice_minutes))
    search = replace(search, key=key, versions=state.versions, valid_until=valid_until)
    cache.put(key, state.versions, valid_until, search)
    return search


def _search(link_slug, org_slug, date_, start_date, end_date, duration, appointment_type_id, staff_id,
            timezone_name, exclude_booking_id, now, cache) -> SlotSearch:
    if not link_slug and not org_slug:
        raise InvalidRequest("Say which booking page (link) or organization (org).",
                             fields={"link": "required unless org is given"})
    version = None
    if link_slug:
        link = link_info(link_slug, now=now, cache=cache)
        org_id, org_slug, org_name, org_tz = link.organization_id, link.org_slug, link.org_name, link.org_timezone
        staff, types, link_type, version = list(link.staff), list(link.types), link.type, link.version
    else:
        link = None
        org = db.session.scalars(select(Organization).where(Organization.slug == org_slug)).first()
        if org is None:
            raise NotFound(f"No organization called {org_slug!r}.")
        org_id, org_slug, org_name, org_tz = org.id, org.slug, org.name, org.timezone
        staff, types, offered_by = _publicly_offered(org.id)
        link_type = "individual"

    tz = require_zone(timezone_name, default=org_tz)
    atype = choose_appointment_type(types, appointment_type_id, duration)
    if link is None:  # across the team: only who offers this service on a public page
        staff = [member for member in staff if member.id in offered_by[atype.id]]
    staff, mode = choose_staff(link_type, staff, staff_id, booking=False)

    first, last = date_window(start_date, end_date, date_, tz, now)
    window_start, window_end = engine.local_day_window(first, last, tz)
    # Busy times from connected calendars: cached; refreshed from Google first only when stale.
    exclude = None
    spec = appointment_spec(atype)
    if exclude_booking_id is not None:
        own = db.session.get(Booking, exclude_booking_id)
        exclude = own_events([own]) if own is not None else None
        if own is not None and str(own.appointment_type_id) == str(atype.id):
            spec = booking_spec(own, atype)  # where it can move to: with its own length and buffers
    external = busy_for_staff([m.id for m in staff], window_start, window_end, now=now, refresh=True,
                              exclude=exclude).busy
    schedules = load_schedules(staff, window_start, window_end, now=now, with_fairness=mode == "round_robin",
                               external_busy=external, exclude_booking_id=exclude_booking_id, cache=cache,
                               version=version)
    slots = engine.find_slots(schedules, spec, window_start, window_end, now=now, mode=mode)
    return SlotSearch(
        organization_id=org_id, organization_slug=org_slug, organization_name=org_name,
        link_slug=link.slug if link else None, link_name=link.name if link else None,
        link_type=link.type if link else None, appointment_type_id=str(atype.id),
        appointment_type_name=atype.name, duration_minutes=spec.duration_minutes,
        min_notice_minutes=atype.min_notice_minutes, timezone=tz, start_date=first, end_date=last,
        slots=tuple(slots),
    )


def _publicly_offered(org_id) -> tuple[list, list, dict]:
    """What the organization offers on its active public booking pages: the staff (by name), the
    services (by name), and who offers each service. A service or a trainer that only a private page
    offers is not revealed by a search across the team."""
    staff, types, offered_by = {}, {}, defaultdict(set)
    for link in db.session.scalars(select(BookingLink).where(
            BookingLink.organization_id == org_id, BookingLink.is_public.is_(True),
            BookingLink.is_active.is_(True))):
        members = link_staff(link)
        staff.update((member.id, member) for member in members)
        for atype in link.appointment_types:
            types[atype.id] = atype
            offered_by[atype.id].update(member.id for member in members)
    return (sorted(staff.values(), key=lambda m: m.name), sorted(types.values(), key=lambda t: t.name),
            offered_by)
