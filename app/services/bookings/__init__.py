"""Bookings: the lifecycle of a customer's appointment, one code path for every caller.

The booking page, the JSON API, the dashboard, the AI agents and the trainer's Google Calendar all
make, move and cancel bookings through these functions, so every rule holds on every path:
availability is re-checked inside the writing transaction and the database refuses an overlap
(create.py, change.py); customers and agents respect the change cutoff, and nobody changes a booking
that is over (policy.py); customers and agents move a booking online only while the booking page it
was made on still offers it (online.py); ended bookings become completed (completion.py, a
periodic job); every change is audited (audit.py), notifies (services/notifications) and is
mirrored to Google (services/calendar); manage links are secret and shown once (manage_links.py);
a trainer's change in Google becomes a booking change (calendar_changes.py); staff book from the
dashboard through create_booking too, on the page staff.py chooses for the service and trainer.

Exported for the rest of the portal; the modules import each other directly.
"""
from app.services.bookings.alternatives import SlotTaken, find_alternatives
from app.services.bookings.attendee import (
    normalise_email,
    normalise_name,
    normalise_phone,
)
from app.services.bookings.audit import Actor, record_audit, snapshot
from app.services.bookings.calendar_changes import (
    PassOutcome,
    SyncOutcome,
    calendar_pass,
    setup_connection,
    sync_calendar,
)
from app.services.bookings.change import (
    cancel_booking,
    reschedule_booking,
    set_booking_status,
)
from app.services.bookings.completion import complete_past_bookings
from app.services.bookings.create import BookingResult, create_booking
from app.services.bookings.manage_links import (
    booking_ics,
    get_booking_by_token,
    google_calendar_url,
    hash_token,
    manage_url,
    new_manage_token,
)
from app.services.bookings.online import can_move_online, online_move_refusal
from app.services.bookings.policy import change_deadline, changes_closed, check_cutoff
from app.services.bookings.staff import (
    ServiceChoice,
    booking_page_for,
    staff_booking_services,
    staff_free_times,
)
from app.services.bookings.summary import BookingSummary, summarize

__all__ = [
    "Actor", "BookingResult", "BookingSummary", "PassOutcome", "ServiceChoice", "SlotTaken", "SyncOutcome",
    "booking_ics", "booking_page_for", "calendar_pass",
    "can_move_online", "cancel_booking", "change_deadline", "changes_closed", "check_cutoff", "complete_past_bookings",
    "create_booking", "find_alternatives",
    "get_booking_by_token", "google_calendar_url", "hash_token", "manage_url", "new_manage_token",
    "normalise_email", "normalise_name", "normalise_phone", "online_move_refusal", "record_audit", "reschedule_booking",
    "set_booking_status", "setup_connection", "snapshot", "staff_booking_services", "staff_free_times", "summarize",
    "sync_calendar",
]
