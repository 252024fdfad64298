"""Which public booking page a booking goes through.

Bookings are made through a public booking page, so its trainers, its services and its round-robin or
collective rule apply to agents as to customers. A tool call names a trainer and a service (or a
page); `resolve_booking_link` picks the page, preferring the trainer's own.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.agents.errors import HINTS, ToolError
from app.services import catalog
from app.services.errors import InvalidRequest, NotFound
from app.services.scheduling import link_staff


@dataclass(frozen=True)
class BookingPage:
    """An active public booking page, with the ids of its active trainers and services."""

    slug: str
    name: str
    type: str
    staff_ids: frozenset[str]
    type_ids: frozenset[str]


def booking_pages(org_id: uuid.UUID) -> list[BookingPage]:
    """The organization's active public booking pages, with their active staff and services."""
    return [
        BookingPage(link.slug, link.name, link.type, frozenset(str(m.id) for m in link_staff(link)),
                    frozenset(str(t.id) for t in link.appointment_types if t.is_active))
        for link in catalog.booking_links(org_id) if link.is_public and link.is_active
    ]


def ranked_pages(pages: list[BookingPage], staff_id: str | None, type_id: str, *,
                 together: bool = True) -> list[BookingPage]:
    """The pages through which `type_id` can be booked (with `staff_id`, if given), best first.

    With a trainer: their individual page first, then a round-robin team page, and only then a
    collective page they are on (it books every trainer of the page; `together=False` leaves those
    out). Without one: a round-robin page (someone is assigned), then a collective page, then an
    individual page."""
    if staff_id:
        order = {"individual": 0, "round_robin": 1, **({"collective": 2} if together else {})}
    else:
        order = {"round_robin": 0, "collective": 1, "individual": 2}
    matches = [page for page in pages if type_id in page.type_ids and page.type in order
               and (staff_id is None or staff_id in page.staff_ids) and page.staff_ids]
    return sorted(matches, key=lambda page: (order[page.type], page.name.casefold(), page.slug))


def resolve_booking_link(org_id: uuid.UUID, *, staff_id: uuid.UUID | str | None,
                         appointment_type_id: uuid.UUID | str | None, booking_link_slug: str | None = None,
                         pages: list[BookingPage] | None = None, staff_ids=None) -> BookingPage:
    """The public booking page a booking of this trainer and service goes through, in this organization.

    An explicit slug must name an active public page of the organization. A slot of several trainers
    together (`staff_ids`, a slot's staffIds) goes through the collective page of exactly those
    trainers — never one trainer's own page, which would book that trainer alone. Otherwise the page
    offering both the trainer and the service, preferring the trainer's own page. Raises NotFound,
    InvalidRequest or ToolError `no_booking_link` (with a hint) when there is none."""
    pages = booking_pages(org_id) if pages is None else pages
    together = frozenset(str(i) for i in staff_ids or ())
    if staff_id and len(together) > 1 and str(staff_id) not in together:
        raise InvalidRequest("staffId is not one of the slot's trainers (staffIds).",
                             fields={"staff_id": "not one of staffIds"})
    if booking_link_slug:
        for page in pages:
            if page.slug == booking_link_slug:
                if len(together) > 1 and (page.type != "collective" or page.staff_ids != together):
                    raise InvalidRequest("That booking page does not book these trainers together: pass the "
                                         "slot's bookingLinkSlug and staffIds unchanged.",
                                         fields={"staff_ids": "not the trainers this page books together"})
                return page
        raise NotFound(f"No public booking page called {booking_link_slug!r} in this organization.",
                       fields={"link": "not a public booking page of this organization"})
    if len(together) > 1:
        shared = [page for page in pages if page.type == "collective" and page.staff_ids == together
                  and (appointment_type_id is None or str(appointment_type_id) in page.type_ids)]
        if not shared:
            raise ToolError("no_booking_link", "No public booking page books these trainers together"
                            + (" for this service." if appointment_type_id else "."),
                            hint=HINTS["no_booking_link"], status=409,
                            details={"staffIds": sorted(together), "bookingPages": [
                                {"slug": p.slug, "name": p.name, "type": p.type} for p in pages]})
        return min(shared, key=lambda page: (page.name.casefold(), page.slug))
    if appointment_type_id is None:
        raise InvalidRequest("Say which service: appointmentTypeId (or a bookingLinkSlug).",
                             fields={"appointment_type_id": "required unless bookingLinkSlug is given"})
    staff = str(staff_id) if staff_id else None
    ranked = ranked_pages(pages, staff, str(appointment_type_id))
    if not staff:
        individual = [page for page in ranked if page.type == "individual"]
        if ranked and ranked[0].type == "individual" and len({s for p in individual for s in p.staff_ids}) > 1:
            raise InvalidRequest("Several trainers offer this service: say which one with staffId.",
                                 fields={"staff_id": "required: several trainers offer this service"})
    if not ranked:
        raise ToolError(
            "no_booking_link", "No public booking page offers this service" + (" with this trainer." if staff else "."),
            hint=HINTS["no_booking_link"], status=409,
            details={"staffId": staff, "appointmentTypeId": str(appointment_type_id),
                     "bookingPages": [{"slug": p.slug, "name": p.name, "type": p.type} for p in pages]})
    return ranked[0]
