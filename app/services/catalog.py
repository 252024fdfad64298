"""What an organization offers: appointment types, booking links and the links' branding.

Plain functions taking ids and primitives; each validates, writes and commits, and raises
InvalidRequest naming the fields at fault, or NotFound for rows of another organization. Types and
links are deactivated, never deleted: bookings keep pointing at them.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from app.database import commit_or_rollback
from app.extensions import db
from app.models import AppointmentType, BookingLink, LinkBranding, User
from app.models.catalog import LINK_TYPES
from app.services.branding import is_hex_color, safe_logo_url
from app.services.errors import InvalidRequest
from app.services.scoping import org_row, org_rows

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?")
NAME_MAX = 200
TEXT_MAX = 2000
CURRENCIES = ("GBP", "EUR", "USD")


@dataclass
class AppointmentTypeInput:
    """The editable fields of an appointment type (minutes, pennies)."""

    name: str
    duration_minutes: int | None
    description: str | None = None
    buffer_before_minutes: int | None = 0
    buffer_after_minutes: int | None = 0
    price_pennies: int | None = 0
    currency: str = "GBP"
    min_notice_minutes: int | None = 60
    booking_window_days: int | None = None
    slot_interval_minutes: int | None = None
    max_per_day: int | None = None
    location: str | None = None
    color: str | None = None


@dataclass
class BookingLinkInput:
    name: str
    slug: str
    type: str = "individual"
    description: str | None = None
    is_public: bool = True
    staff_ids: tuple = ()
    appointment_type_ids: tuple = ()


def get_appointment_type(org_id: uuid.UUID, type_id) -> AppointmentType:
    return org_row(AppointmentType, org_id, type_id, "appointment type")


def get_booking_link(org_id: uuid.UUID, link_id) -> BookingLink:
    return org_row(BookingLink, org_id, link_id, "booking link")


def appointment_types(org_id: uuid.UUID, *, active_only: bool = False) -> list[AppointmentType]:
    query = select(AppointmentType).where(AppointmentType.organization_id == org_id)
    if active_only:
        query = query.where(AppointmentType.is_active.is_(True))
    return list(db.session.scalars(query.order_by(AppointmentType.is_active.desc(), AppointmentType.name)))


def booking_links(org_id: uuid.UUID, *, staff_id: uuid.UUID | None = None) -> list[BookingLink]:
    """The organization's links (with staff, types and branding), or those `staff_id` takes part in."""
    links = list(db.session.scalars(
        select(BookingLink).where(BookingLink.organization_id == org_id)
        .order_by(BookingLink.is_active.desc(), BookingLink.name)
    ))
    if staff_id is not None:
        links = [link for link in links if link.user_id == staff_id or any(m.id == staff_id for m in link.staff)]
    return links


# --- appointment types -----------------------------------------------------------------------------

def _clean(text: str | None, limit: int) -> str | None:
    text = (text or "").strip()
    return text[:limit] or None


