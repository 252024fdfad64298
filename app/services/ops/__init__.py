"""Operations: the system self-test behind /api/test/booking-system (docs/api.md).

Promises: every component — the database and its schema, Redis and the RQ workers with the
notification outbox, SMTP, Twilio, Google Calendar, the availability engine — is checked the cheap
way with short timeouts and answered as a `Probe` (ok, degraded or not_configured, a sentence,
details); a check never raises; no configured secret reaches the report; the overall status is the
worst component's, `not_configured` counting as no failure.

Exports `run_self_test(components=None)`, which answers a `SelfTestReport`, and
`TESTS`, the spec's test names and the components each runs. The outside services are probed by
their integrations (`app.integrations.<name>.probe`); this package checks our own parts and
composes the report.
"""
from app.services.ops.selftest import TESTS, SelfTestReport, run_self_test

__all__ = ["TESTS", "SelfTestReport", "run_self_test"]
