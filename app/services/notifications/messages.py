"""What each message says: the kinds of message, rendering a row into an email or an SMS, and the
text helpers its templates use.

Messages are rendered at send time from the booking as it is then (templates/notifications/
<template>.subject.txt, .txt, .html for email; .sms.txt for SMS). Times are written in the
attendee's zone with the zone named (trainers see their own); an SMS is GSM-7 text fitted into one
segment (sms_message).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from flask import render_template

from app.integrations import email as email_integration
from app.models import Booking, ClassBooking, Notification, Organization
from app.services import calendar_files as ics
from app.services import identity, urls
from app.services.branding import palette, safe_logo_url
from app.services.notifications import gsm
from app.services.notifications.opt_outs import unseal, unsubscribe_link
from app.services.phones import international
from app.services.zones import first_zone
from app.timeformat import duration_text

# --- what each template is ------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """Who a template is for, and when its message must not go out any more."""

    audience: str                     # attendee | staff
    # The booking's calendar file attached: "event" (as it is now) or "cancelled" (docs/notifications.md,
    # "Calendar files": always METHOD:PUBLISH, so no client offers a Yes/No nobody would read).
    calendar: str | None = None
    # Skip when the booking's sequence moved on since the row was written.
    stale_on_sequence: bool = False
    # Skip when the booking is no longer active (cancelled, finished).
    needs_active: bool = False
    reminder: bool = False
    # A message about a booking (its row names one); staff messages about their calendar sync are not.
    about_booking: bool = True
    # A message about a spot in a class (its row names a ClassBooking, and no booking).
    about_class: bool = False
    # A class message goes only while the spot is in one of these states (None: in any).
    spot_statuses: tuple[str, ...] | None = None


KINDS = {
    "booking_confirmation": Kind("attendee", calendar="event"),
    "booking_update": Kind("attendee", calendar="event", stale_on_sequence=True),
    "booking_cancellation": Kind("attendee", calendar="cancelled"),
    "booking_reminder": Kind("attendee", stale_on_sequence=True, needs_active=True, reminder=True),
    "staff_booking_created": Kind("staff"),
    "staff_booking_rescheduled": Kind("staff", stale_on_sequence=True),
    "staff_booking_cancelled": Kind("staff"),
    # A booking moved from one trainer to another: the new one is told it is theirs, the old one
    # that it is not any more (not "booking moved" to someone who never had it).
    "staff_booking_assigned": Kind("staff", stale_on_sequence=True),
    "staff_booking_unassigned": Kind("staff", stale_on_sequence=True),
    "staff_calendar_reconnect": Kind("staff", about_booking=False),
    "staff_calendar_write_failures": Kind("staff", about_booking=False),
    # Group classes (rows written by class_messages.py; docs/notifications.md, "Classes"). Each goes
    # only while it is still true: "you're booked" not after the spot was given up, "you're on the
    # waitlist" not once the person was promoted (class_promoted says so) or left the list, a
    # reminder only for a confirmed spot in a class that is still on at the time it was written for.
    "class_booked": Kind("attendee", calendar="event", about_booking=False, about_class=True,
                         spot_statuses=("confirmed",)),
    "class_waitlisted": Kind("attendee", about_booking=False, about_class=True, spot_statuses=("waitlisted",)),
    "class_promoted": Kind("attendee", calendar="event", about_booking=False, about_class=True,
                           spot_statuses=("confirmed",)),
    "class_spot_cancelled": Kind("attendee", calendar="cancelled", about_booking=False, about_class=True),
    "class_session_cancelled": Kind("attendee", calendar="cancelled", about_booking=False, about_class=True),
    "class_session_changed": Kind("attendee", calendar="event", stale_on_sequence=True, about_booking=False,
                                  about_class=True, spot_statuses=("confirmed", "waitlisted")),
    "class_reminder": Kind("attendee", stale_on_sequence=True, needs_active=True, reminder=True,
                           about_booking=False, about_class=True, spot_statuses=("confirmed",)),
}


# --- rendering -------------------------------------------------------------------------------------

@dataclass
class Rendered:
    """A message ready to send: subject, text and HTML (and calendar) for email, or the SMS text."""

    subject: str = ""
    text: str = ""
    html: str | None = None
    sms: str = ""
    calendar: bytes | None = None
    calendar_method: str | None = None
    headers: dict = field(default_factory=dict)
    # The From display name: the gym's (the address stays the portal's SMTP_FROM, which the mail
    # domain's SPF and DKIM cover; replies go to the gym through Reply-To).
    from_name: str | None = None


def render(row: Notification, booking: Booking | None, org: Organization, staff: dict, *,
           now: datetime | None = None, spot: ClassBooking | None = None) -> Rendered:
    """The message for `row`, from its template and the booking as it is now (None for a message
    about no booking), or the spot in a class and its session (`spot`, for a class message)."""
    kind = KINDS[row.template]
    if kind.about_class:
        context = class_context(row, spot, org, staff, now=now)
    elif kind.about_booking:
        context = message_context(row, booking, org, staff, now=now)
    else:
        context = staff_context(row, org, staff)
    name = f"notifications/{row.template}"
    if row.channel == "sms":
        return Rendered(sms=sms_message(f"{name}.sms.txt", context))
    rendered = Rendered(
        subject=" ".join(render_template(f"{name}.subject.txt", **context).split()),
        text=render_template(f"{name}.txt", **context).strip() + "\n",
        html=render_template(f"{name}.html", **context),
        from_name=identity.sender_name(org.name),
    )
    reply_to = reply_to_address(org.contact_email) if kind.audience == "attendee" else None
    if kind.calendar:
        cancelled = kind.calendar == "cancelled"
        organizer = (org.name, reply_to or email_integration.sender_address())
        manage_link = None if cancelled else context["manage_url"]
        calendar = ics.class_calendar(spot, spot.session, method=ics.EMAIL_METHOD, cancelled=cancelled,
                                      organizer=organizer, manage_link=manage_link, address=org.postal_address) \
            if kind.about_class else \
            ics.booking_calendar(booking, method=ics.EMAIL_METHOD, cancelled=cancelled, organizer=organizer,
                                 manage_link=manage_link, address=org.postal_address)
        rendered.calendar = calendar.to_ical()
        rendered.calendar_method = ics.EMAIL_METHOD
    if reply_to:  # a customer's reply reaches the gym's desk, not the portal's sending address
        rendered.headers["Reply-To"] = reply_to
    if kind.reminder and context.get("unsubscribe_url"):  # what unsubscribing stops: reminders
        rendered.headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
        rendered.headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return rendered


def reply_to_address(value: str | None) -> str | None:
    """The gym's contact address fit for a Reply-To header, or None: when it has none, or the value
    is not one plain valid address (a line break in it would add headers of its own; a display
    name, or non-ASCII before the @, which needs SMTPUTF8, is not taken either)."""
    if not value or "\r" in value or "\n" in value:
        return None
    try:
        address = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return address.ascii_email


# --- SMS: one GSM-7 segment ----------------------------------------------------------------------

SMS_SEPTETS = gsm.SINGLE_SEGMENT["GSM-7"]
OPT_OUT, OPT_OUT_SHORT = "Reply STOP to opt out.", "STOP to opt out."


def sms_text(text: str) -> str:
    """One line of GSM-7 text: "ë", curly quotes or an emoji would send the whole SMS as UCS-2
    (70 characters a segment), so they are transliterated or left out (gsm.to_gsm)."""
    return " ".join(gsm.to_gsm(text).split())


def sms_message(template: str, context: dict) -> str:
    """The SMS `template` says, in one GSM-7 segment (160 septets) whenever it can be.

    The names in it are transliterated first (a name with nothing left — all emoji or CJK — is
    left out; a service then reads "Appointment"). The message is rendered as written and, while
    it is too long, changed in this order until it fits (SMS_FITTING): the opt-out says "STOP to
    opt out." (as clear, 6 septets shorter); the trainer's name goes (the manage page has it); the
    service and the gym's name are shortened (the longer first, ending "...") to no less than 24
    septets; the template's compact wording is used (`compact` 1), then without the link's label
    ("Change:", `compact` 2); the names go down to 6 septets. Room a step freed beyond what was
    needed goes back to the names. The time, the link and the opt-out are never cut: with an
    address too long for all that (an APP_URL of 80 characters) the message goes whole, in two
    segments."""
    names = {"org_name": sms_text(context.get("org_name") or "") or None,
             "service": sms_text(context.get("service") or "") or "Appointment",
             "trainer": sms_text(context.get("trainer") or "") or None}
    context = {**context, **names, "opt_out": OPT_OUT, "compact": 0}
    text = _render_sms(template, context)
    for change in SMS_FITTING:
        excess = gsm.sms_length(text).units - SMS_SEPTETS
        if excess <= 0:
            break
        context.update(change(context, names, excess))
        text = _render_sms(template, context)
    room = SMS_SEPTETS - gsm.sms_length(text).units
    if room > 0 and any(context[key] != names[key] for key in NAMES_SHORTENED):
        wider = _render_sms(template, {**context, **_names_widened(context, names, room)})
        if gsm.sms_length(wider).units <= SMS_SEPTETS:
            text = wider
    return text


def _render_sms(template: str, context: dict) -> str:
    return sms_text(render_template(template, **context))


def _without_trainer(context: dict, names: dict, excess: int) -> dict:
    return {"trainer": None}


def _short_opt_out(context: dict, names: dict, excess: int) -> dict:
    return {"opt_out": OPT_OUT_SHORT}


def _compact_wording(level: int):
    def compact(context: dict, names: dict, excess: int) -> dict:
        return {"compact": level}
    return compact


def _names_shortened(floor: int):
    def shorten(context: dict, names: dict, excess: int) -> dict:
        return _names_resized(context, names, excess, floor=floor)
    return shorten


NAMES_SHORTENED = ("service", "org_name")


def _names_resized(context: dict, names: dict, excess: int, *, floor: int) -> dict:
    """The service and the gym's name, `excess` septets shorter together: one septet at a time off
    whichever is longer now, neither going below `floor`, so the two end up as even as they can
    be; each is cut afresh from its full form."""
    keys = [key for key in NAMES_SHORTENED if context[key]]
    size = {key: gsm.sms_length(context[key]).units for key in keys}
    for _ in range(excess):
        key = max(keys, key=size.get, default=None)
        if key is None or size[key] <= floor:
            break
        size[key] -= 1
    return {key: gsm.shorten(names[key], size[key]) for key in keys}


def _names_widened(context: dict, names: dict, room: int) -> dict:
    """The shortened names given back up to `room` septets (a cut ends at a whole word, so a name
    takes several septets at once or none): each time to the shorter name that a few more
    septets lengthen."""
    current = {key: context[key] for key in NAMES_SHORTENED if context[key]}
    while room > 0:
        for key in sorted(current, key=lambda k: gsm.sms_length(current[k]).units):
            used = gsm.sms_length(current[key]).units
            longer = next((text for text in (gsm.shorten(names[key], used + extra) for extra in range(1, room + 1))
                           if gsm.sms_length(text).units > used), None)
            if longer is not None:
                room -= gsm.sms_length(longer).units - used
                current[key] = longer
                break
        else:
            break
    return current


SMS_FITTING = (_short_opt_out, _without_trainer, _names_shortened(24), _compact_wording(1), _compact_wording(2),
               _names_shortened(6))


def message_context(row: Notification, booking: Booking, org: Organization, staff: dict, *,
                    now: datetime | None = None) -> dict:
    """What every template can use (`now`: when it is sent, for how far ahead the booking is)."""
    ctx = row.context or {}
    is_staff = KINDS[row.template].audience == "staff"
    member = staff.get(uuid.UUID(ctx["staff_id"])) if ctx.get("staff_id") else None
    tz = first_zone(member.timezone if is_staff and member else None, booking.attendee_timezone, org.timezone)
    token = unseal(ctx.get("manage"))
    link = booking.booking_link
    book_url = urls.book_url(link.slug) if link is not None and link.is_public and link.is_active else urls.app_url()
    previous_start = _parse_instant(ctx.get("start_at"))
    previous_end = _parse_instant(ctx.get("end_at"))
    service = booking.appointment_type.name if booking.appointment_type else (booking.title or "Appointment")
    trainer = booking.staff.name if booking.staff else None
    offset = ctx.get("offset_minutes")
    return {
        "org_name": org.name,
        "brand": brand_for(booking, org),
        "attendee_name": booking.attendee_name,
        "first_name": booking.attendee_name.split()[0] if booking.attendee_name else "there",
        "attendee_email": booking.attendee_email,
        "attendee_phone": booking.attendee_phone,
        "service": service,
        "trainer": trainer,
        "staff_name": member.name if member else trainer,
        "location": ics.booking_location(booking, org.postal_address),
        "description": booking.description,
        "duration_minutes": booking.duration_minutes,
        "when": when_text(booking.start_at, booking.end_at, tz),
        "when_short": when_short(booking.start_at, tz),
        "date_short": date_short(booking.start_at, tz),
        "previous_when": when_text(previous_start, previous_end, tz) if previous_start and previous_end else None,
        "previous_staff_name": ctx.get("previous_staff_name"),
        "timezone": tz,
        "reason": booking.cancellation_reason,
        # An SMS carries the short form (/m/<token>): in one segment every character counts.
        "manage_url": (urls.short_manage_url(token) if row.channel == "sms" else urls.manage_url(token))
        if token else None,
        "book_url": book_url,
        "dashboard_url": urls.dashboard_booking_url(booking.id),
        "unsubscribe_url": unsubscribe_link(org.id, row.recipient) if not is_staff and row.channel == "email" else None,
        "lead_time": lead_time_text(booking.start_at, now or datetime.now(timezone.utc), tz) if offset else None,
        "reminder_offsets": offset,
        **gym_contact(org),
    }


def class_context(row: Notification, spot: ClassBooking, org: Organization, staff: dict, *,
                  now: datetime | None = None) -> dict:
    """What a class message can use: the class, its time in the attendee's zone (the gym's when
    they gave none), the instructor, the place, the manage link; the waitlist position the row was
    written with (`position`), the reason a session was cancelled, and for a changed session its
    time (and instructor) before the change. The names `service` and `trainer` are the class and the
    instructor, so SMS fitting (sms_message) treats them as it treats an appointment's."""
    ctx = row.context or {}
    session = spot.session
    tz = first_zone(spot.attendee_timezone, org.timezone)
    token = unseal(ctx.get("manage"))
    previous_start = _parse_instant(ctx.get("previous_start_at"))
    previous_end = previous_start + (session.end_at - session.start_at) if previous_start else None
    previous_id = ctx.get("previous_instructor_id")
    was = staff.get(_uuid_or_none(previous_id)) if previous_id and previous_id != str(session.instructor_id) else None
    class_name = session.class_type.name if session.class_type else "Class"
    instructor = session.instructor.name if session.instructor else None
    offset = ctx.get("offset_minutes")
    position = ctx.get("position")
    return {
        "org_name": org.name,
        "brand": brand_of(None, org),
        "attendee_name": spot.attendee_name,
        "first_name": spot.attendee_name.split()[0] if spot.attendee_name else "there",
        "class_name": class_name,
        "service": class_name,
        "trainer": instructor,
        "location": ics.class_location(session, org.postal_address),
        "description": session.class_type.description if session.class_type else None,
        "when": when_text(session.start_at, session.end_at, tz),
        "when_short": when_short(session.start_at, tz),
        "date_short": date_short(session.start_at, tz),
        "previous_when": when_text(previous_start, previous_end, tz)
        if previous_start and previous_start != session.start_at else None,
        "previous_trainer": was.name if was else None,
        "timezone": tz,
        "position": position if isinstance(position, int) and position > 0 else None,
        "reason": ctx.get("reason") or session.cancellation_reason or spot.cancellation_reason,
        "cancel_kind": ctx.get("kind"),
        "was_waitlisted": ctx.get("was") == "waitlisted",
        "manage_url": (urls.short_manage_url(token) if row.channel == "sms" else urls.manage_url(token))
        if token else None,
        "unsubscribe_url": unsubscribe_link(org.id, row.recipient) if row.channel == "email" else None,
        "lead_time": lead_time_text(session.start_at, now or datetime.now(timezone.utc), tz) if offset else None,
        "reminder_offsets": offset,
        **gym_contact(org),
    }


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def staff_context(row: Notification, org: Organization, staff: dict) -> dict:
    """What a staff message about no booking can use: what the row was written with, the member of
    staff, the gym, and the dashboard's Calendar sync page."""
    ctx = row.context or {}
    member = staff.get(uuid.UUID(ctx["staff_id"])) if ctx.get("staff_id") else None
    return {**ctx, "org_name": org.name, "brand": brand_of(None, org), "staff_name": member.name if member else "there",
            **gym_contact(org), "calendar_sync_url": urls.calendar_sync_url(), "unsubscribe_url": None}


