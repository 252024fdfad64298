"""The customer's details on a booking, checked and normalised the same way on every path."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.services.dates import check_instant
from app.services.errors import InvalidRequest
from app.timeformat import iso_utc

NAME_MAX = 200


def normalise_email(value: str | None) -> str:
    """The address as email-validator normalises it (no deliverability check), or InvalidRequest."""
    if not value or not value.strip():
        raise InvalidRequest("An email address is required.", fields={"attendee_email": "required"})
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidRequest(f"The email address is not valid: {exc}",
                             fields={"attendee_email": str(exc)}) from None


def normalise_phone(value: str | None, region: str = "GB") -> str | None:
    """E.164 (+447700900123), or None when no phone was given."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    # "Possible" (right length for the country) rather than "valid": allocation tables lag behind
    # carriers, and the spec's own example (+44 7700 900123) is in a range reserved for drama.
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidRequest("The phone number is not valid; include the country code, e.g. +44 7700 900123.",
                             fields={"attendee_phone": "not a valid phone number"})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_name(value: str | None) -> str:
    """The name with its white space folded, 1–200 characters."""
    name = " ".join((value or "").split())
    if not name:
        raise InvalidRequest("Your name is required.", fields={"attendee_name": "required"})
    if len(name) > NAME_MAX:
        raise InvalidRequest(f"The name is longer than {NAME_MAX} characters.",
                             fields={"attendee_name": f"at most {NAME_MAX} characters"})
    return name


def require_aware(value: datetime, field: str) -> datetime:
    """An instant that says its offset, in UTC and in the supported range; a naive time is refused
    (it would be read in no zone)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequest(f"{field} needs a time zone (e.g. 2024-03-15T09:00:00Z).",
                             fields={field: "must include a UTC offset or Z"})
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:  # an offset that carries it past year 1 or 9999
        value = None
    return check_instant(value, field)


def check_end_time(end_time: datetime | None, start: datetime, duration_minutes: int, what: str) -> datetime:
    """The end of a booking of `what` starting at `start`: start + its duration. A client may send
    the end it expects (as the spec's create body does); a different one is refused, naming it."""
    end = start + timedelta(minutes=duration_minutes)
    if end_time is not None and require_aware(end_time, "end_time") != end:
        raise InvalidRequest(f"{what} lasts {duration_minutes} minutes, so it ends at {iso_utc(end)}.",
                             fields={"end_time": f"must be start_time + {duration_minutes} minutes"})
    return end
