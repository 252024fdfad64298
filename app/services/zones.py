"""Time-zone names: the one rule for which names the portal accepts, everywhere.

A zone is accepted when it is an IANA time-zone name from the tz database — a zone such as
Europe/London or one of the database's own aliases such as US/Eastern or UTC — and never one of
the files a zoneinfo directory also holds that are not zones of anywhere: `localtime` (the server's
own setting), `posixrules` and `Factory`. ZoneInfo() opens all of these, so it cannot be the test.

What is *offered* is narrower: the canonical zones (`canonical_zones`), one name per place as the tz
database's zone.tab lists them (Europe/London, not GB, Europe/Belfast or Etc/GMT), each with its
country, for the settings' list. A name typed that is no zone ("London") gets a suggestion
(`suggest_zone`), which require_zone's error carries.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from zoneinfo import ZoneInfo, available_timezones

from app.services.errors import InvalidRequest
from app.services.phones import region_name

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
        shown = name if isinstance(name, str) and len(name) <= NAME_MAX and name.isprintable() else "that value"
        suggestion = suggest_zone(name)
        if suggestion:
            raise InvalidRequest(f"Unknown time zone {shown!r}. Did you mean {suggestion}?",
                                 fields={field: f"unknown time zone: did you mean {suggestion}?"},
                                 suggestion=suggestion)
        raise InvalidRequest(f"Unknown time zone {shown!r}: use an IANA name such as Europe/London.",
                             fields={field: "unknown time zone"})
    return name


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The ZoneInfo for an accepted name, or for `fallback` (stored data written before a rule changed
    must still render)."""
    return ZoneInfo(valid_zone(name) or fallback)


# --- the zones offered, and suggestions -------------------------------------------------------------

# The areas of the tz database's place names (a fallback when zone.tab cannot be read).
AREAS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@dataclass(frozen=True)
class ZoneChoice:
    """One zone offered in a list: its name, its place ("New York") and its country."""

    name: str
    place: str
    country: str

    @property
    def area(self) -> str:
        return self.name.split("/", 1)[0] if "/" in self.name else "UTC"

    @property
    def label(self) -> str:
        """"New York, United States" (or "UTC")."""
        return f"{self.place}, {self.country}" if self.country else self.place


def _zone_tab() -> list[tuple[str, str]]:
    """(country code, zone name) rows of the tz database's zone.tab (from the tzdata package, a
    dependency, so every machine offers the same list); [] when it cannot be read."""
    try:
        text = files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return []
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                rows.append((parts[0], parts[2]))
    return rows


@lru_cache(maxsize=1)
def canonical_zones() -> tuple[ZoneChoice, ...]:
    """The zones offered to choose from: UTC, then every place zone.tab lists (one or more per
    country), by area and place. Only names `valid_zone` accepts."""
    known = known_zones()
    rows = [(code, name) for code, name in _zone_tab() if name in known]
    if not rows:
        rows = [("", name) for name in known if name.split("/", 1)[0] in AREAS]
    seen, choices = set(), []
    for code, name in rows:
        if name in seen:
            continue
        seen.add(name)
        place = name.rsplit("/", 1)[-1].replace("_", " ")
        choices.append(ZoneChoice(name=name, place=place, country=region_name(code) if code else ""))
    choices.sort(key=lambda c: (c.area, c.place.casefold()))
    return (ZoneChoice(name="UTC", place="UTC", country=""), *choices)


def zone_groups(current: str | None = None) -> list[tuple[str, list[ZoneChoice]]]:
    """canonical_zones as (area, zones) groups for a <select>'s optgroups; `current` (an accepted
    name that is not canonical, such as US/Eastern saved before) is kept in a group of its own so
    the list can still show it chosen."""
    groups: dict[str, list[ZoneChoice]] = {}
    for choice in canonical_zones():
        groups.setdefault(choice.area, []).append(choice)
    listed = {c.name for c in canonical_zones()}
    if current and valid_zone(current) and current not in listed:
        groups = {"Current": [ZoneChoice(name=current, place=current, country="")], **groups}
    return list(groups.items())


@lru_cache(maxsize=1)
def _places() -> dict[str, str]:
    """Each canonical zone's place (casefolded, underscores as spaces) and country → the zone; the
    first zone listed for a country (zone.tab lists its most populous first) stands for it."""
    places: dict[str, str] = {}
    for choice in canonical_zones():
        places.setdefault(choice.place.casefold(), choice.name)
    for choice in canonical_zones():
        if choice.country:
            places.setdefault(choice.country.casefold(), choice.name)
    return places


def suggest_zone(text: str | None) -> str | None:
    """The canonical zone someone who typed `text` most likely meant: the same name in other case
    ("europe/london"), a place ("London", "new york"), a country ("Japan"), or a place misspelt
    ("Londn"); None when nothing is close."""
    if not isinstance(text, str):
        return None
    typed = " ".join(text.replace("_", " ").split())
    if not typed or len(typed) > NAME_MAX or not typed.isprintable():
        return None
    key = typed.casefold()
    canonical = {c.name.casefold().replace("_", " "): c.name for c in canonical_zones()}
    if key in canonical:
        return canonical[key]
    places = _places()
    place = key.rsplit("/", 1)[-1].strip()
    if place in places:
        return places[place]
    aliases = {name.casefold().replace("_", " "): name for name in known_zones()}
    if key in aliases:  # "us/eastern": accepted as US/Eastern
        return aliases[key]
    close = difflib.get_close_matches(place, list(places), n=1, cutoff=0.8)
    return places[close[0]] if close else None