def _validate_type(data: AppointmentTypeInput) -> dict:
    fields: dict[str, str] = {}
    name = " ".join((data.name or "").split())
    if not name:
        fields["name"] = "required"
    elif len(name) > NAME_MAX:
        fields["name"] = f"at most {NAME_MAX} characters"

    def whole(field: str, value, lo: int, hi: int | None = None, required: bool = False):
        if value is None:
            if required:
                fields[field] = "required"
            return
        if value < lo or (hi is not None and value > hi):
            fields[field] = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"

    whole("duration_minutes", data.duration_minutes, 5, 1440, required=True)
    whole("buffer_before_minutes", data.buffer_before_minutes, 0, 720)
    whole("buffer_after_minutes", data.buffer_after_minutes, 0, 720)
    whole("price_pennies", data.price_pennies, 0, 10_000_000)
    whole("min_notice_minutes", data.min_notice_minutes, 0, 60 * 24 * 90)
    whole("booking_window_days", data.booking_window_days, 1, 730)
    whole("slot_interval_minutes", data.slot_interval_minutes, 5, 1440)
    whole("max_per_day", data.max_per_day, 1, 100)
    if data.currency not in CURRENCIES:
        fields["currency"] = f"one of {', '.join(CURRENCIES)}"
    if data.color and not is_hex_color(data.color):
        fields["color"] = "a colour like #1f4fd1"
    if fields:
        raise InvalidRequest("Please correct the highlighted fields.", fields=fields)
    return {
        "name": name, "description": _clean(data.description, TEXT_MAX), "duration_minutes": data.duration_minutes,
        "buffer_before_minutes": data.buffer_before_minutes or 0, "buffer_after_minutes": data.buffer_after_minutes or 0,
        "price_pennies": data.price_pennies or 0, "currency": data.currency,
        "min_notice_minutes": data.min_notice_minutes or 0, "booking_window_days": data.booking_window_days,
        "slot_interval_minutes": data.slot_interval_minutes, "max_per_day": data.max_per_day,
        "location": _clean(data.location, 300), "color": (data.color or None) and data.color.lower(),
    }


def create_appointment_type(org_id: uuid.UUID, data: AppointmentTypeInput) -> AppointmentType:
    """A new, active appointment type. Promises: durations, buffers and prices within sane bounds."""
    values = _validate_type(data)
    atype = AppointmentType(organization_id=org_id, is_active=True, **values)
    db.session.add(atype)
    commit_or_rollback()
    return atype


def update_appointment_type(org_id: uuid.UUID, type_id, data: AppointmentTypeInput) -> AppointmentType:
    """Change a type. Existing bookings keep the buffers they were made with (copied at booking time)."""
    atype = get_appointment_type(org_id, type_id)
    for key, value in _validate_type(data).items():
        setattr(atype, key, value)
    commit_or_rollback()
    return atype


def set_appointment_type_active(org_id: uuid.UUID, type_id, active: bool) -> AppointmentType:
    """Deactivate (no longer offered anywhere) or reactivate a type."""
    return _set_active(get_appointment_type(org_id, type_id), active)


def _set_active(row, active: bool):
    row.is_active = bool(active)
    commit_or_rollback()
    return row


# --- booking links ---------------------------------------------------------------------------------

def _validate_link(org_id: uuid.UUID, data: BookingLinkInput, link_id: uuid.UUID | None):
    fields: dict[str, str] = {}
    name = " ".join((data.name or "").split())
    slug = (data.slug or "").strip().lower()
    if not name:
        fields["name"] = "required"
    elif len(name) > NAME_MAX:
        fields["name"] = f"at most {NAME_MAX} characters"
    if not SLUG.fullmatch(slug):
        fields["slug"] = "lower-case letters, digits and hyphens (e.g. personal-training)"
    else:
        taken = db.session.scalar(select(BookingLink.id).where(BookingLink.slug == slug))
        if taken is not None and taken != link_id:
            fields["slug"] = "already used by another booking page"
    if data.type not in LINK_TYPES:
        fields["type"] = "choose a kind of link"
    staff = org_rows(User, org_id, data.staff_ids)
    types = org_rows(AppointmentType, org_id, data.appointment_type_ids)
    if staff is None:
        fields["staff_ids"] = "unknown member of staff"
    elif not staff:
        fields["staff_ids"] = "choose at least one"
    elif data.type == "individual" and len(staff) != 1:
        fields["staff_ids"] = "an individual link has exactly one trainer"
    elif data.type == "collective" and len(staff) < 2:
        fields["staff_ids"] = "a collective link needs at least two people"
    if types is None:
        fields["appointment_type_ids"] = "unknown appointment type"
    elif not types:
        fields["appointment_type_ids"] = "choose at least one"
    if fields:
        raise InvalidRequest("Please correct the highlighted fields.", fields=fields)
    return name, slug, staff, types


