"""The system self-test: each moving part of the portal checked the cheap way, for an operator.

One plain function per component, each returning a `CheckResult` with a status:

* `ok` — configured and working;
* `degraded` — configured (or half-configured) and not working, or working with a problem a
  person should look at (a worker missing, a Google connection that needs reconnecting);
* `not_configured` — the embedded default is in use (no Redis, the file outbox, no Twilio, no
  Google). That is a choice, not a failure: it never makes the overall status worse.

What it promises:

* A check never raises. Whatever goes wrong becomes a `degraded` result that says what failed.
* Cheap and bounded: SMTP gets connect + EHLO (+ STARTTLS and login when configured) and QUIT,
  never a message; Twilio one authenticated account fetch; Google no call at all (the stored
  connection and calendar states are counted); every network step has a short timeout.
* Nothing secret in a result: no password, token, key or credential-bearing URL is put in the
  details, and as a second line of defence every configured secret is scrubbed from the final
  report (an exception text that quoted one would lose it).
* The availability engine is checked against expected answers written out by hand (including
  both of London's 2025 DST change days), not against itself.
"""
from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from datetime import time as wall
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from twilio.base.exceptions import TwilioException, TwilioRestException

from app.extensions import db
from app.integrations import queue
from app.integrations import sms as sms_integration
from app.integrations.google_calendar import GoogleSettings
from app.models import Booking, Calendar, CalendarConnection
from app.services import background
from app.services.scheduling import engine as availability
from app.services import notifications as notification_service
from app.timeformat import iso_utc

log = logging.getLogger(__name__)

OK, DEGRADED, NOT_CONFIGURED = "ok", "degraded", "not_configured"
# The longest any one network step of a check may take: an operator is waiting for the answer.
CHECK_TIMEOUT = 5.0
MAX_WORKERS_LISTED = 20


@dataclass
class CheckResult:
    """One component's verdict: a status, a one-line summary for people, and details for tools."""

    status: str
    summary: str
    details: dict = field(default_factory=dict)
    duration_ms: float = 0.0

    def as_dict(self) -> dict:
        return {"status": self.status, "summary": self.summary, "details": self.details,
                "duration_ms": self.duration_ms}


@dataclass
class SelfTestReport:
    status: str
    components: dict[str, CheckResult]
    checked_at: datetime
    duration_ms: float

    @property
    def database_down(self) -> bool:
        """True when the database was checked and could not be reached."""
        result = self.components.get("database")
        return result is not None and result.details.get("reachable") is False

    def as_dict(self) -> dict:
        return {"status": self.status, "components": {name: r.as_dict() for name, r in self.components.items()},
                "duration_ms": self.duration_ms}


# --- database ------------------------------------------------------------------------------------

