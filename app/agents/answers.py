"""What the tools answer with: a booking and a free time, in the spec's camelCase shapes.

Times are UTC (`…Z`), with local times beside them; ids are strings.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.models import Booking, User
from app.services.bookings import summarize
from app.services.scheduling.engine import Slot
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
