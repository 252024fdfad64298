"""What the tools answer with: a booking and a free time, in the spec's camelCase shapes.

Times are UTC (`…Z`), with local times beside them; ids are strings.
"""
from __future__ import annotations

from app.models import Booking
from app.services.scheduling.engine import Slot
from app.timeformat import iso_local, iso_utc


def booking_json(booking: Booking, staff_name: str | None = None, type_name: str | None = None) -> dict:
    """A booking as the tools show it: UTC times, and local ones in the customer's zone."""
    tz = booking.attendee_timezone or "UTC"
    if staff_name is None and booking.staff is not None:
        staff_name = booking.staff.name
    if type_name is None and booking.appointment_type is not None:
        type_name = booking.appointment_type.name
    return {
        "id": str(booking.id),
        "status": booking.status,
        "startTime": iso_utc(booking.start_at),
        "endTime": iso_utc(booking.end_at),
        "localStart": iso_local(booking.start_at, tz),
        "localEnd": iso_local(booking.end_at, tz),
        "timezone": tz,
        "duration": booking.duration_minutes,
        "staff": {"id": str(booking.staff_id), "name": staff_name},
        "appointmentType": ({"id": str(booking.appointment_type_id), "name": type_name}
                            if booking.appointment_type_id else None),
        "attendee": {"name": booking.attendee_name, "email": booking.attendee_email,
                     "phone": booking.attendee_phone},
        "description": booking.description,
        "locationDetails": booking.location_details,
        "cancellationReason": booking.cancellation_reason,
        "createdAt": iso_utc(booking.created_at),
    }


def slot_json(slot: Slot, tz: str, duration: int, link_slug: str | None) -> dict:
    """A free time as find_availability offers it: ready to pass to book_slot unchanged."""
    return {
        "startTime": iso_utc(slot.start), "endTime": iso_utc(slot.end),
        "localStart": iso_local(slot.start, tz), "localEnd": iso_local(slot.end, tz), "duration": duration,
        "staffId": slot.staff_id, "staffName": slot.staff_name, "staffIds": list(slot.staff_ids),
        "appointmentTypeId": slot.appointment_type_id, "bookingLinkSlug": link_slug,
    }
