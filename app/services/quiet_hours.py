"""Quiet hours: the local hours in which no reminder reaches a customer's phone (by default
21:00–08:00 in the customer's own zone, the gym's when the booking has none).

An organization setting (`Organization.settings["quiet_hours"]`): {"start": "21:00", "end":
"08:00", "email": false}, or {"off": true}; absent means the default. Text reminders follow it;
email reminders too when "email" is on. Confirmations, updates and cancellations answer something
a person just did and are never held.

A reminder whose moment falls inside quiet hours is placed (`place`) when it is written:
* after them — at their end — when that still leaves at least half its notice (a 24-hour reminder
  due at 06:00 goes at 08:00);
* else before them — QUIET_MARGIN before they begin — when that is not too early (after the
  earliest time the caller allows); the 2-hour reminder of a 06:00 class goes at 20:45 the
  evening before;
* else not at all.
At send time a reminder that finds itself inside quiet hours (the worker was down, the settings
changed) is held to their end while that still leaves half its notice, else skipped.
Pure computation over zoneinfo: right on DST days, as the wall clock reads.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

QUIET_MARGIN = timedelta(minutes=15)  # a reminder moved before quiet hours goes this long before they begin


@dataclass(frozen=True)
class QuietHours:
    start: time          # local wall-clock time they begin
    end: time            # and end (the next morning when end <= start)
    email: bool = False  # email reminders are held too (text reminders always)

    def applies_to(self, channel: str) -> bool:
        return channel == "sms" or self.email

    def label(self) -> str:
        """"21:00–08:00"."""
        return f"{self.start:%H:%M}\u2013{self.end:%H:%M}"

    def contains(self, instant: datetime, tz: str) -> bool:
        """Whether `instant` falls inside quiet hours, as the clock in `tz` reads then."""
        local = instant.astimezone(ZoneInfo(tz)).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def period(self, instant: datetime, tz: str) -> tuple[datetime, datetime]:
        """(begin, end) of the quiet period holding `instant` (which must be inside one), in UTC."""
        zone = ZoneInfo(tz)
        local = instant.astimezone(zone)
        day = local.date()
        if self.start <= self.end:
            begin_day, end_day = day, day
        elif local.time() >= self.start:
            begin_day, end_day = day, day + timedelta(days=1)
        else:
            begin_day, end_day = day - timedelta(days=1), day
        return _at(begin_day, self.start, zone), _at(end_day, self.end, zone)

    def place(self, send_at: datetime, booking_start: datetime, notice: timedelta, tz: str, *,
              earliest: datetime) -> datetime | None:
        """When a reminder due at `send_at` (with `notice` before `booking_start`) should go:
        `send_at` outside quiet hours; else their end, or just before they begin, or None (it does
        not go)."""
        if not self.contains(send_at, tz):
            return send_at
        begin, end = self.period(send_at, tz)
        if booking_start - end >= notice / 2:
            return end
        before = begin - QUIET_MARGIN
        if before >= earliest and not self.contains(before, tz):
            return before
        return None

    def hold(self, now: datetime, booking_start: datetime, notice: timedelta, tz: str) -> datetime | None:
        """At send time: None to send now (not quiet); else the end of the quiet period when that
        still leaves half the notice, or `booking_start` as a sign that it should not go at all."""
        if not self.contains(now, tz):
            return None
        _, end = self.period(now, tz)
        return end if booking_start - end >= notice / 2 else booking_start


DEFAULT = QuietHours(time(21, 0), time(8, 0))


def organization_quiet_hours(settings: Mapping | None) -> QuietHours | None:
    """The organization's quiet hours from its settings (the default when unset; None when off or
    unreadable as a window of two different times)."""
    value = (settings or {}).get("quiet_hours")
    if value is None:
        return DEFAULT
    if not isinstance(value, Mapping) or value.get("off"):
        return None
    start, end = parse_time(value.get("start")), parse_time(value.get("end"))
    if start is None or end is None or start == end:
        return DEFAULT
    return QuietHours(start, end, email=bool(value.get("email")))


def setting(quiet: QuietHours | None) -> dict:
    """What `organization_quiet_hours` reads back as `quiet`."""
    if quiet is None:
        return {"off": True}
    return {"start": f"{quiet.start:%H:%M}", "end": f"{quiet.end:%H:%M}", "email": quiet.email}


def parse_time(value) -> time | None:
    """"21:00" → 21:00; anything else → None."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None


def _at(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The instant the clock in `zone` reads `wall` on `day`, in UTC. In a spring-forward gap
    (a wall time that does not exist) fold=0 gives the instant as the clock reads after it
    (01:30 on the night the clocks go from 01:00 to 02:00 → 02:30); a time that repeats in the
    autumn is its first occurrence."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(timezone.utc)
