"""The calendar the portal works in: one supported range of dates, checked once.

Bookings, availability and reports are about the present and the next few years; a date far
outside that (9999-12-31, 0001-01-01) is a mistake or an attack, and date arithmetic on it
overflows. Every date and instant that comes in from outside is checked against this range, and
refused with a field error naming it — never a server error.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

from app.services.errors import InvalidRequest

FIRST_DATE = date(2000, 1, 1)
LAST_DATE = date(2099, 12, 31)
FIRST_INSTANT = datetime.combine(FIRST_DATE, time(0), timezone.utc)
LAST_INSTANT = datetime.combine(LAST_DATE, time(23, 59, 59), timezone.utc)
RANGE_TEXT = f"between {FIRST_DATE.isoformat()} and {LAST_DATE.isoformat()}"


def iso_text(value):
    """Dates and times come in as ISO 8601 text (pydantic alone would also read a number as a Unix
    time: 42 would be a booking in 1970, answered as a clash instead of a mistake)."""
    if isinstance(value, (str, date)):
        return value
    raise ValueError("expected an ISO 8601 string, e.g. 2030-01-07T09:00:00Z")


# Request fields (the JSON API's and the AI tools' pydantic models): text only, never a number.
IsoText = BeforeValidator(iso_text)
IsoDate = Annotated[date, IsoText]
IsoDateTime = Annotated[AwareDatetime, IsoText]


def supported(value: date | datetime | None) -> bool:
    """Whether a date (or an aware instant) lies in the supported range."""
    if value is None:
        return False
    if isinstance(value, datetime):
        return value.tzinfo is not None and FIRST_INSTANT <= value <= LAST_INSTANT
    return FIRST_DATE <= value <= LAST_DATE


def check_date(value: date, field: str) -> date:
    """`value`, or InvalidRequest naming `field` when it is outside the supported range."""
    if not supported(value):
        raise InvalidRequest(f"{field} must be {RANGE_TEXT}.", fields={field: f"a date {RANGE_TEXT}"})
    return value


def check_instant(value: datetime, field: str) -> datetime:
    """An aware instant, or InvalidRequest naming `field` when it is outside the supported range."""
    if not supported(value):
        raise InvalidRequest(f"{field} must be {RANGE_TEXT}.", fields={field: f"a time {RANGE_TEXT}"})
    return value
