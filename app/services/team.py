"""Staff accounts and the organization they work for: sign-in, password reset, the team, settings.

Plain functions taking ids and primitives, raising the errors of app/services/errors.py and owning
their commit. Password reset links are signed with the SECRET_KEY (itsdangerous), expire, and are
bound to the password hash they were issued for, so a link dies as soon as it has been used (or the
password changed some other way).
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import uuid
from datetime import datetime, timezone

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.database import commit_or_rollback
from app.extensions import db
from app.integrations.email import send_email
from app.models import ACTIVE_STATUSES, Booking, Organization, User
from app.models.staff import ROLES
from app.services import background, identity, notifications
from app.services.bookings.attendee import PHONE_MAX, SERVICE_NUMBERS, normalise_phone
from app.services.errors import Conflict, InvalidRequest, NotFound
from app.services.phones import organization_region, valid_region
from app.services.quiet_hours import QuietHours, organization_quiet_hours
from app.services.quiet_hours import setting as quiet_hours_setting
from app.services.scoping import org_row, parse_id
from app.services.urls import password_reset_url
from app.services.zones import require_zone

RESET_SALT = "atlas.password-reset"
PASSWORD_MIN = 10
PASSWORD_MAX = 200
CUTOFF_MAX_MINUTES = 14 * 24 * 60
REMINDERS_MAX = 5
# Compared against when no account matches, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


# --- sign-in -----------------------------------------------------------------------------------

def find_user_by_email(email: str | None) -> User | None:
    email = (email or "").strip().lower()
    if not email or len(email) > 254:
        return None
    return db.session.scalars(select(User).where(func.lower(User.email) == email)).first()


def authenticate(email: str | None, password: str | None, *, now: datetime | None = None) -> User:
    """The active user with this email and password, or InvalidRequest (one message for a wrong email
    or password, so the form does not tell which accounts exist). Records the sign-in time."""
    user = find_user_by_email(email)
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")
        raise InvalidRequest("That email and password don't match an account.", code="bad_credentials")
    if not user.check_password(password or ""):
        raise InvalidRequest("That email and password don't match an account.", code="bad_credentials")
    if not user.active:
        raise InvalidRequest("This account has been deactivated. Ask the gym's owner to reactivate it.",
                             code="deactivated")
    # A plain UPDATE: a sign-in is not a schedule change, so it must not look like one to the
    # schedule-version listener (which watches the session's flushed objects).
    db.session.execute(update(User).where(User.id == user.id).values(last_login_at=now or datetime.now(timezone.utc)))
    db.session.commit()
    return user


# --- password reset ----------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _fingerprint(password_hash: str | None) -> str:
    # Only a digest of the hash travels in the link; any change of password changes it.
    return hashlib.sha256((password_hash or "none").encode()).hexdigest()[:32]


def password_reset_token(user_id) -> str:
    """A signed, expiring token that resets this user's password once."""
    user = db.session.get(User, parse_id(user_id, "user"))
    if user is None:
        raise NotFound("No such user.")
    return _serializer().dumps({"u": str(user.id), "p": _fingerprint(user.password_hash)})


def user_for_reset_token(token: str, *, max_age: int | None = None) -> User:
    """The user a reset token was issued to, or InvalidRequest (expired, forged, already used)."""
    max_age = max_age if max_age is not None else current_app.config["PASSWORD_RESET_MAX_AGE"]
    try:
        payload = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidRequest("This reset link has expired. Ask for a new one.", code="link_expired") from None
    except BadSignature:
        raise InvalidRequest("This reset link is not valid. Ask for a new one.", code="link_invalid") from None
    user = db.session.get(User, parse_id(payload.get("u") if isinstance(payload, dict) else None, "user"))
    if (user is None or not user.active
            or not hmac.compare_digest(str(payload.get("p", "")), _fingerprint(user.password_hash))):
        raise InvalidRequest("This reset link has already been used or is no longer valid. Ask for a new one.",
                             code="link_used")
    return user


RESET_EMAIL_JOB = "auth.reset_email"


def request_password_reset(email: str | None) -> None:
    """Ask for a reset link for this address. The request never looks the address up: it hands it
    to a background job (send_password_reset) the same way whether or not it has an account, so
    the answer comes back in the same time either way and cannot be used to probe for accounts."""
    email = (email or "").strip().lower()
    if email and len(email) <= 254:
        background.submit(RESET_EMAIL_JOB, email)


