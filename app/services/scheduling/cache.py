"""A small in-process cache of availability answers, keyed by request and schedule version.

An entry is served only while (a) the organization's schedule version is the one it was computed
under — any booking, rule, override, holiday, type or link change raises it — and (b) it has not
reached its `valid_until`: the earlier of a short time-to-live and the moment its first slot would
fall inside the minimum notice. So a cached answer never offers a slot the engine would refuse now.
Each process keeps its own entries; the version check is one indexed query.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flask import current_app, has_app_context


@dataclass(frozen=True)
class _Entry:
    version: int
    valid_until: datetime
    value: Any


class SlotCache:
    """A bounded LRU mapping, safe for threaded servers."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, version: int, now: datetime) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.version != version or now >= entry.valid_until:
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def put(self, key: Hashable, version: int, valid_until: datetime, value: Any) -> None:
        with self._lock:
            self._entries[key] = _Entry(version, valid_until, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def app_cache() -> SlotCache | None:
    """The running app's cache (None outside an app context, e.g. in a bare script)."""
    return current_app.extensions.get("slot_cache") if has_app_context() else None


def reuse(kind: Hashable, search, build):
    """What an entry point makes of a slot search (its JSON body, a rendered day), built once and
    reused for as long as the search itself may be: keyed by the search's question and versions,
    valid until the search's own `valid_until`. A search that may not be reused is built every time."""
    cache = app_cache()
    if cache is None or search.valid_until is None:
        return build(search)
    now = datetime.now(timezone.utc)
    key = (kind, search.key)
    made = cache.get(key, search.versions, now)
    if made is None:
        made = build(search)
        cache.put(key, search.versions, search.valid_until, made)
    return made
