"""Booking pages as the availability engine and the booking service see them: who takes bookings on
a page, what can be booked there, and how the person is chosen (one member, whoever is free next,
or everyone together) — one place for each of those rules.

A page is read as plain values (LinkInfo) cached by the organization's schedule version, which any
change to the page, its staff, its types or the organization raises: one query when cached.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import noload

from app.extensions import db
from app.models import AppointmentType, BookingLink, Calendar, Organization, User
from app.services.errors import InvalidRequest, NotFound
from app.services.phones import organization_region
from app.services.quiet_hours import DEFAULT as DEFAULT_QUIET_HOURS
from app.services.quiet_hours import QuietHours, organization_quiet_hours
from app.services.scheduling.cache import SlotCache


@dataclass(frozen=True)


class ScheduleState:
    """An organization's schedule and booking versions and its time zone, read in one query."""

    schedule_version: int
    booking_version: int
    timezone: str

    @property
    def versions(self) -> tuple[int, int]:
        return self.schedule_version, self.booking_version


def schedule_state(link_slug: str | None, org_slug: str | None) -> ScheduleState | None:
    """The versions and zone of a public link's organization (or of an organization), in one query."""
    columns = (Organization.schedule_version, Organization.booking_version, Organization.timezone)
    if link_slug:
        query = (select(*columns)
                 .join(BookingLink, BookingLink.organization_id == Organization.id)
                 .where(BookingLink.slug == link_slug, BookingLink.is_public.is_(True),
                        BookingLink.is_active.is_(True)))
    else:
        query = select(*columns).where(Organization.slug == org_slug)
    row = db.session.execute(query).first()
    return ScheduleState(row[0], row[1], row[2]) if row else None


@dataclass(frozen=True)


class StaffInfo:
    """What availability and booking need of a member of staff (duck-types models.User)."""

    id: uuid.UUID
    name: str
    timezone: str
    organization_id: uuid.UUID
    email: str
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
    phone_region: str  # the country of numbers written without a country code (an accepted code; GB by default)
    staff: tuple[StaffInfo, ...]
    types: tuple[TypeInfo, ...]
    version: int
    reminder_offsets: tuple[int, ...] | None = None  # the organization's; None: the default offsets
    quiet_hours: QuietHours | None = DEFAULT_QUIET_HOURS  # the organization's (None: none)
    # Staff with a connected calendar that blocks their time / that receives their bookings: the
    # others need no calendar work at all (a calendar change raises the schedule version).
    calendar_staff: frozenset[uuid.UUID] = frozenset()
    destination_staff: frozenset[uuid.UUID] = frozenset()


def link_info(slug: str, *, now: datetime, cache: SlotCache | None = None) -> LinkInfo:
    """The public link `slug` as plain values, from the cache while the schedule is unchanged.

    One query when cached (the schedule version); NotFound for an unknown, private or inactive link.
    """
    state = schedule_state(slug, None)
    if state is None:
        raise NotFound(f"No booking page called {slug!r}.")
    version = state.schedule_version  # bookings do not change a link
    key = ("link_info", slug)
    if cache is not None:
        hit = cache.get(key, version, now)
        if hit is not None:
            return hit
    link = get_public_link(slug, with_branding=False)
    org = db.session.get(Organization, link.organization_id)
    staff = link_staff(link)
    calendars = db.session.execute(
        select(Calendar.user_id, Calendar.check_for_conflicts, Calendar.is_destination)
        .where(Calendar.user_id.in_([m.id for m in staff]))).all() if staff else []
    info = LinkInfo(
        id=link.id, slug=link.slug, name=link.name, type=link.type, organization_id=org.id, org_slug=org.slug,
        org_name=org.name, org_timezone=org.timezone, phone_region=organization_region(org.settings),
        staff=tuple(StaffInfo(m.id, m.name, m.timezone, m.organization_id, m.email) for m in staff),
        types=tuple(
            TypeInfo(t.id, t.name, t.duration_minutes, t.buffer_before_minutes, t.buffer_after_minutes,
                     t.slot_interval_minutes, t.min_notice_minutes, t.booking_window_days, t.max_per_day,
                     t.location, t.is_active)
            for t in link.appointment_types
        ),
        version=version,
        reminder_offsets=tuple(org.reminder_offsets_minutes) if org.reminder_offsets_minutes is not None else None,
        quiet_hours=organization_quiet_hours(org.settings),
        calendar_staff=frozenset(row.user_id for row in calendars if row.check_for_conflicts),
        destination_staff=frozenset(row.user_id for row in calendars if row.is_destination),
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
    if link is None or not takes_bookings(link):
        raise NotFound(f"No booking page called {slug!r}.")
    return link


def takes_bookings(link: BookingLink) -> bool:
    """Whether a booking page is online: public and active. A page taken offline (or private) books
    nothing, and bookings made through it can't be moved online (bookings.online_move_refusal)."""
    return bool(link.is_public and link.is_active)


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


def choose_staff(link_type: str, staff: Sequence, staff_id: str | None, *, booking: bool) -> tuple[list, str]:
    """Who may take a booking on a page, and how the engine chooses among them.

    `staff_id` narrows the page to one person (refused when they are not on it) — except on a
    collective page, which books everyone together whoever is named: there it may name one of the
    page's trainers and changes nothing, as on the booking page and in the AI tools (one trainer's
    times are not the pair's, and a booking of one of them would hold nobody else's time). The mode
    is "collective" on a collective page, "round_robin" when several people could take it (whoever
    is free, fairly), else "individual". When `booking`, an individual page with several people
    needs the person named; a search on such a page lists each person's own times.
    """
    candidates = list(staff)
    if staff_id:
        named = [member for member in candidates if str(member.id) == str(staff_id)]
        if not named:
            raise InvalidRequest("That member of staff does not take bookings on this page.",
                                 fields={"staff_id": "not on this booking page"})
        if link_type != "collective":
            candidates = named
    if link_type == "collective":
        mode = "collective"
    elif link_type == "round_robin" and len(candidates) > 1:
        mode = "round_robin"
    else:
        mode = "individual"
    if booking:
        if not staff_id and link_type == "individual" and len(candidates) > 1:
            raise InvalidRequest("Choose a member of staff.", fields={"staff_id": "required for this link"})
        if not candidates:
            raise NotFound("Nobody takes bookings on this page at the moment.")
    return candidates, mode
