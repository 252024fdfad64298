"""What an integration's health probe answers, and the small helpers the probes share.

Each integration offers `probe(config, …) -> Probe`: is it configured, and when it is, does the
outside service answer — the cheap way (no email or SMS is sent, nothing is written) and with a
short timeout on every network step. The failures to expect (unreachable, timed out, refused
credentials, a service that answers with an error) come back as a `degraded` answer that says what
failed, not as an exception. Probes put no secret in their details or sentences.

Statuses (the self-test reports them as they are, docs/api.md):

* `ok` — configured and working;
* `degraded` — configured (or half-configured) and not working, or working with a problem a person
  should look at;
* `not_configured` — the embedded default is in use: a choice, not a failure.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

OK, DEGRADED, NOT_CONFIGURED = "ok", "degraded", "not_configured"
# The longest any one network step of a probe may take, whatever the transport's own timeout is:
# an operator (or a monitor) is waiting for the answer.
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Probe:
    """A verdict: a status, a one-line summary for people, details for tools, and how long it took
    (filled in by whoever timed it)."""

    status: str
    summary: str
    details: dict = field(default_factory=dict)
    duration_ms: float = 0.0

    def as_dict(self) -> dict:
        return {"status": self.status, "summary": self.summary, "details": self.details,
                "duration_ms": self.duration_ms}


def describe(exc: BaseException) -> str:
    """A short, single-line description of an error (the driver's own message, not a wrapper's
    such as SQLAlchemy's with the statement and a link)."""
    original = getattr(exc, "orig", None) or exc
    if isinstance(original, ConnectionRefusedError):
        return "connection refused"
    if isinstance(original, TimeoutError):
        return "timed out"
    message = str(original).strip().splitlines()
    first = message[0] if message else ""
    return (first or original.__class__.__name__)[:300]


def ms_since(started: float) -> float:
    """Milliseconds since `started` (a time.perf_counter() reading), to a tenth."""
    return round((time.perf_counter() - started) * 1000, 1)
