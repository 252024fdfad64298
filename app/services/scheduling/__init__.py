"""Scheduling: which times can be booked, and the working hours that decide it.

What it promises (docs/availability.md states the semantics precisely): slots are right on DST days
and in every time zone; a slot is offered only when it, with its buffers, lies inside the trainer's
working time and clear of every booking and every busy time from their connected calendars; the
same input always gives the same slots.

* engine.py (with values.py and wall_time.py) — the pure engine: plain values in, slots out; no
  database, no Flask, no clock (import-linter keeps it so).
* loader.py — rows into the engine's values, in a fixed number of queries.
* links.py — booking pages as plain values: who takes bookings there, what can be booked, and how
  the person is chosen (individual, round robin, collective).
* search.py — `search_slots`: the slots of a page (or a whole team) over local dates.
* schedules.py — weekly hours, date overrides and holidays: editing them and previewing the result.
* cache.py and versions.py — answers cached per process and keyed by the organization's schedule
  and booking versions, which every change that can alter availability raises in its transaction.

Exported below for the rest of the portal; the modules import each other directly.
"""
from app.services.scheduling.cache import SlotCache, app_cache, reuse
from app.services.scheduling.links import (
    LinkInfo,
    choose_staff,
    get_public_link,
    link_info,
    link_staff,
)
from app.services.scheduling.loader import appointment_spec, booking_spec, load_schedules
from app.services.scheduling.search import SlotSearch, search_slots

__all__ = [
    "LinkInfo", "SlotCache", "SlotSearch", "app_cache", "appointment_spec", "booking_spec", "choose_staff",
    "get_public_link", "link_info", "link_staff", "load_schedules", "reuse", "search_slots",
]