def create_booking_link(org_id: uuid.UUID, data: BookingLinkInput) -> BookingLink:
    """A new active booking page with default branding. Promises: a unique slug, staff and types of
    this organization, one trainer for an individual link (who becomes its owner)."""
    name, slug, staff, types = _validate_link(org_id, data, None)
    link = BookingLink(organization_id=org_id, name=name, slug=slug, type=data.type,
                       description=_clean(data.description, TEXT_MAX), is_public=bool(data.is_public),
                       is_active=True, user_id=staff[0].id if data.type == "individual" else None)
    link.staff = sorted(staff, key=lambda m: m.name)
    link.appointment_types = sorted(types, key=lambda t: t.name)
    db.session.add(link)
    db.session.flush()
    db.session.add(LinkBranding(organization_id=org_id, booking_link_id=link.id))
    commit_or_rollback()
    return link


def update_booking_link(org_id: uuid.UUID, link_id, data: BookingLinkInput) -> BookingLink:
    link = get_booking_link(org_id, link_id)
    name, slug, staff, types = _validate_link(org_id, data, link.id)
    link.name, link.slug, link.type = name, slug, data.type
    link.description = _clean(data.description, TEXT_MAX)
    link.is_public = bool(data.is_public)
    link.user_id = staff[0].id if data.type == "individual" else None
    link.staff = sorted(staff, key=lambda m: m.name)
    link.appointment_types = sorted(types, key=lambda t: t.name)
    commit_or_rollback()
    return link


def set_booking_link_active(org_id: uuid.UUID, link_id, active: bool) -> BookingLink:
    """Deactivate (the public page answers 404) or reactivate a link."""
    return _set_active(get_booking_link(org_id, link_id), active)


# --- branding --------------------------------------------------------------------------------------

@dataclass
class BrandingInput:
    logo_url: str | None = None
    primary_color: str | None = None
    accent_color: str | None = None
    welcome_text: str | None = None


def validate_branding(data: BrandingInput) -> BrandingInput:
    """Normalised branding, or InvalidRequest naming the fields (also used for the unsaved preview)."""
    fields = {}
    logo = (data.logo_url or "").strip() or None
    if logo and safe_logo_url(logo) is None:
        fields["logo_url"] = "an https:// address (or a path on this site)"
    elif logo and len(logo) > 500:
        fields["logo_url"] = "at most 500 characters"
    colors = {}
    for name in ("primary_color", "accent_color"):
        value = (getattr(data, name) or "").strip()
        if value and not is_hex_color(value):
            fields[name] = "a colour like #1f4fd1"
        colors[name] = value.lower() or None
    welcome = (data.welcome_text or "").strip() or None
    if welcome and len(welcome) > 1000:
        fields["welcome_text"] = "at most 1,000 characters"
    if fields:
        raise InvalidRequest("Please correct the highlighted fields.", fields=fields)
    return BrandingInput(logo_url=logo, welcome_text=welcome, **colors)


def update_branding(org_id: uuid.UUID, link_id, data: BrandingInput) -> LinkBranding:
    """Save a link's logo, colours and welcome text (creating its branding row if it has none)."""
    link = get_booking_link(org_id, link_id)
    clean = validate_branding(data)
    branding = link.branding
    if branding is None:
        branding = LinkBranding(organization_id=org_id, booking_link_id=link.id)
        db.session.add(branding)
        link.branding = branding
    branding.logo_url = clean.logo_url
    branding.primary_color = clean.primary_color
    branding.accent_color = clean.accent_color
    branding.welcome_text = clean.welcome_text
    commit_or_rollback()
    return branding


def slug_suggestion(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", (name or "").lower()).strip("-")[:60].strip("-") or "booking"
    slug, n = base, 1
    while db.session.scalar(select(func.count()).select_from(BookingLink).where(BookingLink.slug == slug)):
        n += 1
        slug = f"{base}-{n}"
    return slug


