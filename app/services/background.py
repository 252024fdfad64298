"""Work a service wants done outside the request, without knowing how it runs.

A service says *what* should happen soon — "write these bookings' calendar events", "the outbox has
new rows" — and the job runtime registered at start-up (app/jobs.py, by create_app) decides *how*:
an RQ job when REDIS_URL is set, a thread of the web process on the embedded default, or inline in
the caller under tests. Services never import the RQ job module; this is the whole interface.

The database stays the truth in every runtime: what is due is written in rows before anything is
submitted here, so a submission that is lost (Redis down, a process killed) loses no work — the
periodic passes find it. Nothing here ever raises into the caller.
"""
from __future__ import annotations

import logging
from typing import Protocol

from flask import Flask, current_app, has_app_context
from sqlalchemy import event

from app.extensions import db

log = logging.getLogger(__name__)

RUNTIME_KEY = "atlas.jobs"


class Runtime(Protocol):
    """What app/jobs.py registers under app.extensions[RUNTIME_KEY]."""

    def submit(self, app: Flask, job: str, argument: object) -> None:
        """Run `job` (a name such as "calendar.events") with `argument` soon."""

    def kick(self, app: Flask, name: str) -> None:
        """Tell the dispatcher called `name` (e.g. "notifications") that it has work now."""


def _runtime() -> tuple[Flask, Runtime] | None:
    if not has_app_context():
        return None
    app = current_app._get_current_object()
    runtime = app.extensions.get(RUNTIME_KEY)
    return (app, runtime) if runtime is not None else None


def submit(job: str, argument: object = None) -> None:
    """Run `job` soon (after the caller's commit: call this once the rows it reads are committed)."""
    found = _runtime()
    if found is None:
        return
    app, runtime = found
    try:
        runtime.submit(app, job, argument)
    except Exception:  # noqa: BLE001 (never fail the caller: the periodic pass retries)
        log.warning("job %s could not be started now; the periodic pass will do it", job, exc_info=True)


def kick(name: str) -> None:
    """Nudge the dispatcher `name` now. A failed nudge changes nothing: the next tick finds the rows."""
    found = _runtime()
    if found is None:
        return
    app, runtime = found
    try:
        runtime.kick(app, name)
    except Exception:  # noqa: BLE001 (never let a nudge fail the request)
        log.warning("could not nudge the %s dispatcher", name, exc_info=True)


def kick_after_commit(name: str) -> None:
    """Nudge the dispatcher `name` once the session's current transaction commits (never before:
    the dispatcher must be able to see the rows), at most once per transaction."""
    if _runtime() is None:
        return
    session = db.session()
    listener = _after_commit_listener(name)
    if not event.contains(session, "after_commit", listener):
        event.listen(session, "after_commit", listener, once=True)


_LISTENERS: dict[str, object] = {}


def _after_commit_listener(name: str):
    """One listener function per dispatcher name, so `event.contains` can tell it is already there."""
    listener = _LISTENERS.get(name)
    if listener is None:
        def listener(session, _name=name):
            kick(_name)

        _LISTENERS[name] = listener
    return listener


def dispatcher_mode(app: Flask) -> str:
    """How the notification outbox is emptied: rq (workers), thread (this process) or off (cron
    calls POST /api/notifications/process)."""
    if app.config["REDIS_URL"]:
        return "rq"
    wanted = app.config["NOTIFICATIONS_DISPATCHER"].lower()
    if wanted == "auto":
        return "off" if app.testing else "thread"
    return "thread" if wanted == "thread" else "off"


def calendar_mode(app: Flask) -> str:
    """How calendar jobs run: rq, thread or inline (CALENDAR_JOBS=auto picks rq with Redis, inline
    under tests, else a thread of the web process)."""
    wanted = app.config["CALENDAR_JOBS"].lower()
    if wanted in ("rq", "thread", "inline"):
        return wanted
    if app.config["REDIS_URL"]:
        return "rq"
    return "inline" if app.testing else "thread"
