"""Time, for every module of the package: one `utcnow`, and the clock a delivery pass runs on."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Now, as a timezone-aware UTC datetime."""
    return datetime.now(timezone.utc)


class Clock:
    """The injected time when a test gives one, else the real time at each call."""

    def __init__(self, now: datetime | None) -> None:
        self.fixed = now

    def __call__(self) -> datetime:
        return self.fixed or utcnow()
