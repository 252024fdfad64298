"""Time zones on the public pages: the visitor's zone, the zones offered in the picker, and how
times are written (always with the zone named, so nobody turns up an hour early)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

# The zones most visitors of a UK gym come from, plus the big ones elsewhere. The organization's
# zone and the visitor's own (detected or chosen) are always added to the list.
COMMON_ZONES = (
    "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver", "America/Phoenix",
    "America/Chicago", "America/New_York", "America/Halifax", "America/Sao_Paulo", "Atlantic/Reykjavik",
    "UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
    "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Warsaw", "Europe/Athens", "Europe/Helsinki",
    "Europe/Istanbul", "Africa/Lagos", "Africa/Johannesburg", "Asia/Dubai", "Asia/Karachi", "Asia/Kolkata",
    "Asia/Bangkok", "Asia/Singapore", "Asia/Hong_Kong", "Asia/Tokyo", "Australia/Perth", "Australia/Sydney",
    "Pacific/Auckland",
)


def utc_offset_label(tz: str, at: datetime) -> str:
    """UTC+01:00 style label of the zone's offset at an instant."""
    offset = at.astimezone(ZoneInfo(tz)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "−"
    minutes = abs(minutes)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone_choices(current: str, *extra: str | None, now: datetime | None = None) -> list[tuple[str, str]]:
    """(value, label) pairs for the zone <select>, ordered by their offset now, `current` included."""
    now = now or datetime.now(timezone.utc)
    names = set(COMMON_ZONES) | {current} | {z for z in extra if z}
    rows = []
    for name in names:
        offset = now.astimezone(ZoneInfo(name)).utcoffset()
        rows.append((offset.total_seconds() if offset else 0, name))
    rows.sort()
    return [(name, f"{name.replace('_', ' ')} ({utc_offset_label(name, now)})") for _, name in rows]


def local(value: datetime, tz: str) -> datetime:
    return value.astimezone(ZoneInfo(tz))


def fmt_time(value: datetime, tz: str) -> str:
    """09:00"""
    return local(value, tz).strftime("%H:%M")


def fmt_short_day(value: date) -> str:
    """Tue 3 Mar"""
    return f"{value:%a} {value.day} {value:%b}"


def fmt_long_day(value: date) -> str:
    """Tuesday 3 March 2030"""
    return f"{value:%A} {value.day} {value:%B %Y}"


def fmt_when(value: datetime, tz: str, *, zone: bool = True) -> str:
    """Tue 3 Mar, 09:00 (Europe/London)"""
    moment = local(value, tz)
    text = f"{fmt_short_day(moment.date())}, {moment:%H:%M}"
    return f"{text} ({tz})" if zone else text


def fmt_span(start: datetime, end: datetime, tz: str, *, long: bool = False) -> str:
    """Tue 3 Mar, 09:00–10:00 (Europe/London); the end's day is named when it differs."""
    a, b = local(start, tz), local(end, tz)
    day = fmt_long_day(a.date()) if long else fmt_short_day(a.date())
    until = f"{b:%H:%M}" if a.date() == b.date() else f"{fmt_short_day(b.date())}, {b:%H:%M}"
    return f"{day}, {a:%H:%M}–{until} ({tz})"


def fmt_duration(minutes: int) -> str:
    """45 min, 1 hour, 1 h 30 min"""
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if rest == 0:
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{hours} h {rest} min"
