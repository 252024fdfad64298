"""Calendar files for bookings (RFC 5545, built with icalendar), and add-to-calendar links."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Atlas Booking//Bookings//EN"


def event_uid(booking) -> str:
    """Stable across reschedules, so calendars update the one event instead of adding another."""
    return f"booking-{booking.id}@atlas-booking"


# How calendar files travel by email: METHOD:PUBLISH, an event to add, not an invitation to answer.
# Nothing reads replies (an iTIP REPLY from "Yes"/"No" would go to an address no one processes, and
# Outlook removes the event on "No" while the booking stays), so no client is offered RSVP buttons:
# the file carries an ORGANIZER (the gym, with its contact address) and no ATTENDEE (RFC 5546
# §3.2.1), and a change or a cancellation is the same UID with a higher SEQUENCE (STATUS:CANCELLED
# for a cancellation). Changing or cancelling is done with the manage link the file carries.
EMAIL_METHOD = "PUBLISH"


def booking_location(booking, address: str | None = None) -> str | None:
    """Where the booking takes place, on one line: the place the booking names (its
    `location_details`, which a booking takes from its service when made: "Studio 2", "Online"),
    else its service's, else the gym's postal `address`. A named place is never joined to the
    address: "Online, 12 High Street" would send a phone's travel alerts to the gym."""
    place = booking.location_details or (booking.appointment_type.location if booking.appointment_type else None)
    if place:
        return place
    lines = [line.strip() for line in (address or "").splitlines() if line.strip()]
    return ", ".join(lines) or None


def booking_calendar(booking, *, method: str | None = None, cancelled: bool = False,
                     organizer: tuple[str, str] | None = None, manage_link: str | None = None,
                     address: str | None = None) -> Calendar:
    """A VCALENDAR holding the booking as one VEVENT: with `method` (EMAIL_METHOD) for an email,
    without for a file to download. `organizer`: (name, address) of who the event is from — the
    gym; `cancelled`: the event as cancelled (also when the booking is); `address`: the gym's postal
    address, for the LOCATION (booking_location)."""
    description = booking.description or ""
    if manage_link:
        description = (description + "\n\n" if description else "") + f"Change or cancel: {manage_link}"
    return _one_event(uid=event_uid(booking), sequence=booking.sequence, start=booking.start_at, end=booking.end_at,
                      summary=summary(booking), description=description,
                      location=booking_location(booking, address),
                      cancelled=cancelled or booking.status == "cancelled", method=method, organizer=organizer)


def _one_event(*, uid: str, sequence: int, start: datetime, end: datetime, summary: str, description: str,
               location: str | None, cancelled: bool, method: str | None,
               organizer: tuple[str, str] | None) -> Calendar:
    """A VCALENDAR with one VEVENT (what every calendar file here is)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", datetime.now(timezone.utc))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if organizer:
        name, address = organizer
        who = vCalAddress(f"mailto:{address}")
        who.params["cn"] = vText(name)
        event.add("organizer", who)
    event.add("transp", "OPAQUE")
    cal.add_component(event)
    return cal


def summary(booking) -> str:
    what = booking.appointment_type.name if booking.appointment_type else (booking.title or "Appointment")
    who = booking.staff.name if booking.staff else None
    return f"{what} with {who}" if who else what


def booking_ics(booking, manage_link: str | None = None, address: str | None = None) -> bytes:
    return booking_calendar(booking, manage_link=manage_link, address=address).to_ical()


def google_calendar_url(booking, address: str | None = None) -> str:
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
    location = booking_location(booking, address)
    if location:
        params["location"] = location
    return "https://calendar.google.com/calendar/render?" + urlencode(params)


# --- a spot in a group class -------------------------------------------------------------------------

def class_event_uid(spot) -> str:
    """One UID per spot, stable across the session's moves (each raises SEQUENCE), so a person's
    calendar keeps one event for their place in the class and updates or cancels it."""
    return f"class-spot-{spot.id}@atlas-booking"


def class_location(session, address: str | None = None) -> str | None:
    """Where the class takes place, on one line: the session's place, else its class type's, else the
    gym's postal `address` (never joined: see booking_location)."""
    place = session.location or (session.class_type.location if session.class_type else None)
    if place:
        return place
    lines = [line.strip() for line in (address or "").splitlines() if line.strip()]
    return ", ".join(lines) or None


def class_summary(session) -> str:
    what = session.class_type.name if session.class_type else "Class"
    who = session.instructor.name if session.instructor else None
    return f"{what} with {who}" if who else what


def class_calendar(spot, session, *, method: str | None = None, cancelled: bool = False,
                   organizer: tuple[str, str] | None = None, manage_link: str | None = None,
                   address: str | None = None) -> Calendar:
    """A VCALENDAR holding the person's spot in the session as one VEVENT (UID per spot, SEQUENCE the
    session's), as booking_calendar does for a booking; `cancelled` (or a cancelled spot or session)
    marks it STATUS:CANCELLED."""
    description = (session.class_type.description or "") if session.class_type else ""
    if manage_link:
        description = (description + "\n\n" if description else "") + f"Cancel your spot: {manage_link}"
    return _one_event(uid=class_event_uid(spot), sequence=session.sequence or 0, start=session.start_at,
                      end=session.end_at, summary=class_summary(session), description=description,
                      location=class_location(session, address),
                      cancelled=cancelled or spot.status == "cancelled" or session.status == "cancelled",
                      method=method, organizer=organizer)