def gym_contact(org: Organization) -> dict:
    """How to reach the gym, for every footer: its contact address, phone and postal address."""
    return {"contact_email": org.contact_email, "gym_phone": international(org.phone) if org.phone else None,
            "postal_address": org.postal_address}


def brand_for(booking: Booking, org: Organization | None = None) -> dict:
    """The booking page's colours and logo, made safe and readable the same way the page does."""
    return brand_of(booking.booking_link.branding if booking.booking_link is not None else None, org)


def brand_of(branding, org: Organization | None = None) -> dict:
    """Colours and logo of a booking link's branding (None: the portal's own); the logo is the
    page's own, else the one uploaded in the gym's settings."""
    colours = palette(branding.primary_color if branding else None, branding.accent_color if branding else None)
    logo = safe_logo_url(branding.logo_url) if branding else None
    if not logo and org is not None:
        logo = identity.logo_path(org)
    if logo and logo.startswith("/"):
        logo = urls.app_url() + logo  # an email has no page to be relative to
    return {"primary": colours.brand, "on_primary": colours.brand_contrast, "ink": colours.brand_ink,
            "accent": colours.accent, "logo_url": logo}


# --- how times are written -------------------------------------------------------------------------

def zone_label(tz: str) -> str:
    """"London time", "New York time", "UTC"."""
    if "/" not in tz:
        return tz
    return tz.rsplit("/", 1)[1].replace("_", " ") + " time"


