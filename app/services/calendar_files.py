"""Calendar files for bookings (RFC 5545, built with icalendar), and add-to-calendar links."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Atlas Booking//Bookings//EN"


def event_uid(booking) -> str:
    """Stable across reschedules, so calendars update the one event instead of adding another."""
    return f"booking-{booking.id}@atlas-booking"


def booking_calendar(booking, *, method: str | None = None, organizer_email: str | None = None,
                     manage_link: str | None = None) -> Calendar:
    """A VCALENDAR holding the booking as one VEVENT (METHOD set for email invitations)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    event = Event()
    event.add("uid", event_uid(booking))
    event.add("sequence", booking.sequence)
    event.add("dtstamp", datetime.now(timezone.utc))
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    event.add("summary", summary(booking))
    description = booking.description or ""
    if manage_link:
        description = (description + "\n\n" if description else "") + f"Change or cancel: {manage_link}"
    if description:
        event.add("description", description)
    location = booking.location_details or (booking.appointment_type.location if booking.appointment_type else None)
    if location:
        event.add("location", location)
    cancelled = booking.status == "cancelled" or method == "CANCEL"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if organizer_email:
        organizer = vCalAddress(f"mailto:{organizer_email}")
        organizer.params["cn"] = vText(booking.staff.name if booking.staff else "Atlas Booking")
        event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{booking.attendee_email}")
    attendee.params["cn"] = vText(booking.attendee_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("ACCEPTED")
    event.add("attendee", attendee)
    cal.add_component(event)
    return cal


def summary(booking) -> str:
    what = booking.appointment_type.name if booking.appointment_type else (booking.title or "Appointment")
    who = booking.staff.name if booking.staff else None
    return f"{what} with {who}" if who else what


def booking_ics(booking, manage_link: str | None = None) -> bytes:
    return booking_calendar(booking, manage_link=manage_link).to_ical()


def google_calendar_url(booking) -> str:
    """An add-to-Google-Calendar link (no account connection needed). It carries what the event says,
    never the manage link: that is the customer's secret, and this address is read by Google."""
    fmt = "%Y%m%dT%H%M%SZ"
    params = {
        "action": "TEMPLATE",
        "text": summary(booking),
        "dates": f"{booking.start_at.astimezone(timezone.utc).strftime(fmt)}/"
                 f"{booking.end_at.astimezone(timezone.utc).strftime(fmt)}",
        "details": booking.description or "",
    }
    location = booking.location_details or (booking.appointment_type.location if booking.appointment_type else None)
    if location:
        params["location"] = location
    return "https://calendar.google.com/calendar/render?" + urlencode(params)
