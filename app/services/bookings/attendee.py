"""The customer's details on a booking, checked and normalised the same way on every path."""
from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import CountryCodeSource, PhoneNumberType

# libphonenumber's own test of "a national prefix is there if the country's format requires one" (its
# number matcher's VALID leniency), which it does not export under a public name.
from phonenumbers.phonenumbermatcher import _is_national_prefix_present_if_required

from app.services.dates import check_instant
from app.services.errors import InvalidRequest
from app.services.phones import DEFAULT_REGION, region_name, require_region
from app.timeformat import iso_utc

NAME_MAX = 200
PHONE_MAX = 40  # longer is not a phone number (E.164 has at most 15 digits)
# Numbers that are a service, not someone's phone: they can't receive the texts the number is for.
SERVICE_NUMBERS = frozenset({PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST,
                             PhoneNumberType.UAN, PhoneNumberType.VOICEMAIL, PhoneNumberType.PAGER})


def normalise_email(value: str | None) -> str:
    """The address as email-validator normalises it (no deliverability check), or InvalidRequest."""
    if not value or not value.strip():
        raise InvalidRequest("An email address is required.", fields={"attendee_email": "required"})
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidRequest(f"The email address is not valid: {exc}",
                             fields={"attendee_email": str(exc)}) from None


def normalise_phone(value: str | None, region: str | None = None) -> str | None:
    """E.164 (+17812345678), or None when no phone was given.

    A number written with its country code (+1 …, or 00 1 …) is that country's whatever `region`
    says. One written without is read as a number of `region` — the country the customer chose next
    to the field, else the gym's (GB by default) — and must be a valid number there, written as it
    is written there (with the UK's leading 0, say). Either way it must be someone's phone, not a
    free, premium-rate or shared-cost service number (texts are what it is for). Anything else is
    refused, naming the country: a number is never silently read as another country's ((781)
    234-5678 on a UK form is not the UK mobile +44 7812 345678). `region` that is not a country:
    InvalidRequest on attendee_phone_country."""
    country = require_region(region or DEFAULT_REGION, field="attendee_phone_country")
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.startswith("00"):  # the international prefix of most countries, from anywhere (the US dials 011)
        text = "+" + text[2:]
    number = None
    if len(text) <= PHONE_MAX:
        try:
            number = phonenumbers.parse(text, country, keep_raw_input=True)
        except phonenumbers.NumberParseException:
            number = None
    national = number is None or number.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY
    if number is None or not _usable(number, national):
        if national and not text.startswith("+"):
            name = region_name(country)
            other = "+44 for the United Kingdom" if phonenumbers.country_code_for_region(country) == 1 else \
                "+1 for the United States"
            raise InvalidRequest(f"This is not a valid {name} number. Choose the number's country, or write it "
                                 f"with its country code (e.g. {other}).",
                                 fields={"attendee_phone": f"not a valid {name} number"})
        raise InvalidRequest("This is not a valid phone number: check the number and its country code "
                             "(e.g. +44 7700 900123).", fields={"attendee_phone": "not a valid phone number"})
    if phonenumbers.number_type(number) in SERVICE_NUMBERS:
        # A real number, but nobody's phone: a text to it goes nowhere (or costs). Written without its
        # country code, it is often another country's mobile (Japan's 090… is a UK premium-rate 0901…).
        shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        name = region_name(phonenumbers.region_code_for_number(number) or country)
        raise InvalidRequest(f"{shown} is a {name} service number (free, premium-rate or shared-cost), which can't "
                             "receive texts. Give a mobile number; if it is in another country, choose that country "
                             "or write it with its country code.",
                             fields={"attendee_phone": "a service number: it can't receive texts"})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _usable(number: phonenumbers.PhoneNumber, national: bool) -> bool:
    """A number in service (by libphonenumber's ranges of its country), or one of the UK's numbers for
    drama; written without a country code, also with the national prefix where its country requires
    one. That last check is what tells "(781) 234-5678" (a US way of writing) from "07812 345678"
    (the UK's): both are +44 7812 345678 once the prefix is taken as optional."""
    if national and not _is_national_prefix_present_if_required(number):
        return False
    return phonenumbers.is_valid_number(number) or _reserved_for_drama(number)


def _reserved_for_drama(number: phonenumbers.PhoneNumber) -> bool:
    """Ofcom keeps +44 7700 900000–900999 for films and examples: no carrier has them (so libphonenumber
    calls them invalid) and a text to one reaches nobody. The spec's own example, +44 7700 900123, is
    one, and clients and the demo gym use them."""
    return number.country_code == 44 and 7700900000 <= number.national_number <= 7700900999


def normalise_name(value: str | None) -> str:
    """The name with its white space folded and control characters (C0, DEL, C1) taken out, 1–200
    characters. Format characters stay: a zero-width joiner belongs in Persian and Indic names."""
    name = " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in value or "").split())
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
