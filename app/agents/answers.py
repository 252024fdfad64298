"""What the tools answer with: a booking, a free time, a class session and a spot in one, in the spec's
camelCase shapes.

Times are UTC (`…Z`), with local times beside them; ids are strings.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.models import Booking, ClassBooking, ClassSession, Organization, User
from app.services import classes
from app.services.bookings import summarize
from app.services.scheduling.engine import Slot
from app.services.zones import first_zone
from app.timeformat import iso_local, iso_utc


def booking_json(booking: Booking, staff_name: str | None = None, type_name: str | None = None, *,
                 trainers: Sequence[User] | None = None) -> dict:
    """A booking as the tools show it: UTC times, and local ones in the customer's zone; with
    `trainers` (everyone it is with: all of a collective booking's), those too."""
    b = summarize(booking, staff_name, type_name)
    answer = {
        "id": b.id,
        "status": b.status,
        "startTime": iso_utc(b.start),
        "endTime": iso_utc(b.end),
        "localStart": iso_local(b.start, b.timezone),
        "localEnd": iso_local(b.end, b.timezone),
        "timezone": b.timezone,
        "duration": b.duration_minutes,
        "staff": {"id": b.staff_id, "name": b.staff_name},
        "appointmentType": ({"id": b.appointment_type_id, "name": b.appointment_type_name}
                            if b.appointment_type_id else None),
        "attendee": {"name": b.attendee_name, "email": b.attendee_email, "phone": b.attendee_phone},
        "description": b.description,
        "locationDetails": b.location_details,
        "cancellationReason": b.cancellation_reason,
        "createdAt": iso_utc(b.created_at),
    }
    if trainers is not None:
        answer["trainers"] = [{"id": str(member.id), "name": member.name} for member in trainers]
    return answer


def slot_json(slot: Slot, tz: str, duration: int, link_slug: str | None, *, change_until: datetime,
              changeable: bool, service: str | None = None) -> dict:
    """A free time as find_availability offers it: ready to pass to book_slot unchanged (`service`:
    its service's name, when known). `change_until` and `changeable` are the change cutoff's answer
    for this start (bookings.change_deadline / changes_closed): whether a booking made now could
    still be moved or cancelled online, and until when — an agent tells the customer before booking."""
    answer = {
        "startTime": iso_utc(slot.start), "endTime": iso_utc(slot.end),
        "localStart": iso_local(slot.start, tz), "localEnd": iso_local(slot.end, tz), "duration": duration,
        "staffId": slot.staff_id, "staffName": slot.staff_name, "staffIds": list(slot.staff_ids),
        "appointmentTypeId": slot.appointment_type_id, "bookingLinkSlug": link_slug,
        "changeableOnline": changeable, "canChangeOnlineUntil": iso_utc(change_until) if changeable else None,
    }
    if service is not None:
        answer["appointmentTypeName"] = service
    return answer


def class_session_json(session: ClassSession, waitlist_length: int, org: Organization, tz: str,
                       now: datetime) -> dict:
    """A class session as find_classes offers it: its sessionId goes to book_class unchanged; places,
    spots left, the waitlist, and whether a spot can be taken now (`bookable`: a place left, or the
    waitlist still open — until the gym's cutoff before the start)."""
    upcoming = session.status == "scheduled" and session.start_at > now
    waitlist_open = upcoming and classes.waitlist_open(session, org, now)
    ctype = session.class_type
    return {
        "sessionId": str(session.id), "classTypeId": str(session.class_type_id), "name": ctype.name,
        "startTime": iso_utc(session.start_at), "endTime": iso_utc(session.end_at),
        "localStart": iso_local(session.start_at, tz), "localEnd": iso_local(session.end_at, tz),
        "duration": int((session.end_at - session.start_at).total_seconds() // 60),
        "instructorId": str(session.instructor_id),
        "instructorName": session.instructor.name if session.instructor else None,
        "location": session.location or ctype.location, "status": session.status,
        "capacity": session.capacity, "booked": session.booked_count, "spotsLeft": session.spots_left,
        "waitlistLength": waitlist_length, "full": session.spots_left == 0, "waitlistOpen": waitlist_open,
        "bookable": upcoming and (session.spots_left > 0 or waitlist_open),
    }


def class_booking_json(spot: ClassBooking, session: ClassSession, position: int | None, org: Organization,
                       waitlist_length: int, now: datetime) -> dict:
    """A spot in a class as book_class answers (`kind: class`): confirmed, or waitlisted with its
    position (1 is next); local times in the customer's zone."""
    tz = first_zone(spot.attendee_timezone, org.timezone)
    return {
        "id": str(spot.id), "kind": "class", "status": spot.status, "waitlistPosition": position,
        "session": class_session_json(session, waitlist_length, org, tz, now), "timezone": tz,
        "attendee": {"name": spot.attendee_name, "email": spot.attendee_email, "phone": spot.attendee_phone},
        "createdAt": iso_utc(spot.created_at),
    }