def check_database() -> CheckResult:
    """A round trip on a connection of its own, the server version, and whether the schema is at
    the migrations' head."""
    engine = db.engine
    details: dict = {"dialect": engine.dialect.name, "driver": engine.driver}
    try:
        with engine.connect() as connection:
            started = time.perf_counter()
            connection.execute(text("SELECT 1")).scalar_one()
            details["round_trip_ms"] = _ms_since(started)
            details["reachable"] = True
            details["server_version"] = _server_version(connection)
            from alembic.runtime.migration import MigrationContext

            current = sorted(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        details.update(reachable=False, error=_describe(exc))
        return CheckResult(DEGRADED, "The database cannot be reached.", details)
    heads = sorted(_migration_heads(current_app.extensions["migrate"].directory))
    details["revision"] = ", ".join(current) or None
    details["head"] = ", ".join(heads) or None
    details["at_head"] = current == heads
    if not current:
        return CheckResult(DEGRADED, "The database has no schema revision: run `flask db upgrade`.", details)
    if current != heads:
        unknown = [rev for rev in current if not _revision_known(current_app.extensions["migrate"].directory, rev)]
        summary = (f"The database is at revision {details['revision']}, which this code does not know "
                   f"(a newer release migrated it?)." if unknown
                   else f"The database is at {details['revision']}, not at head {details['head']}: "
                        "run `flask db upgrade`.")
        return CheckResult(DEGRADED, summary, details)
    return CheckResult(OK, f"{engine.dialect.name} answers in {details['round_trip_ms']} ms; schema at head.",
                       details)


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


def _migration_heads(directory: str) -> tuple[str, ...]:
    return tuple(_script_directory(directory).get_heads())


def _revision_known(directory: str, revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return _script_directory(directory).get_revision(revision) is not None
    except CommandError:
        return False


# --- Redis, RQ and the workers -------------------------------------------------------------------

def check_redis_and_workers() -> CheckResult:
    """Redis ping, the RQ queues' sizes and the registered workers; on the embedded default (no
    REDIS_URL), which in-process runtime empties the outbox instead. Both report the outbox."""
    app = current_app._get_current_object()
    mode = background.dispatcher_mode(app)
    details: dict = {"dispatcher": mode, "calendar_jobs": background.calendar_mode(app), "outbox": _outbox_health()}
    url = app.config.get("REDIS_URL")
    if not url:
        if mode == "thread":
            dispatcher = app.extensions.get("notifications_dispatcher")
            details["dispatcher_running"] = bool(dispatcher and dispatcher.is_alive())
            summary = ("No REDIS_URL: the web process sends notifications itself (in-process dispatcher).")
        else:
            summary = ("No REDIS_URL and no in-process dispatcher: notifications are sent when "
                       "POST /api/notifications/process is called (cron).")
        return CheckResult(NOT_CONFIGURED, summary, details)

    details["redis"] = _redis_location(url)
    connection = Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT)
    try:
        started = time.perf_counter()
        connection.ping()
        details["ping_ms"] = _ms_since(started)
        details["redis_version"] = connection.info("server").get("redis_version")
        queue_names = _queue_names(app)
        details["queues"] = {name: queue.queue_counts(name, connection) for name in queue_names}
        details["workers"] = queue.workers(connection, queue_names)
    except RedisError as exc:
        details["error"] = _describe(exc)
        return CheckResult(DEGRADED, "Redis cannot be reached: workers get no jobs (the outbox in the database keeps "
                                    "every notification until they do).",
                           details)
    finally:
        connection.close()

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
        return CheckResult(DEGRADED, _sentence(problems), details)
    count = details["workers"]["count"]
    return CheckResult(OK, f"Redis answers in {details['ping_ms']} ms; {count} worker(s) serve the queues.", details)


def _queue_names(app) -> list[str]:
    """The queues this configuration needs a worker on (the calendar queue only with Google)."""
    names = [app.config["NOTIFICATIONS_QUEUE"]]
    if GoogleSettings.from_config(app.config) is not None and background.calendar_mode(app) == "rq":
        names.append(app.config["CALENDAR_QUEUE"])
    return list(dict.fromkeys(names))


def _queue_purpose(app, name: str) -> str:
    return "notifications" if name == app.config["NOTIFICATIONS_QUEUE"] else "calendar write-backs and syncs"


def _outbox_health() -> dict:
    try:
        health = notification_service.queue_health()
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"error": _describe(exc)}
    return {key: health[key] for key in ("due_now", "oldest_due_seconds", "stuck_sending")}


