"""Countries of phone numbers: the one list the booking form, the API, the AI tools and the settings
offer, and how a stored number is shown to people.

A country is an ISO 3166 alpha-2 code that libphonenumber (the `phonenumbers` package) has a
numbering plan for — the codes it calls regions: GB, US, and also JE or PR, whose numbers share a
calling code with another country. Names come from pycountry (ISO 3166, its common name where it
has one: "Bolivia", not "Bolivia, Plurinational State of"), with the few it lacks or words oddly
filled in below, and are loaded only when a list or a name is asked for. (Not phonenumbers' own
locale data: importing it costs ~100 MB in every process, and every RQ work-horse copies it.)

The rule for reading a number against a country is `normalise_phone` in
app/services/bookings/attendee.py; this module only knows the countries.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache

import phonenumbers
import pycountry

from app.services.errors import InvalidRequest

DEFAULT_REGION = "GB"  # an organization that never chose one: the portal started with UK gyms

# Regions pycountry has no entry for (not ISO 3166 countries), and names that read oddly in a list.
_NAMES = {
    "AC": "Ascension Island", "TA": "Tristan da Cunha", "XK": "Kosovo",
    "CD": "Congo (Democratic Republic)", "CG": "Congo (Republic)", "VA": "Vatican City",
    "FK": "Falkland Islands", "VG": "British Virgin Islands", "VI": "U.S. Virgin Islands", "PS": "Palestine",
    "FM": "Micronesia", "BN": "Brunei", "VN": "Vietnam", "MO": "Macao", "HK": "Hong Kong", "RU": "Russia",
}


def _english_name(code: str) -> str:
    if code in _NAMES:
        return _NAMES[code]
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def _sort_key(name: str) -> str:
    """Åland sorts with A, Côte d'Ivoire with C."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=1)
def regions() -> dict[str, str]:
    """Every country code a number can be read against → its English name, in the order of the names."""
    names = {code: _english_name(code) for code in phonenumbers.SUPPORTED_REGIONS}
    return dict(sorted(names.items(), key=lambda item: _sort_key(item[1])))


@lru_cache(maxsize=1)
def region_choices() -> list[tuple[str, str]]:
    """(code, "United Kingdom (+44)") for a <select>, by name."""
    return [(code, f"{name} (+{phonenumbers.country_code_for_region(code)})") for code, name in regions().items()]


def region_name(code: str) -> str:
    """The English name of an accepted code ("United Kingdom")."""
    return regions().get(code, code)


def valid_region(code: str | None) -> str | None:
    """`code` as an accepted country code (upper case), else None (for inputs where a bad value is ignored)."""
    if not isinstance(code, str):
        return None
    code = code.strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def require_region(code: str | None, *, field: str) -> str:
    """`code` as an accepted country code, else InvalidRequest naming `field`."""
    region = valid_region(code)
    if region is None:
        shown = code.strip()[:8] if isinstance(code, str) and code.strip().isprintable() else "that value"
        raise InvalidRequest(f"{shown!r} is not a country we know: use a two-letter country code such as GB or US.",
                             fields={field: "not a country code (ISO 3166 alpha-2, e.g. GB)"})
    return region


def organization_region(settings: Mapping | None) -> str:
    """The country an organization's customers' numbers are read as by default (its `phone_region`
    setting; GB when it never chose one, or when a stored value is not a country any more)."""
    return valid_region((settings or {}).get("phone_region")) or DEFAULT_REGION


def international(number: str | None) -> str:
    """A stored (E.164) number as people write it with its country code: +1 781-234-5678. Anything
    else is shown as stored (rows written before numbers were checked must still render)."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def incomplete(value: str, region: str | None) -> bool:
    """Whether `value`, read in `region`, is still too short to be a whole number there (someone is
    still typing it): the booking form's hint waits before calling it a mistake."""
    try:
        number = phonenumbers.parse(value, valid_region(region) or DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return True
    return phonenumbers.is_possible_number_with_reason(number) not in (phonenumbers.ValidationResult.IS_POSSIBLE,
                                                                        phonenumbers.ValidationResult.TOO_LONG)
