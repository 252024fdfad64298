"""How the portal writes instants as text, in one place (the JSON API, the AI tools, Google, links)."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def iso_utc(value: datetime) -> str:
    """2024-03-15T09:00:00Z: UTC, to the second. Such strings sort as the instants compare."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local(value: datetime, tz: str) -> str:
    """2024-03-15T09:00:00+00:00, wall-clock time in `tz` with its offset."""
    return value.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def duration_text(minutes: int) -> str:
    """A span in its largest whole unit, as people say it: "1 day", "3 days", "1 hour", "12 hours",
    "90 minutes" (a cutoff on the pages, in the API's errors and in emails alike)."""
    if minutes and minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return "1 day" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"
