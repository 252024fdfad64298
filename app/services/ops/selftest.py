"""The system self-test: each moving part of the portal checked the cheap way, for an operator.

Each component's check answers a `Probe` (app/integrations/health.py): `ok`, `degraded` or
`not_configured`. The outside services are probed by their integrations (SMTP, Twilio, Google's
configuration, Redis and the RQ workers); the database, the outbox, the stored Google connection
states and the availability engine are checked here (checks.py, engine_check.py).

What it promises:

* A check never raises. Whatever goes wrong becomes a `degraded` result that says what failed.
* Cheap and bounded: SMTP gets connect + EHLO (+ STARTTLS and login when configured) and QUIT,
  never a message; Twilio one authenticated account fetch; Google no call at all (the stored
  connection and calendar states are counted); every network step has a short timeout.
* Nothing secret in a result: no password, token, key or credential-bearing URL is put in the
  details, and as a second line of defence every configured secret is scrubbed from the final
  report (an exception text that quoted one would lose it).
* The overall status is the worst component's; `not_configured` is a choice, never a failure.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import partial
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy.engine import make_url

from app.extensions import db
from app.integrations import email, sms
from app.integrations.health import (
    DEGRADED,
    NOT_CONFIGURED,
    OK,
    Probe,
    describe,
    ms_since,
)
from app.services.ops.checks import (
    check_database,
    check_google,
    check_rate_limits,
    check_redis_and_workers,
)
from app.services.ops.engine_check import check_availability_engine

log = logging.getLogger(__name__)

# The spec's testName values (POST /api/test/booking-system) and the components each runs.
TESTS: dict[str, tuple[str, ...]] = {
    "availability": ("availability_engine",),
    "database": ("database",),
    "notifications": ("redis_and_workers", "smtp", "twilio"),
    "calendar": ("google",),
    "rate_limits": ("rate_limits",),
}


@dataclass
class SelfTestReport:
    status: str
    components: dict[str, Probe]
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


def _checks() -> dict[str, Callable[[], Probe]]:
    """Every component's check, in the report's order."""
    config = current_app.config
    return {
        "database": check_database,
        "redis_and_workers": check_redis_and_workers,
        "smtp": partial(email.probe, config),
        "twilio": partial(sms.probe, config),
        "google": check_google,
        "availability_engine": check_availability_engine,
        "rate_limits": check_rate_limits,
    }


def run_self_test(components: Sequence[str] | None = None) -> SelfTestReport:
    """Run the named components' checks (all by default), in order, with secrets scrubbed."""
    checks = _checks()
    names = list(components or checks)
    unknown = [name for name in names if name not in checks]
    if unknown:
        raise ValueError(f"unknown self-test component(s): {', '.join(unknown)}")
    checked_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    secrets = _secret_values()
    results = {}
    for name in names:
        result = _timed(name, checks[name])
        results[name] = replace(result, summary=_redact(result.summary, secrets),
                                details=_redact(result.details, secrets))
    return SelfTestReport(overall_status(list(results.values())), results, checked_at, ms_since(started))


def _timed(name: str, check: Callable[[], Probe]) -> Probe:
    """One component's check, timed. An unexpected error becomes a degraded result (and a log line)."""
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001 (the self-test reports failures, it must not become one)
        db.session.rollback()
        log.exception("self-test: the %s check failed unexpectedly", name)
        result = Probe(DEGRADED, f"The {name} check failed unexpectedly.", {"error": describe(exc)})
    return replace(result, duration_ms=ms_since(started))


def overall_status(results: Sequence[Probe]) -> str:
    """The worst status: degraded if any is; else ok if any is; else (all not configured) not_configured."""
    statuses = {result.status for result in results}
    if DEGRADED in statuses:
        return DEGRADED
    return OK if OK in statuses else NOT_CONFIGURED


# --- redaction -------------------------------------------------------------------------------------

SECRET_SETTINGS = ("SECRET_KEY", "ADMIN_API_KEY", "SMTP_PASSWORD", "MAIL_PASSWORD", "TWILIO_AUTH_TOKEN",
                   "GOOGLE_CLIENT_SECRET")


def _secret_values() -> list[str]:
    """Every configured secret, so that none can reach a report even inside an error text."""
    config = current_app.config
    values = [config[name] for name in SECRET_SETTINGS]
    values += (config["CALENDAR_TOKEN_KEYS"] or "").split(",")
    for name in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL"):
        raw = config[name]
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