def send_password_reset(email: str) -> bool:
    """The job behind request_password_reset: email a reset link to the active account with this
    address, if there is one. True when a message went out."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return False
    link = password_reset_url(password_reset_token(user.id))
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    send_email(
        user.email, "Reset your Atlas Booking password",
        f"Hello {user.name},\n\nSomeone (hopefully you) asked to reset the password of your Atlas Booking "
        f"account. Choose a new password here:\n\n{link}\n\nThe link works once, for {minutes} minutes. "
        "If you didn't ask for this, ignore this email: your password stays as it is.\n",
    )
    return True


def check_password_strength(password: str | None, field: str = "password") -> str:
    password = password or ""
    if len(password) < PASSWORD_MIN:
        raise InvalidRequest(f"Use at least {PASSWORD_MIN} characters.", fields={field: f"at least {PASSWORD_MIN} characters"})
    if len(password) > PASSWORD_MAX:
        raise InvalidRequest(f"Use at most {PASSWORD_MAX} characters.", fields={field: f"at most {PASSWORD_MAX} characters"})
    return password


def reset_password(token: str, new_password: str | None) -> User:
    """Set a new password through a reset link. Promises: the link is checked again at the moment
    of use and stops working once the password changes."""
    user = user_for_reset_token(token)
    user.set_password(check_password_strength(new_password))
    user.end_sessions()  # whoever knew the old password is signed out everywhere
    commit_or_rollback()
    return user


def sign_out_everywhere(user: User) -> None:
    """Signing out ends every session and remember-me cookie of the person, on every device."""
    user.end_sessions()
    commit_or_rollback()


# --- the team ----------------------------------------------------------------------------------

def get_member(org_id: uuid.UUID, user_id) -> User:
    """The member of staff of this organization with this id, or NotFound."""
    return org_row(User, org_id, user_id, "member of staff")


def team(org_id: uuid.UUID, *, active_only: bool = False) -> list[User]:
    query = select(User).where(User.organization_id == org_id)
    if active_only:
        query = query.where(User.active.is_(True))
    return list(db.session.scalars(query.order_by(User.active.desc(), User.name)))


def add_staff(org_id: uuid.UUID, *, name: str | None, email: str | None, role: str = "staff",
              timezone_name: str | None = None, send_invite: bool = True) -> User:
    """A new member of staff with no password yet; an invitation email carries a link to choose one.

    Promises: a valid email not used by any other account, a known role and time zone.
    """
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("No such organization.")
    fields = {}
    name = _clean_name(name, fields)
    try:
        address = validate_email((email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        fields["email"] = str(exc)
        address = None
    if address and find_user_by_email(address) is not None:
        fields["email"] = "already has an account"
    if role not in ROLES:
        fields["role"] = "owner, admin or staff"
    if fields:
        raise InvalidRequest("Please correct the highlighted fields.", fields=fields)
    zone = require_zone(timezone_name or org.timezone)
    user = User(organization_id=org_id, name=name, email=address, role=role, timezone=zone, active=True)
    db.session.add(user)
    commit_or_rollback()
    if send_invite:
        link = password_reset_url(password_reset_token(user.id))
        send_email(user.email, f"You've been added to {org.name} on Atlas Booking",
                   f"Hello {name},\n\n{org.name} has added you to its team on Atlas Booking. Choose your "
                   f"password here to sign in:\n\n{link}\n\nThe link works once.\n")
    return user


def set_role(org_id: uuid.UUID, user_id, role: str, *, acting_user_id) -> User:
    """Change a member's role. Nobody changes their own role, and an organization keeps an owner."""
    user = get_member(org_id, user_id)
    if role not in ROLES:
        raise InvalidRequest("Choose owner, admin or staff.", fields={"role": "owner, admin or staff"})
    if user.id == parse_id(acting_user_id, "user"):
        raise Conflict("You can't change your own role.", code="own_role")
    if user.role == "owner" and role != "owner" and _active_owners(org_id) <= 1:
        raise Conflict("The organization needs at least one owner.", code="last_owner")
    user.role = role
    commit_or_rollback()
    return user


