"""The self-test's checks of our own parts: the database and its schema, the notification runtime
(the queue integration's probe plus the outbox in the database), and the stored state of the Google
connections, and whether the rate limits hold. The outside services are probed by their integrations
(app/integrations: `probe`)."""
from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache

from flask import current_app
from sqlalchemy import func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError

from app.config import rate_limit_problem
from app.extensions import db
from app.integrations import google_calendar, queue
from app.integrations.health import (
    DEGRADED,
    NOT_CONFIGURED,
    OK,
    Probe,
    describe,
    ms_since,
)
from app.models import Booking, Calendar, CalendarConnection
from app.services import background
from app.services import notifications as notification_service

# --- database ------------------------------------------------------------------------------------

def check_database() -> Probe:
    """A round trip on a connection of its own, the server version, and whether the schema is at
    the migrations' head."""
    engine = db.engine
    details: dict = {"dialect": engine.dialect.name, "driver": engine.driver}
    try:
        with engine.connect() as connection:
            started = time.perf_counter()
            connection.execute(text("SELECT 1")).scalar_one()
            details["round_trip_ms"] = ms_since(started)
            details["reachable"] = True
            details["server_version"] = _server_version(connection)
            from alembic.runtime.migration import MigrationContext

            current = sorted(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        details.update(reachable=False, error=describe(exc))
        return Probe(DEGRADED, "The database cannot be reached.", details)
    directory = current_app.extensions["migrate"].directory
    heads = sorted(_script_directory(directory).get_heads())
    details["revision"] = ", ".join(current) or None
    details["head"] = ", ".join(heads) or None
    details["at_head"] = current == heads
    if not current:
        return Probe(DEGRADED, "The database has no schema revision: run `flask db upgrade`.", details)
    if current != heads:
        unknown = [rev for rev in current if not _revision_known(directory, rev)]
        summary = (f"The database is at revision {details['revision']}, which this code does not know "
                   f"(a newer release migrated it?)." if unknown
                   else f"The database is at {details['revision']}, not at head {details['head']}: "
                        "run `flask db upgrade`.")
        return Probe(DEGRADED, summary, details)
    return Probe(OK, f"{engine.dialect.name} answers in {details['round_trip_ms']} ms; schema at head.", details)


def _server_version(connection) -> str | None:
    if connection.dialect.name == "postgresql":
        return connection.execute(text("SHOW server_version")).scalar()
    if connection.dialect.name == "sqlite":
        return connection.execute(text("SELECT sqlite_version()")).scalar()
    info = getattr(connection.dialect, "server_version_info", None)
    return ".".join(str(part) for part in info) if info else None


@lru_cache(maxsize=4)
def _script_directory(directory: str):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(config)


def _revision_known(directory: str, revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return _script_directory(directory).get_revision(revision) is not None
    except CommandError:
        return False


# --- Redis, RQ and the workers -------------------------------------------------------------------

def check_redis_and_workers() -> Probe:
    """The queue integration's probe (Redis ping, the RQ queues' sizes, the registered workers),
    judged against the queues this configuration needs a worker on; on the embedded default (no
    REDIS_URL), which in-process runtime empties the outbox instead. Both report the outbox."""
    app = current_app._get_current_object()
    mode = background.dispatcher_mode(app)
    details: dict = {"dispatcher": mode, "calendar_jobs": background.calendar_mode(app), "outbox": _outbox_health()}
    queue_names = _queue_names(app)
    found = queue.probe(app.config, queue_names)
    details.update(found.details)
    if found.status == NOT_CONFIGURED:
        if mode == "thread":
            dispatcher = app.extensions.get("notifications_dispatcher")
            details["dispatcher_running"] = bool(dispatcher and dispatcher.is_alive())
            summary = "No REDIS_URL: the web process sends notifications itself (in-process dispatcher)."
        else:
            summary = ("No REDIS_URL and no in-process dispatcher: notifications are sent when "
                       "POST /api/notifications/process is called (cron).")
        return Probe(NOT_CONFIGURED, summary, details)
    if found.status != OK:
        return Probe(DEGRADED, "Redis cannot be reached: workers get no jobs (the outbox in the database keeps "
                               "every notification until they do).", details)

    problems = []
    serving = details["workers"]["serving"]
    for name in queue_names:
        if not serving.get(name):
            problems.append(f"no RQ worker listens on queue '{name}' ({_queue_purpose(app, name)} wait)")
    outbox = details["outbox"]
    if outbox.get("stuck_sending"):
        problems.append(f"{outbox['stuck_sending']} notification(s) stuck in 'sending' past their lease")
    if "error" in outbox:
        problems.append("the notification outbox could not be read")
    if problems:
        details["problems"] = problems
        return Probe(DEGRADED, _sentence(problems), details)
    return Probe(OK, found.summary, details)


def _queue_names(app) -> list[str]:
    """The queues this configuration needs a worker on (the calendar queue only with Google)."""
    names = [app.config["NOTIFICATIONS_QUEUE"]]
    if google_calendar.GoogleSettings.from_config(app.config) is not None and background.calendar_mode(app) == "rq":
        names.append(app.config["CALENDAR_QUEUE"])
    return list(dict.fromkeys(names))


def _queue_purpose(app, name: str) -> str:
    return "notifications" if name == app.config["NOTIFICATIONS_QUEUE"] else "calendar write-backs and syncs"


def _outbox_health() -> dict:
    try:
        health = notification_service.queue_health()
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"error": describe(exc)}
    return {key: health[key] for key in ("due_now", "oldest_due_seconds", "stuck_sending")}


# --- Google Calendar ---------------------------------------------------------------------------------

def check_google(*, now: datetime | None = None) -> Probe:
    """The Google integration's probe (configured or not; Google itself is never called), then the
    stored state of every connection and calendar, counted in the database — a call per connection
    would cost a token refresh and an API call each, and the sync keeps these states."""
    found = google_calendar.probe(current_app.config)
    if found.status != OK:
        return found
    now = now or datetime.now(timezone.utc)
    by_status = dict(db.session.execute(
        select(CalendarConnection.status, func.count()).group_by(CalendarConnection.status)).all())
    calendars = db.session.execute(select(
        func.count(),
        func.count().filter(Calendar.check_for_conflicts.is_(True)),
        func.count().filter(Calendar.is_destination.is_(True)),
        func.count().filter(or_(Calendar.sync_error.is_not(None), Calendar.sync_failed_at.is_not(None))),
    ).select_from(Calendar)).one()
    failed_writes = db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.calendar_sync_status == "failed", Booking.end_at > now))
    db.session.rollback()  # end the read transaction
    connections = {status: by_status.get(status, 0) for status in ("active", "needs_reconnect", "error", "revoked")}
    details = {
        **found.details,
        "calendar_jobs": background.calendar_mode(current_app._get_current_object()),
        "connections": connections,
        "calendars": {"total": calendars[0], "blocking_availability": calendars[1], "write_back": calendars[2],
                      "with_sync_errors": calendars[3]},
        "failed_write_backs": failed_writes,
    }
    problems = []
    if connections["needs_reconnect"]:
        problems.append(f"{connections['needs_reconnect']} connection(s) need reconnecting")
    if connections["error"]:
        problems.append(f"{connections['error']} connection(s) in error")
    if calendars[3]:
        problems.append(f"{calendars[3]} calendar(s) failing to sync")
    if failed_writes:
        problems.append(f"{failed_writes} upcoming booking(s) not written to Google")
    if problems:
        details["problems"] = problems
        return Probe(DEGRADED, _sentence(problems), details)
    total = sum(connections.values())
    return Probe(OK, f"Google Calendar configured; {total} connection(s), none failing.", details)


def _sentence(problems: Sequence[str]) -> str:
    joined = "; ".join(problems)
    return joined[:1].upper() + joined[1:] + "."


def check_rate_limits() -> Probe:
    """Whether the public endpoints' rate limits hold: shared through Redis by every process, or in
    the memory of the one web process; degraded when several processes each keep their own counts."""
    config = current_app.config
    in_memory = str(config["RATELIMIT_STORAGE_URI"]).startswith("memory://")
    details = {"enabled": bool(config["RATELIMIT_ENABLED"]), "web_processes": int(config["WEB_PROCESSES"]),
               "storage": "memory" if in_memory else "redis"}
    if not config["RATELIMIT_ENABLED"]:
        return Probe(NOT_CONFIGURED, "Rate limits are off (RATELIMIT_ENABLED=false).", details)
    problem = rate_limit_problem(config)
    if problem:
        return Probe(DEGRADED, _sentence([problem]), details)
    if details["storage"] == "redis":
        return Probe(OK, "Rate limits are shared by every process through Redis.", details)
    return Probe(OK, "Rate limits are counted in the memory of the one web process.", details)