def _redis_location(url: str) -> str:
    """The Redis address without its credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    path = parts.path if parts.path not in ("", "/") else ""
    return f"{parts.scheme}://{host}{port}{path}"


# --- email -----------------------------------------------------------------------------------------

def check_smtp() -> CheckResult:
    """Connect and EHLO — with STARTTLS or TLS and the login when configured, as the notification
    transport connects — then QUIT. No message is sent."""
    config = current_app.config
    if not config.get("SMTP_HOST"):
        return CheckResult(NOT_CONFIGURED, "No SMTP_HOST: emails are written as .eml files to the outbox folder.",
                           {"mode": "outbox", "outbox_dir": str(config["OUTBOX_DIR"])})
    state = current_app.extensions["mail"]
    security = "ssl" if state.use_ssl else "starttls" if state.use_tls else "none"
    details: dict = {"mode": "smtp", "host": state.server, "port": state.port, "security": security,
                     "login": bool(state.username and state.password)}
    timeout = min(float(config.get("SMTP_TIMEOUT") or CHECK_TIMEOUT), CHECK_TIMEOUT)
    where = f"{state.server}:{state.port}"
    # The steps of the transport's own connection (Flask-Mail's configure_host: TLS or STARTTLS as
    # its settings say, with the library's default TLS context, then the login), taken one by one
    # so the answer can say which step failed and the socket is closed whichever it was.
    host = None
    step = "connect"
    try:
        if state.use_ssl:
            host = smtplib.SMTP_SSL(state.server, state.port, timeout=timeout)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=timeout)
        step = "EHLO"
        code, reply = host.ehlo()
        if code != 250:
            code, reply = host.helo()
        if state.use_tls:
            step = "STARTTLS"
            host.starttls()
            code, reply = host.ehlo()
        details["server"] = _text(reply).splitlines()[0][:200] if reply else None
        details["extensions"] = sorted(host.esmtp_features)
        if state.username and state.password:
            step = "login"
            host.login(state.username, state.password)
    except smtplib.SMTPAuthenticationError as exc:
        details["error"] = f"{exc.smtp_code} {_text(exc.smtp_error)}"[:300]
        return CheckResult(DEGRADED, f"The SMTP server at {where} refused the login.", details)
    except smtplib.SMTPNotSupportedError as exc:
        details["error"] = str(exc)
        return CheckResult(DEGRADED, f"The SMTP server at {where} cannot do what is configured: {exc}", details)
    except (smtplib.SMTPException, OSError) as exc:
        details["error"] = _describe(exc)
        details["failed_step"] = step
        what = "Cannot reach" if step == "connect" else f"{step} failed with"
        return CheckResult(DEGRADED, f"{what} the SMTP server at {where}: {details['error']}.", details)
    finally:
        if host is not None:
            try:
                host.quit()
            except (smtplib.SMTPException, OSError):
                host.close()
    steps = "EHLO" + {"ssl": " over TLS", "starttls": " + STARTTLS", "none": ""}[security]
    if details["login"]:
        steps += " + login"
    return CheckResult(OK, f"The SMTP server at {where} accepted {steps}.", details)


# --- SMS -----------------------------------------------------------------------------------------------

TWILIO_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_PHONE_NUMBER")


def check_twilio() -> CheckResult:
    """Configured or not; when configured, one authenticated read (the account) through the real
    twilio client and the same HTTP layer the SMS transport uses (TWILIO_API_BASE_URL honoured)."""
    config = current_app.config
    missing = [name for name in TWILIO_SETTINGS if not config.get(name)]
    if len(missing) == len(TWILIO_SETTINGS):
        return CheckResult(NOT_CONFIGURED, "No Twilio credentials: SMS are written as text files to the outbox folder.",
                           {"mode": "outbox", "outbox_dir": str(config["OUTBOX_DIR"])})
    if missing:
        return CheckResult(DEGRADED, f"Twilio is only partly configured (missing {', '.join(missing)}): "
                                    "SMS go to the outbox folder, not to phones.",
                           {"mode": "outbox", "missing": missing, "outbox_dir": str(config["OUTBOX_DIR"])})
    sid = config["TWILIO_ACCOUNT_SID"]
    base_url = config.get("TWILIO_API_BASE_URL") or None
    details: dict = {"mode": "twilio", "account": _mask(sid), "from_number": config["TWILIO_PHONE_NUMBER"],
                     "api": base_url or sms_integration.TWILIO_API}
    timeout = min(float(config.get("TWILIO_TIMEOUT") or CHECK_TIMEOUT), CHECK_TIMEOUT)
    transport = sms_integration.TwilioTransport(sid, config["TWILIO_AUTH_TOKEN"], config["TWILIO_PHONE_NUMBER"],
                                                base_url=base_url, timeout=timeout)
    try:
        account = transport.client.api.v2010.accounts(sid).fetch()
    except TwilioRestException as exc:
        details["error"] = f"HTTP {exc.status}, code {exc.code}: {exc.msg}"[:300]
        what = "refused the credentials" if exc.status in (401, 403) else f"answered {exc.status}"
        return CheckResult(DEGRADED, f"Twilio {what}: SMS cannot be sent.", details)
    except requests.exceptions.RequestException as exc:
        details["error"] = _describe(exc)
        return CheckResult(DEGRADED, "Twilio cannot be reached: SMS wait and are retried.", details)
    except TwilioException as exc:
        details["error"] = _describe(exc)
        return CheckResult(DEGRADED, "The Twilio request failed.", details)
    finally:
        session = getattr(transport.client.http_client, "session", None)
        if session is not None:
            session.close()
    # Only what helps: the account payload also carries the auth token, which must never be shown.
    details["account_status"] = account.status
    details["account_type"] = account.type
    if account.status != "active":
        return CheckResult(DEGRADED, f"The Twilio account is {account.status}: SMS cannot be sent.", details)
    return CheckResult(OK, "Twilio accepted the credentials; the account is active.", details)


# --- Google Calendar ---------------------------------------------------------------------------------

def check_google(*, now: datetime | None = None) -> CheckResult:
    """Without GOOGLE_CLIENT_ID/SECRET: not configured. Otherwise the stored state of every
    connection and calendar, counted in the database — Google itself is never called (a check per
    connection would cost a token refresh and an API call each, and the sync keeps these states)."""
    config = current_app.config
    settings = GoogleSettings.from_config(config)
    if settings is None:
        half = bool(config.get("GOOGLE_CLIENT_ID")) != bool(config.get("GOOGLE_CLIENT_SECRET"))
        if half:
            missing = "GOOGLE_CLIENT_SECRET" if config.get("GOOGLE_CLIENT_ID") else "GOOGLE_CLIENT_ID"
            return CheckResult(DEGRADED, f"Google Calendar is only partly configured (missing {missing}): sync is off.",
                               {"missing": [missing]})
        return CheckResult(NOT_CONFIGURED, "No GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET: calendar sync is off.", {})
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
        "api": settings.api_endpoint or "https://www.googleapis.com",
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
        return CheckResult(DEGRADED, _sentence(problems), details)
    total = sum(connections.values())
    return CheckResult(OK, f"Google Calendar configured; {total} connection(s), none failing.", details)


# --- the availability engine -----------------------------------------------------------------------

@dataclass(frozen=True)
class EngineCase:
    """One synthetic schedule and the slot starts (UTC, "YYYY-MM-DDTHH:MMZ") it must produce."""

    name: str
    timezone: str
    day: date
    rules: tuple[availability.WeeklyRule, ...]
    duration_minutes: int
    expected: tuple[str, ...]
    bookings: tuple[availability.ExistingBooking, ...] = ()
    busy: tuple[availability.BusyInterval, ...] = ()


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# Worked examples from docs/availability.md, written out by hand (not computed by the engine).
ENGINE_CASES: tuple[EngineCase, ...] = (
    EngineCase("Europe/London spring forward (2025-03-30), 00:00-06:00 local, 60 min", "Europe/London",
               date(2025, 3, 30), (availability.WeeklyRule(0, wall(0), wall(6)),), 60,
               ("2025-03-30T00:00Z", "2025-03-30T01:00Z", "2025-03-30T02:00Z", "2025-03-30T03:00Z",
                "2025-03-30T04:00Z")),
    EngineCase("Europe/London fall back (2025-10-26), 00:00-04:00 local, 60 min", "Europe/London",
               date(2025, 10, 26), (availability.WeeklyRule(0, wall(0), wall(4)),), 60,
               ("2025-10-25T23:00Z", "2025-10-26T00:00Z", "2025-10-26T01:00Z", "2025-10-26T02:00Z",
                "2025-10-26T03:00Z")),
    EngineCase("Europe/London summer Monday 09:00-13:00, a booking at 10:00 and busy 12:15-12:45", "Europe/London",
               date(2025, 6, 2), (availability.WeeklyRule(1, wall(9), wall(13)),), 60,
               ("2025-06-02T08:00Z", "2025-06-02T10:00Z"),
               bookings=(availability.ExistingBooking(_utc(2025, 6, 2, 9), _utc(2025, 6, 2, 10)),),
               busy=(availability.BusyInterval(_utc(2025, 6, 2, 11, 15), _utc(2025, 6, 2, 11, 45)),)),
)
# Before every case's day, so no slot is cut by the minimum notice: the answer depends on nothing else.
ENGINE_NOW = _utc(2025, 1, 1)


def check_availability_engine(cases: Sequence[EngineCase] = ENGINE_CASES, *, now: datetime = ENGINE_NOW) -> CheckResult:
    """Run find_slots on small synthetic schedules (two of them DST change days) and compare the
    starts with the expected ones."""
    results = []
    for case in cases:
        entry: dict = {"name": case.name, "timezone": case.timezone, "date": case.day.isoformat()}
        try:
            schedule = availability.StaffSchedule("self-test", "Self-test trainer", case.timezone, case.rules,
                                                  bookings=case.bookings, busy=case.busy)
            spec = availability.AppointmentSpec("self-test", case.duration_minutes)
            window_start, window_end = availability.local_day_window(case.day, case.day, case.timezone)
            slots = availability.find_slots([schedule], spec, window_start, window_end, now=now)
            got = [slot.start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ") for slot in slots]
        except (ValueError, TypeError) as exc:
            entry.update(ok=False, error=_describe(exc), expected=list(case.expected))
        else:
            entry.update(ok=got == list(case.expected), starts=got)
            if not entry["ok"]:
                entry["expected"] = list(case.expected)
        results.append(entry)
    failed = [entry["name"] for entry in results if not entry["ok"]]
    details = {"cases": results, "passed": len(results) - len(failed), "failed": len(failed)}
    if failed:
        return CheckResult(DEGRADED, f"The availability engine gave wrong slots for: {'; '.join(failed)}.", details)
    return CheckResult(OK, f"The availability engine gave the expected slots in all {len(results)} cases "
                           "(including both DST change days).", details)


# --- running them ------------------------------------------------------------------------------------

COMPONENTS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "redis_and_workers": check_redis_and_workers,
    "smtp": check_smtp,
    "twilio": check_twilio,
    "google": check_google,
    "availability_engine": check_availability_engine,
}
# The spec's testName values (POST /api/test/booking-system) and the components each runs.
TESTS: dict[str, tuple[str, ...]] = {
    "availability": ("availability_engine",),
    "database": ("database",),
    "notifications": ("redis_and_workers", "smtp", "twilio"),
    "calendar": ("google",),
}


def run_check(name: str) -> CheckResult:
    """One component's check, timed. An unexpected error becomes a degraded result (and a log line)."""
    started = time.perf_counter()
    try:
        result = COMPONENTS[name]()
    except Exception as exc:  # noqa: BLE001 (the self-test reports failures, it must not become one)
        db.session.rollback()
        log.exception("self-test: the %s check failed unexpectedly", name)
        result = CheckResult(DEGRADED, f"The {name} check failed unexpectedly.", {"error": _describe(exc)})
    result.duration_ms = _ms_since(started)
    return result