def when_text(start: datetime, end: datetime, tz: str) -> str:
    """"Monday 7 January 2030, 10:00–11:00 London time (GMT)"."""
    zone = ZoneInfo(tz)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = f"{local_start:%A} {local_start.day} {local_start:%B %Y}"
    end_text = f"{local_end:%H:%M}" if local_end.date() == local_start.date() else \
        f"{local_end:%a} {local_end.day} {local_end:%b} {local_end:%H:%M}"
    return f"{day}, {local_start:%H:%M}\u2013{end_text} {zone_label(tz)} ({local_start.tzname()})"


def when_short(start: datetime, tz: str) -> str:
    """"Mon 7 Jan, 10:00 GMT" (SMS)."""
    local = start.astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {local.tzname()}"


def date_short(start: datetime, tz: str) -> str:
    """"Mon 7 Jan at 10:00 GMT" (subjects): always with the zone, as the body and the SMS have it.
    A bare time in a subject is read in whatever zone the reader is in; the zone in which it is
    written (the attendee's, or a trainer's own) is often not the gym's, and no reader can tell
    which from the subject alone. Zones whose abbreviation is only an offset ("+03") are named
    as in the body: "Istanbul time"."""
    local = start.astimezone(ZoneInfo(tz))
    abbreviation = local.tzname() or ""
    zone = abbreviation if abbreviation.isalpha() else zone_label(tz)
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M} {zone}"


def lead_time_text(start: datetime, now: datetime, tz: str) -> str:
    """How far ahead the booking is as the reminder goes, from the real time left — not the
    reminder's nominal offset, so a late one says what is true: "in 3 days", "tomorrow" (the next
    local day, at least 6 hours away), "in 5 hours", "in 90 minutes" (spans are written as everywhere
    else in the portal: app/timeformat.py)."""
    zone = ZoneInfo(tz)
    days = (start.astimezone(zone).date() - now.astimezone(zone).date()).days
    minutes = max(0, int((start - now).total_seconds() // 60))
    if days >= 2:
        return f"in {days} days"
    if days == 1 and minutes >= 6 * 60:
        return "tomorrow"
    if minutes >= 180:
        return f"in {duration_text(round(minutes / 60) * 60)}"
    return f"in {duration_text(max(5, 5 * round(minutes / 5)))}"


def _parse_instant(value) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