def set_active(org_id: uuid.UUID, user_id, active: bool, *, acting_user_id) -> User:
    """Deactivate (no sign-in, no new slots; existing bookings stay) or reactivate a member."""
    user = get_member(org_id, user_id)
    if user.id == parse_id(acting_user_id, "user"):
        raise Conflict("You can't deactivate yourself.", code="self")
    if not active and user.role == "owner" and user.active and _active_owners(org_id) <= 1:
        raise Conflict("The organization needs at least one active owner.", code="last_owner")
    user.active = bool(active)
    if not user.active:
        user.end_sessions()
    commit_or_rollback()
    return user


def _active_owners(org_id: uuid.UUID) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(
        User.organization_id == org_id, User.role == "owner", User.active.is_(True))) or 0


def bookings_to_reassign(org_id: uuid.UUID, user_id, *, now: datetime | None = None) -> list[Booking]:
    """A member's upcoming active bookings (for someone to move them after a deactivation)."""
    user = get_member(org_id, user_id)
    now = now or datetime.now(timezone.utc)
    return list(db.session.scalars(
        select(Booking).where(Booking.staff_id == user.id, Booking.status.in_(ACTIVE_STATUSES),
                              Booking.start_at >= now).order_by(Booking.start_at)
    ))


# --- organization settings -----------------------------------------------------------------------

def parse_reminder_offsets(text: str | None) -> list[int]:
    """"24h, 2h, 30m" (or plain minutes) → minutes before the start, largest first."""
    offsets = set()
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip().lower().replace(" ", "")
        if not part:
            continue
        unit = 1
        if part[-1] in "hmd":
            unit = {"m": 1, "h": 60, "d": 1440}[part[-1]]
            part = part[:-1]
        try:
            value = float(part)
            if not math.isfinite(value):
                raise ValueError(part)
        except ValueError:
            raise InvalidRequest(f"{part!r} is not a duration; write e.g. 24h, 2h or 30m.",
                                 fields={"reminder_offsets": "durations such as 24h, 2h, 30m"}) from None
        minutes = int(round(value * unit))
        if not 5 <= minutes <= 14 * 1440:
            raise InvalidRequest("Reminders go out between 5 minutes and 14 days before the start.",
                                 fields={"reminder_offsets": "between 5m and 14d"})
        offsets.add(minutes)
    if len(offsets) > REMINDERS_MAX:
        raise InvalidRequest(f"At most {REMINDERS_MAX} reminders.",
                             fields={"reminder_offsets": f"at most {REMINDERS_MAX}"})
    return sorted(offsets, reverse=True)


UNCHANGED = object()  # update_settings: leave the quiet hours as they are