def overall_status(results: Sequence[CheckResult]) -> str:
    """The worst status: degraded if any is; else ok if any is; else (all not configured) not_configured."""
    statuses = {result.status for result in results}
    if DEGRADED in statuses:
        return DEGRADED
    return OK if OK in statuses else NOT_CONFIGURED


def run_self_test(components: Sequence[str] | None = None) -> SelfTestReport:
    """Run the named components' checks (all by default), in order, with secrets scrubbed."""
    names = list(components or COMPONENTS)
    unknown = [name for name in names if name not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown self-test component(s): {', '.join(unknown)}")
    checked_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    results = {name: run_check(name) for name in names}
    secrets = _secret_values()
    for result in results.values():
        result.summary = _redact(result.summary, secrets)
        result.details = _redact(result.details, secrets)
    return SelfTestReport(overall_status(list(results.values())), results, checked_at, _ms_since(started))


# --- helpers -----------------------------------------------------------------------------------------

def _secret_values() -> list[str]:
    """Every configured secret, so that none can reach a report even inside an error text."""
    config = current_app.config
    values = [config.get(name) for name in ("SECRET_KEY", "ADMIN_API_KEY", "SMTP_PASSWORD", "MAIL_PASSWORD",
                                             "TWILIO_AUTH_TOKEN", "GOOGLE_CLIENT_SECRET")]
    values += (config.get("CALENDAR_TOKEN_KEYS") or "").split(",")
    for name in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL"):
        raw = config.get(name)
        if raw:
            try:
                values.append(make_url(str(raw)).password)
            except Exception:  # noqa: BLE001 (an odd URL: fall back to the generic parser)
                values.append(urlsplit(str(raw)).password)
    # Longest first, so a secret containing another is removed whole.
    return sorted({v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= 4}, key=len, reverse=True)


def _redact(value, secrets: Sequence[str]):
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, dict):
        return {key: _redact(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item, secrets) for item in value]
    return value


def _describe(exc: BaseException) -> str:
    """A short, single-line description of an error (the driver's own message, not SQLAlchemy's
    wrapper with the statement and a link)."""
    original = getattr(exc, "orig", None) or exc
    if isinstance(original, ConnectionRefusedError):
        return "connection refused"
    if isinstance(original, TimeoutError):
        return "timed out"
    message = str(original).strip().splitlines()
    text_ = message[0] if message else ""
    return (text_ or original.__class__.__name__)[:300]


def _sentence(problems: Sequence[str]) -> str:
    joined = "; ".join(problems)
    return joined[:1].upper() + joined[1:] + "."


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _mask(value: str) -> str:
    return f"{value[:2]}…{value[-4:]}" if len(value) > 8 else "…"


def _iso(value: datetime) -> str:
    return iso_utc(value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
