"""Time-zone names: the one rule for which names the portal accepts, everywhere.

A zone is accepted when it is an IANA time-zone name from the tz database — a zone such as
Europe/London or one of the database's own aliases such as US/Eastern or UTC — and never one of
the files a zoneinfo directory also holds that are not zones of anywhere: `localtime` (the server's
own setting), `posixrules` and `Factory`. ZoneInfo() opens all of these, so it cannot be the test.
"""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from app.services.errors import InvalidRequest

NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
NAME_MAX = 64


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """Every name `valid_zone` accepts."""
    return frozenset(available_timezones() - NOT_ZONES) | {"UTC"}


def valid_zone(name: str | None) -> str | None:
    """`name` if it is an accepted zone name, else None (for inputs where a bad value is ignored)."""
    if not isinstance(name, str) or not name or len(name) > NAME_MAX:
        return None
    return name if name in known_zones() else None


def first_zone(*names: str | None) -> str:
    """The first accepted zone among `names` (a customer's, then the gym's…), else UTC: stored data
    written before a rule changed must still be read in some zone."""
    return next((name for name in names if valid_zone(name)), "UTC")


def require_zone(name: str | None, *, field: str = "timezone", default: str | None = None) -> str:
    """`name` as an accepted zone (or `default` when none was given), else InvalidRequest naming `field`."""
    name = name.strip() if isinstance(name, str) else name
    if not name and default is not None:
        return default
    if valid_zone(name) is None:
        shown = name if isinstance(name, str) and len(name) <= NAME_MAX else "that value"
        raise InvalidRequest(f"Unknown time zone {shown!r}: use an IANA name such as Europe/London.",
                             fields={field: "unknown time zone"})
    return name


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The ZoneInfo for an accepted name, or for `fallback` (stored data written before a rule changed
    must still render)."""
    return ZoneInfo(valid_zone(name) or fallback)
