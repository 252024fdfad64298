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
