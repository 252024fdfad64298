"""What the public pages show, built from the request and the services (views render these).

BookPage and ManagePage gather everything a page needs; Step is the state of the picker's step
panel (choose a day, a day's slots, the details form, the confirmation of a new time).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import abort, request, url_for
from sqlalchemy import select

from app.extensions import db
from app.models import AppointmentType, Booking, BookingLink, ClassType, Organization
from app.public.forms import BookingDetailsForm, RescheduleForm
from app.public.picker import (
    CalendarMonth,
    DaySlots,
    Picker,
    PickerState,
    SlotRow,
    build_calendar,
    day_slots,
    iso_z,
    month_availability,
    parse_instant,
    parse_uuid,
)
from app.public.zones import zone_choices
from app.security import allow_framing_by
from app.services.bookings import (
    SlotTaken,
    can_move_online,
    change_deadline,
    changes_closed,
    get_booking_by_token,
    google_calendar_url,
    manage_url,
    normalise_phone,
)
from app.services.branding import Palette, palette, safe_logo_url
from app.services.calendar_files import booking_location
from app.services.errors import InvalidRequest, NotFound
from app.services.identity import logo_path
from app.services.phones import international, organization_region
from app.services.scheduling import get_public_link
from app.services.zones import valid_zone


def split_slot_value(value: str | None) -> tuple[datetime | None, str | None]:
    """"<start>|<staff id>" from a slot field → (aware UTC start, staff id)."""
    start, _, staff = (value or "").partition("|")
    return parse_instant(start), parse_uuid(staff)


def slot_value(start: datetime, staff_id: str | None) -> str:
    return f"{iso_z(start)}|{staff_id}" if staff_id else iso_z(start)


@dataclass(frozen=True)
class Brand:
    """What the branded header and colours need."""

    org_name: str
    home_url: str
    palette: Palette
    logo_url: str | None = None
    # How to reach the gym (the footer of every public page): its address lines, email and phone.
    address_lines: tuple[str, ...] = ()
    contact_email: str | None = None
    phone: str | None = None


def brand_for(org: Organization, link: BookingLink | None) -> Brand:
    branding = link.branding if link is not None else None
    home = url_for("public.book", slug=link.slug) if link is not None and link.is_public and link.is_active else \
        url_for("public.index")
    # The page's own logo, else the one uploaded in the gym's settings.
    logo = (safe_logo_url(branding.logo_url) if branding else None) or logo_path(org)
    return Brand(org_name=org.name, home_url=home,
                 palette=palette(branding.primary_color if branding else None,
                                 branding.accent_color if branding else None),
                 logo_url=logo, address_lines=tuple((org.postal_address or "").splitlines()),
                 contact_email=org.contact_email, phone=international(org.phone) if org.phone else None)


def public_link_or_404(slug: str) -> BookingLink:
    try:
        return get_public_link(slug)
    except NotFound:
        abort(404, description="There's no booking page at this address. It may have moved — "
                               "check the link the gym gave you.")


def today_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


@dataclass
class Chosen:
    """The slot a visitor picked, as shown above the details form."""

    start: datetime
    end: datetime
    staff_id: str | None
    staff_name: str | None
    # Inside the organization's change cutoff: once booked (or moved) there, it can't be changed or
    # cancelled online — said before the visitor confirms (bookings.changes_closed, the service's rule).
    locked: bool = False

    @property
    def value(self) -> str:
        return slot_value(self.start, self.staff_id)


def chosen_slot(org: Organization, start: datetime, end: datetime, staff_id: str | None,
                staff_name: str | None) -> Chosen:
    """The slot a visitor picked, and whether a booking there would be past its change deadline already."""
    return Chosen(start=start, end=end, staff_id=staff_id, staff_name=staff_name,
                  locked=changes_closed(start, org, datetime.now(timezone.utc)))


@dataclass
class Alternative:
    """A free time offered after the chosen one was taken (a radio of the form's slot field)."""

    value: str
    start: datetime
    end: datetime
    staff_name: str | None


def alternatives_from(exc: SlotTaken, show_staff: bool) -> list[Alternative]:
    """The service's nearby free slots as choices for the form."""
    return [Alternative(value=slot_value(slot.start, slot.staff_id), start=slot.start, end=slot.end,
                        staff_name=slot.staff_name if show_staff else None) for slot in exc.alternatives]


@dataclass(frozen=True)
class PhoneHint:
    """Under the phone field: the number as it will be used (+1 781-234-5678), or why it can't be."""

    number: str | None = None
    problem: str | None = None


def phone_hint(value: str | None, country: str | None) -> PhoneHint | None:
    """What `value` read in `country` will be texted as, by the booking's own rule (normalise_phone);
    None when nothing was typed."""
    if not (value or "").strip():
        return None
    try:
        number = normalise_phone(value, country)
    except InvalidRequest as exc:
        return PhoneHint(problem=exc.message)
    return PhoneHint(number=international(number))


@dataclass
class Step:
    """What the step panel shows: choose a day, a day's slots, or the form for a chosen slot."""

    kind: str  # "choose_day" | "slots" | "details" | "already_booked" | "confirm" (reschedule)
    day: DaySlots | None = None
    chosen: Chosen | None = None
    form: object | None = None
    alternatives: list[Alternative] = field(default_factory=list)
    notice: str | None = None
    notice_kind: str = "warn"
    phone_hint: PhoneHint | None = None


@dataclass
class BookPage:
    """Everything the booking page shows around the step panel."""

    link: BookingLink
    org: Organization
    brand: Brand
    types: list[AppointmentType]
    atype: AppointmentType | None
    state: PickerState
    tz: str
    picker: Picker
    calendar: CalendarMonth | None
    zones: list[tuple[str, str]]
    staff_names: list[str]
    # The gym's class timetable, when it runs classes (linked from the page's heading).
    classes_url: str | None = None


def book_page(slug: str, state: PickerState) -> BookPage:
    """The page for a public link (404 otherwise) in the state the URL asks for; unknown choices
    fall back to defaults (the first type, the organization's zone, this month)."""
    link = public_link_or_404(slug)
    org = db.session.get(Organization, link.organization_id)
    allow_framing_by((org.settings or {}).get("frame_origins"))  # the gym's own website may embed it
    types = [t for t in link.appointment_types if t.is_active]
    atype = next((t for t in types if str(t.id) == state.type_id), types[0] if types else None)
    if atype is None or (state.type_id and state.type_id != str(atype.id)):
        state = replace(state, type_id=None)
    tz = state.tz or org.timezone
    today = today_in(tz)
    month = state.month or (state.day.replace(day=1) if state.day else today.replace(day=1))
    month = max(month, today.replace(day=1))
    picker = Picker("public.book", {"slug": link.slug}, state, tz=tz, month=month)
    calendar = None
    if atype is not None:
        free = month_availability(link.slug, month, type_id=str(atype.id), tz=tz, today=today)
        calendar = build_calendar(month, free.days, today=today, selected=state.day,
                                  window_days=atype.booking_window_days)
    staff = [m.name for m in link.staff if m.active]
    runs_classes = db.session.scalar(select(ClassType.id).where(
        ClassType.organization_id == org.id, ClassType.is_active.is_(True)).limit(1)) is not None
    return BookPage(link=link, org=org, brand=brand_for(org, link), types=types, atype=atype, state=state, tz=tz,
                    picker=picker, calendar=calendar, zones=zone_choices(tz, state.tz, org.timezone),
                    staff_names=staff,
                    classes_url=url_for("public.classes", org_slug=org.slug) if runs_classes else None)


def staff_name(link: BookingLink, staff_id: str | None) -> str | None:
    return next((m.name for m in link.staff if str(m.id) == staff_id), None)


def details_form(page: BookPage, chosen: Chosen) -> BookingDetailsForm:
    return BookingDetailsForm(formdata=None, data={
        "slot": chosen.value, "appointment_type": str(page.atype.id), "timezone": page.tz,
        "idempotency_key": uuid.uuid4().hex, "phone_country": organization_region(page.org.settings),
    })


def book_step(page: BookPage) -> Step:
    state = page.state
    if page.atype is None or state.day is None:
        return Step(kind="choose_day")
    day = day_slots(page.link.slug, state.day, type_id=str(page.atype.id), tz=page.tz)
    if state.slot is None:
        return Step(kind="slots", day=day)
    row = find_chosen(day, state)
    if row is None:
        return Step(kind="slots", day=day,
                    notice="Sorry, that time is no longer available. Please choose another.")
    chosen = chosen_slot(page.org, row.start, row.end, row.staff_id, row.staff_name)
    return Step(kind="details", day=day, chosen=chosen, form=details_form(page, chosen))


def find_chosen(day: DaySlots, state: PickerState) -> SlotRow | None:
    """The offered slot the URL names. Only where the visitor picks the person does the person
    have to match; on a team link whoever is free at that start takes it."""
    return day.find(state.slot, state.staff if day.show_staff else None)


def show_staff_on(link: BookingLink) -> bool:
    return link.type == "individual" and len([m for m in link.staff if m.active]) > 1


@dataclass
class ManagePage:
    """A booking seen through its manage token, and what may be done with it now."""

    token: str
    booking: Booking
    org: Organization
    link: BookingLink | None       # the link, if still public (for booking again and rescheduling)
    brand: Brand
    tz: str
    state: PickerState
    zones: list[tuple[str, str]]
    status: str                    # "cancelled" | "past" | "locked" | "open"
    cutoff_at: datetime
    can_reschedule: bool
    manage_url: str
    google_url: str | None
    created: bool = False

    @property
    def made_locked(self) -> bool:
        """Booked after its change deadline: it was never changeable online, so the page says so
        rather than that online changes "have closed" (before it was even made)."""
        return self.status == "locked" and self.booking.created_at > self.cutoff_at

    @property
    def what(self) -> str:
        b = self.booking
        return b.appointment_type.name if b.appointment_type else (b.title or "Appointment")

    @property
    def where(self) -> str | None:
        return booking_location(self.booking, self.org.postal_address)

    @property
    def book_again_url(self) -> str | None:
        return url_for("public.book", slug=self.link.slug) if self.link else None

    @property
    def manage_path(self) -> str:
        return url_for("public.manage", token=self.token, tz=self.state.tz)


def booking_or_404(token: str) -> Booking:
    try:
        return get_booking_by_token(token)
    except NotFound:
        abort(404, description="We couldn't find a booking for this link. Please check it against your "
                               "confirmation email.")


def manage_page(token: str, state: PickerState | None = None) -> ManagePage:
    booking = booking_or_404(token)
    org = db.session.get(Organization, booking.organization_id)
    allow_framing_by((org.settings or {}).get("frame_origins"))
    state = state or PickerState.from_args(request.args)
    link = booking.booking_link
    public = link if link is not None and link.is_public and link.is_active else None
    tz = state.tz or valid_zone(booking.attendee_timezone) or org.timezone
    now = datetime.now(timezone.utc)
    cutoff_at = change_deadline(booking, org)
    if booking.status == "cancelled":
        status = "cancelled"
    elif not booking.is_active or booking.end_at <= now:
        status = "past"
    elif changes_closed(booking, org, now):
        status = "locked"
    else:
        status = "open"
    return ManagePage(
        token=token, booking=booking, org=org, link=public, brand=brand_for(org, link), tz=tz, state=state,
        zones=zone_choices(tz, state.tz, org.timezone, booking.attendee_timezone), status=status,
        cutoff_at=cutoff_at, manage_url=manage_url(token),
        # The service's own rule (bookings/online.py): open, and its page still online and offering it.
        can_reschedule=status == "open" and can_move_online(booking, org, now),
        google_url=google_calendar_url(booking, org.postal_address) if booking.is_active else None,
        created=request.args.get("created") == "1",
    )


def reschedule_context(page: ManagePage):
    """The picker for a new time (the booking's own appointment type, on its link)."""
    booking, link, tz = page.booking, page.link, page.tz
    atype = booking.appointment_type
    state = replace(page.state, type_id=None)
    today = today_in(tz)
    month = state.month or (state.day.replace(day=1) if state.day else today.replace(day=1))
    month = max(month, today.replace(day=1))
    picker = Picker("public.reschedule", {"token": page.token}, state, tz=tz, month=month)
    type_id = str(atype.id)
    # The booking's own time counts as free: moving it by half an hour must be possible.
    own = booking.id if booking.group_id is None else None
    free = month_availability(link.slug, month, type_id=type_id, tz=tz, today=today, exclude_booking_id=own)
    calendar = build_calendar(month, free.days, today=today, selected=state.day,
                              window_days=atype.booking_window_days)
    if state.day is None:
        step = Step(kind="choose_day")
    else:
        day = day_slots(link.slug, state.day, type_id=type_id, tz=tz, exclude_booking_id=own)
        row = find_chosen(day, state) if state.slot else None
        if state.slot is None:
            step = Step(kind="slots", day=day)
        elif row is None:
            step = Step(kind="slots", day=day, notice="Sorry, that time is no longer available. Please choose another.")
        else:
            chosen = chosen_slot(page.org, row.start, row.end, row.staff_id, row.staff_name)
            step = Step(kind="confirm", day=day, chosen=chosen,
                        form=RescheduleForm(formdata=None, data={"slot": chosen.value}))
    return dict(picker=picker, calendar=calendar, step=step)
