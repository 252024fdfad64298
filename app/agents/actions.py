"""The tools' handlers: each takes its validated arguments, the principal and the time, calls the
services and answers with the success payload ({"success": True, ...}).

The handlers call the same services as the public booking API (`search_slots`, `create_booking`,
`reschedule_booking`, `cancel_booking`, the dashboard's booking queries): there is no second path for
any booking rule. Scopes and the organization are checked before a handler runs (dispatch.py); what
is left here is what only the booking itself can tell (a trainer's own bookings, a manage token).
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from app.agents.answers import booking_json, slot_json
from app.agents.errors import HINTS, ToolError, from_service_error
from app.agents.pages import (
    BookingPage,
    booking_pages,
    ranked_pages,
    resolve_booking_link,
)
from app.agents.principals import Principal
from app.agents.schemas import (
    BookingRefInput,
    BookSlotInput,
    CancelBookingInput,
    FindAvailabilityInput,
    GetBookingInput,
    GetBookingsInput,
    ListServicesInput,
    RescheduleBookingInput,
)
from app.extensions import db
from app.models import AppointmentType, Booking, Organization, User
from app.services import bookings, reports
from app.services.errors import InvalidRequest, NotFound
from app.services.scheduling import search_slots
from app.services.zones import require_zone
from app.timeformat import iso_utc


def find_availability(args: FindAvailabilityInput, principal: Principal, now: dt.datetime) -> dict:
    """Free times, each with the public page it can be booked through (times no page offers are left out).

    Without a service or a page, every service that can be booked online (of the `duration`, with the
    trainer, when given) is searched, and each slot names its service: an agent can find the second
    60-minute service as well as the first."""
    common = dict(date_=args.date, start_date=args.start_date, end_date=args.end_date, duration=args.duration,
                  staff_id=str(args.staff_id) if args.staff_id else None, timezone_name=args.timezone, now=now)
    pages = booking_pages(principal.organization_id)
    type_id = str(args.appointment_type_id) if args.appointment_type_id else None
    link_slug = args.booking_link_slug
    if link_slug:
        resolve_booking_link(principal.organization_id, staff_id=None, appointment_type_id=None,
                             booking_link_slug=link_slug, pages=pages)
        search = search_slots(link_slug=link_slug, appointment_type_id=type_id, **common)
        searches = [(search, [(slot, link_slug) for slot in search.slots])]
    else:
        types = [type_id] if type_id else _services_to_search(pages, args.duration, common["staff_id"])
        searches = [_search_service(principal, pages, one, common) for one in types or [None]]
    search = searches[0][0]
    found = sorted((pair for _, pairs in searches for pair in pairs),
                   key=lambda pair: (pair[0].start, pair[0].staff_name, pair[0].staff_id, pair[0].appointment_type_id))
    names = {s.appointment_type_id: (s.appointment_type_name, s.duration_minutes) for s, _ in searches}
    tz = search.timezone
    shown = found[:args.limit]
    org = db.session.get(Organization, principal.organization_id)
    payload = {
        "success": True,
        "organization": {"slug": search.organization_slug, "name": search.organization_name},
        "timezone": tz, "startDate": search.start_date.isoformat(), "endDate": search.end_date.isoformat(),
        "appointmentType": {"id": search.appointment_type_id, "name": search.appointment_type_name,
                            "duration": search.duration_minutes},
        "appointmentTypes": [{"id": i, "name": name, "duration": minutes} for i, (name, minutes) in names.items()],
        "slots": [slot_json(slot, tz, names[slot.appointment_type_id][1], slug,
                            change_until=bookings.change_deadline(slot.start, org),
                            changeable=not bookings.changes_closed(slot.start, org, now),
                            service=names[slot.appointment_type_id][0]) for slot, slug in shown],
        "totalSlots": len(found),
        "truncated": len(found) > len(shown),
    }
    if not found:
        payload["hint"] = "No free times in this range: try later dates (startDate/endDate) or another trainer."
    return payload


def _search_service(principal: Principal, pages: list[BookingPage], type_id: str | None, common: dict):
    """(the search, [(slot, the page to book it through)]) for one service across the organization."""
    staff = common["staff_id"]
    offered = [p for p in pages if type_id in p.type_ids and (staff is None or staff in p.staff_ids)]
    if type_id and offered and all(p.type == "collective" for p in offered):
        # Only a page that books its trainers together offers it: their shared times are on that page.
        slug = min(offered, key=lambda p: (p.name.casefold(), p.slug)).slug
        search = search_slots(link_slug=slug, appointment_type_id=type_id, **{**common, "staff_id": None})
        return search, [(slot, slug) for slot in search.slots]
    found = []
    team: set[str] = set()
    if staff is None and type_id:
        # A team (round-robin) page offering the service gives its times as the page does: each start
        # once, with the trainer the fairness rule picks — not every trainer's own times, which would
        # let agents pile bookings on whoever sorts first. (Asked for a trainer, an agent passes
        # staffId and gets that trainer's times.)
        for page in sorted((p for p in offered if p.type == "round_robin" and len(p.staff_ids) > 1),
                           key=lambda p: (p.name.casefold(), p.slug)):
            team_search = search_slots(link_slug=page.slug, appointment_type_id=type_id, **common)
            found += [(slot, page.slug) for slot in team_search.slots]
            team |= page.staff_ids
    search = search_slots(org_slug=principal.organization_slug, appointment_type_id=type_id, **common)
    route: dict[tuple[str, str], str | None] = {}
    for slot in search.slots:
        if slot.staff_id in team:
            continue  # their times for this service are the team page's
        key = (slot.staff_id, slot.appointment_type_id)
        if key not in route:
            # One trainer's free time is not the whole collective's: offer it on their own pages.
            ranked = ranked_pages(pages, slot.staff_id, slot.appointment_type_id, together=False)
            route[key] = ranked[0].slug if ranked else None
        if route[key]:  # times nobody can book online are not offered
            found.append((slot, route[key]))
    return search, found


def _services_to_search(pages: list[BookingPage], duration: int | None, staff_id: str | None) -> list[str]:
    """Every service that can be booked online (with the trainer, when given; of `duration`, when
    given), by name. Empty: none of that duration (search_slots then says so)."""
    types = bookable_services(pages, staff_id)
    if duration:
        types = [t for t in types if t.duration_minutes == duration]
    return [str(t.id) for t in types]


def bookable_services(pages: list[BookingPage], staff_id: str | None = None) -> list[AppointmentType]:
    """The services some active public booking page offers (with the trainer, when given), by name;
    ToolError no_booking_link when there is none."""
    bookable = {t for p in pages if p.staff_ids and (staff_id is None or staff_id in p.staff_ids)
                for t in p.type_ids}
    if not bookable:
        where = " with this trainer." if staff_id else "."
        raise ToolError("no_booking_link", "Nothing can be booked online" + where, hint=HINTS["no_booking_link"],
                        status=409)
    return list(db.session.scalars(
        select(AppointmentType).where(AppointmentType.id.in_([uuid.UUID(t) for t in bookable]))
        .order_by(AppointmentType.name, AppointmentType.id)))


def list_services(args: ListServicesInput, principal: Principal, now: dt.datetime) -> dict:
    """What can be booked online: each service with its trainers and the pages that book it, and each
    trainer with their services — from the same public booking pages the other tools book through."""
    pages = booking_pages(principal.organization_id)
    staff = str(args.staff_id) if args.staff_id else None
    services = bookable_services(pages, staff)
    wanted = {str(t.id) for t in services}
    trainer_ids = {s for p in pages if p.type_ids & wanted for s in p.staff_ids if staff is None or s == staff}
    trainers = {str(u.id): u.name for u in db.session.scalars(
        select(User).where(User.id.in_([uuid.UUID(i) for i in trainer_ids])).order_by(User.name, User.id))}
    result = []
    for service in services:
        sid = str(service.id)
        offering = [p for p in pages if sid in p.type_ids and p.staff_ids]
        with_service = {s for p in offering for s in p.staff_ids if s in trainers}
        result.append({
            "id": sid, "name": service.name, "duration": service.duration_minutes,
            "description": service.description or None, "price": service.price_display,
            "trainers": [{"id": i, "name": n} for i, n in trainers.items() if i in with_service],
            "bookingPages": [{"slug": p.slug, "name": p.name, "type": p.type}
                             for p in sorted(offering, key=lambda p: (p.name.casefold(), p.slug))],
        })
    return {"success": True, "services": result,
            "trainers": [{"id": i, "name": n, "serviceIds": [r["id"] for r in result
                                                            if any(t["id"] == i for t in r["trainers"])]}
                         for i, n in trainers.items()]}


def book_slot(args: BookSlotInput, principal: Principal, now: dt.datetime) -> dict:
    """A booking through the page that offers this trainer and service; its manage link, shown once."""
    page = resolve_booking_link(principal.organization_id, staff_id=args.staff_id,
                                appointment_type_id=args.appointment_type_id,
                                booking_link_slug=args.booking_link_slug, staff_ids=args.staff_ids)
    # A collective page books every trainer on it: naming one would book that trainer alone.
    staff_id = str(args.staff_id) if args.staff_id and page.type != "collective" else None
    try:
        result = bookings.create_booking(
            link_slug=page.slug, start_time=args.start_time, end_time=args.end_time,
            attendee_name=args.attendee_name, attendee_email=args.attendee_email,
            attendee_phone=args.attendee_phone, attendee_phone_country=args.attendee_phone_country,
            attendee_timezone=args.attendee_timezone,
            appointment_type_id=str(args.appointment_type_id) if args.appointment_type_id else None,
            staff_id=staff_id, description=args.description, location_details=args.location_details,
            idempotency_key=args.idempotency_key, actor=principal.actor, source="ai", now=now,
        )
    except bookings.SlotTaken as exc:  # the alternatives are times on the same page: say which
        raise from_service_error(exc, BookSlotInput, link_slug=page.slug) from None
    payload = {"success": True,
               "booking": booking_json(result.booking, result.staff_name, result.appointment_type_name),
               "bookingLinkSlug": page.slug}
    if result.created:
        payload["manageToken"] = result.manage_token
        payload["manageUrl"] = bookings.manage_url(result.manage_token)
    else:
        payload["idempotentReplay"] = True
        payload["message"] = "This idempotencyKey was used before: this is the booking it made."
    return payload


def _load_booking(args: BookingRefInput, principal: Principal) -> Booking:
    """The booking a call names, visible to the principal (another organization's: not found)."""
    if args.manage_token:
        booking = bookings.get_booking_by_token(args.manage_token)
        if booking.organization_id != principal.organization_id or (args.booking_id and booking.id != args.booking_id):
            raise NotFound("This booking link is not valid.", fields={"token": "not a manage token of this booking"})
        return booking
    if principal.manage_token_required:
        raise ToolError("manage_token_required", "A booking can only be looked up or changed with its manage link.",
                        hint="Ask the customer for the link in their confirmation email (/booking/manage/<token>) "
                             "and pass the token as manageToken.", status=403,
                        details={"fields": {"manageToken": "required"}})
    if args.booking_id is None:
        raise InvalidRequest("Say which booking: bookingId (or manageToken).",
                             fields={"booking_id": "required (or manageToken)"})
    booking = reports.get_booking(principal.organization_id, args.booking_id)
    if principal.own_bookings_of is not None and booking.staff_id != principal.own_bookings_of:
        raise ToolError("forbidden", "This is another trainer's booking.",
                        hint="Trainers see their own bookings; an owner or admin can see all.", status=403)
    return booking


def _change_payload(booking: Booking) -> dict:
    return {"success": True, "booking": booking_json(booking)}


def reschedule_booking(args: RescheduleBookingInput, principal: Principal, now: dt.datetime) -> dict:
    """The booking moved, by the same rules as a customer's move (the cutoff included)."""
    booking = _load_booking(args, principal)
    moved = bookings.reschedule_booking(booking.id, start_time=args.start_time,
                                        staff_id=str(args.staff_id) if args.staff_id else None,
                                        actor=principal.actor, now=now)
    return _change_payload(moved)


def cancel_booking(args: CancelBookingInput, principal: Principal, now: dt.datetime) -> dict:
    """The booking cancelled, by the same rules as a customer's cancellation."""
    booking = _load_booking(args, principal)
    return _change_payload(bookings.cancel_booking(booking.id, reason=args.reason, actor=principal.actor, now=now))


def get_booking(args: GetBookingInput, principal: Principal, now: dt.datetime) -> dict:
    """One booking, until when it can still be changed online, and whether it can be moved online
    (not once its booking page is taken down: reschedule_booking would answer link_inactive)."""
    booking = _load_booking(args, principal)
    org = db.session.get(Organization, booking.organization_id)
    until = bookings.change_deadline(booking, org)
    return {"success": True, "booking": booking_json(booking), "canChangeUntil": iso_utc(until),
            "canChangeOnline": booking.is_active and now < until,
            "canRescheduleOnline": now < until and bookings.can_move_online(booking, org, now),
            "cancellationCutoffMinutes": org.cancellation_cutoff_minutes}


def get_bookings(args: GetBookingsInput, principal: Principal, now: dt.datetime) -> dict:
    """A page of the organization's bookings as the dashboard lists them (a trainer's: only their own):
    a collective booking once, naming all its trainers; startDate alone lists from that date on."""
    org = db.session.get(Organization, principal.organization_id)
    tz = require_zone(args.timezone, default=org.timezone)
    staff_id = args.staff_id
    if principal.own_bookings_of is not None:
        if staff_id is not None and staff_id != principal.own_bookings_of:
            raise ToolError("forbidden", "Trainers see only their own bookings.",
                            hint="Leave staffId out to list your own.", status=403)
        staff_id = principal.own_bookings_of
    filters = reports.BookingFilter(status=args.status, staff_id=staff_id, date_from=args.start_date,
                                    date_to=args.end_date, q=args.search, when=args.when)
    page = reports.list_bookings(principal.organization_id, tz, filters, page=args.page, per_page=args.limit, now=now)
    return {"success": True, "bookings": [booking_json(b, trainers=page.staff_of(b)) for b in page.bookings],
            "total": page.total, "page": page.page, "pages": page.pages, "limit": page.per_page, "timezone": tz}
