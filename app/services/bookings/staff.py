"""Staff making a booking from the dashboard: which services they can book, with whom, and on which
booking page — so that the booking itself goes through create_booking like every other path.

A booking always belongs to a booking page (its reminders, calendar write-back and manage link come
from it), so the dashboard books through the organization's active public pages: a service with a
named trainer on a page where that trainer offers it (a one-trainer page first), "whoever is free" on
a team page that shares out bookings (round robin) among two or more trainers. Pages that book
everyone together (collective) are left to the booking page itself. Every read is within one
organization: another organization's service or trainer is simply not offered (InvalidRequest).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from app.extensions import db
from app.models import BookingLink
from app.services.errors import InvalidRequest
from app.services.scheduling import SlotSearch, link_staff, search_slots


@dataclass(frozen=True)
class ServiceChoice:
    """A service staff can book, the trainers who offer it, and whether a team page can take it
    ("whoever is free")."""

    id: uuid.UUID
    name: str
    duration_minutes: int
    trainers: tuple[tuple[uuid.UUID, str], ...]
    team: bool


def _pages(org_id: uuid.UUID) -> list[tuple[BookingLink, list]]:
    """The organization's pages that take bookings one trainer at a time, with their active staff:
    one-trainer pages first, then by name (the same choice every time)."""
    links = db.session.scalars(select(BookingLink).where(
        BookingLink.organization_id == org_id, BookingLink.is_public.is_(True), BookingLink.is_active.is_(True),
        BookingLink.type != "collective"))
    ordered = sorted(links, key=lambda link: (link.type != "individual", link.name, str(link.id)))
    return [(link, link_staff(link)) for link in ordered]


def _is_team(link: BookingLink, staff: list) -> bool:
    return link.type == "round_robin" and len(staff) > 1


def staff_booking_services(org_id: uuid.UUID) -> list[ServiceChoice]:
    """Every active service offered on one of the organization's pages, by name, with who offers it."""
    found: dict[uuid.UUID, dict] = {}
    for link, staff in _pages(org_id):
        if not staff:
            continue
        for atype in link.appointment_types:
            if not atype.is_active:
                continue
            entry = found.setdefault(atype.id, {"type": atype, "trainers": {}, "team": False})
            entry["trainers"].update((member.id, member.name) for member in staff)
            entry["team"] = entry["team"] or _is_team(link, staff)
    return sorted((ServiceChoice(id=e["type"].id, name=e["type"].name, duration_minutes=e["type"].duration_minutes,
                                 trainers=tuple(sorted(e["trainers"].items(), key=lambda pair: (pair[1], str(pair[0])))),
                                 team=e["team"])
                   for e in found.values()), key=lambda choice: (choice.name, str(choice.id)))


def booking_page_for(org_id: uuid.UUID, appointment_type_id, staff_id) -> str:
    """The slug of the page to book `appointment_type_id` on with `staff_id` (None: whoever is free),
    or InvalidRequest naming the field ("service" or "trainer") that no page offers."""
    wanted_type, wanted_staff = str(appointment_type_id or ""), str(staff_id or "")
    offered = False
    for link, staff in _pages(org_id):
        if not any(str(t.id) == wanted_type and t.is_active for t in link.appointment_types) or not staff:
            continue
        offered = True
        if wanted_staff and any(str(member.id) == wanted_staff for member in staff):
            return link.slug
        if not wanted_staff and _is_team(link, staff):
            return link.slug
    if not offered:
        raise InvalidRequest("That service is not offered on any booking page.",
                             fields={"service": "not offered on any booking page"})
    if wanted_staff:
        raise InvalidRequest("That trainer does not offer this service.",
                             fields={"trainer": "does not offer this service"})
    raise InvalidRequest("No team page offers this service: choose a trainer.",
                         fields={"trainer": "choose a trainer for this service"})


def staff_free_times(org_id: uuid.UUID, appointment_type_id, staff_id, day: date, *, now: datetime) -> SlotSearch:
    """The times create_booking would accept on local `day` for this service and trainer (None:
    whoever is free) — the booking page's own search, so the list and the booking agree."""
    slug = booking_page_for(org_id, appointment_type_id, staff_id)
    return search_slots(link_slug=slug, date_=day, appointment_type_id=str(appointment_type_id),
                        staff_id=str(staff_id) if staff_id else None, now=now)