def update_settings(org_id: uuid.UUID, *, name: str | None, timezone_name: str | None,
                    cancellation_cutoff_minutes: int | None, reminder_offsets_minutes: list[int],
                    frame_origins: list[str] | None = None, phone_region: str | None = None,
                    quiet_hours=UNCHANGED, contact_email=UNCHANGED, phone=UNCHANGED, postal_address=UNCHANGED,
                    logo=UNCHANGED) -> Organization:
    """The organization's name, IANA time zone, cancellation cutoff, reminder offsets and (when given)
    the websites allowed to embed its booking pages and the country its customers' phone numbers are
    read in when written without a country code (an ISO 3166 alpha-2 code phonenumbers knows), and
    its quiet hours for reminders (a QuietHours, or None for none; app/services/quiet_hours.py).

    Its identity, each left as it is when UNCHANGED: `contact_email` (the Reply-To of customers'
    emails), `phone` (read in the gym's phone country), `postal_address`, and `logo` (the uploaded
    bytes, or None to remove it; app/services/identity.py). Every problem is reported at once, in one
    InvalidRequest naming each field; nothing is saved unless all are right."""
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("No such organization.")
    fields = {}
    name = _clean_name(name, fields)
    if cancellation_cutoff_minutes is None or not 0 <= cancellation_cutoff_minutes <= CUTOFF_MAX_MINUTES:
        fields["cancellation_cutoff"] = "between 0 and 14 days"
    if phone_region is not None and valid_region(phone_region) is None:
        fields["phone_region"] = "choose a country from the list"
    if isinstance(quiet_hours, QuietHours) and quiet_hours.start == quiet_hours.end:
        fields["quiet_hours"] = "quiet hours must end at another time than they start"
    if contact_email is not UNCHANGED:
        contact_email = identity.clean_contact_email(contact_email, fields)
    if phone is not UNCHANGED:
        phone = clean_phone(phone, valid_region(phone_region) or organization_region(org.settings), fields)
    if postal_address is not UNCHANGED:
        postal_address = identity.clean_postal_address(postal_address, fields)
    if logo is not UNCHANGED and logo is not None:
        logo = identity.check_logo(logo, fields)
    try:
        zone = require_zone(timezone_name)
    except InvalidRequest as exc:  # reported with the others, not only once they are put right
        fields.update(exc.fields)
    if fields:
        raise InvalidRequest("Please correct the highlighted fields.", fields=fields)
    quiet_before = organization_quiet_hours(org.settings)
    quiet = quiet_before if quiet_hours is UNCHANGED else quiet_hours
    zone_changed = zone != org.timezone
    org.timezone = zone
    org.name = name
    org.cancellation_cutoff_minutes = cancellation_cutoff_minutes
    if quiet_hours is not UNCHANGED:
        org.settings = {**(org.settings or {}), "quiet_hours": quiet_hours_setting(quiet)}
    if list(reminder_offsets_minutes) != list(org.reminder_offsets_minutes or []) or quiet != quiet_before \
            or (zone_changed and quiet is not None):
        # Upcoming bookings' reminders follow: none at an offset that was removed, one at a new one,
        # and each placed around the quiet hours (in the gym's zone for customers with none).
        notifications.reminder_settings_changed(org.id, list(reminder_offsets_minutes), quiet)
    org.reminder_offsets_minutes = list(reminder_offsets_minutes)
    if frame_origins is not None:
        org.settings = {**(org.settings or {}), "frame_origins": list(frame_origins)}
    if phone_region is not None:
        org.settings = {**(org.settings or {}), "phone_region": valid_region(phone_region)}
    if contact_email is not UNCHANGED:
        org.contact_email = contact_email
    if phone is not UNCHANGED:
        org.phone = phone
    if postal_address is not UNCHANGED:
        org.postal_address = postal_address
    if logo is not UNCHANGED:
        identity.apply_logo(org, logo)
    commit_or_rollback()
    return org


def clean_phone(value: str | None, region: str | None, fields: dict) -> str | None:
    """The gym's phone as E.164 (None when empty), read as the booking form reads a customer's
    (normalise_phone) — except that a freephone, shared-cost or 03 number is accepted: people call
    the gym's number, nobody texts it. A problem goes in `fields["phone"]`."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return normalise_phone(text, region)
    except InvalidRequest as exc:
        service = _service_number(text, region)
        if service is not None:
            return service
        fields["phone"] = exc.message
        return None


def _service_number(text: str, region: str | None) -> str | None:
    """`text` as E.164 when it is a valid number of a service (freephone, shared-cost, 03…)."""
    if len(text) > PHONE_MAX:
        return None
    try:
        number = phonenumbers.parse("+" + text[2:] if text.startswith("00") else text, region or None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in SERVICE_NUMBERS:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


FRAME_ORIGINS_MAX = 10
_ORIGIN = re.compile(r"https://[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?")


def parse_frame_origins(text: str | None) -> list[str]:
    """The websites allowed to embed the booking pages, one origin each ("https://www.gym.example"),
    separated by commas, spaces or new lines. Only https origins: a page framed over plain http could
    be read and changed on the way."""
    origins = []
    for part in re.split(r"[\s,]+", (text or "").strip()):
        if not part:
            continue
        origin = part.lower().rstrip("/")
        if not _ORIGIN.fullmatch(origin):
            raise InvalidRequest(f"{part[:100]!r} is not a website address like https://www.yourgym.com.",
                                 fields={"frame_origins": "https:// addresses, without a path"})
        if origin not in origins:
            origins.append(origin)
    if len(origins) > FRAME_ORIGINS_MAX:
        raise InvalidRequest(f"At most {FRAME_ORIGINS_MAX} websites.",
                             fields={"frame_origins": f"at most {FRAME_ORIGINS_MAX}"})
    return origins


def _clean_name(name: str | None, fields: dict) -> str:
    """The name with its whitespace tidied; a problem with it is recorded in `fields["name"]`."""
    name = " ".join((name or "").split())
    if not name:
        fields["name"] = "required"
    elif len(name) > 200:
        fields["name"] = "at most 200 characters"
    return name
