"""Each integration's health probe called directly, on the real stand-ins: what the endpoint tests
cannot see — the probe's own answer before the self-test scrubs secrets from it, the timeouts
(the transport's setting, capped by the probe's limit), implicit TLS, and the configurations the
endpoint tests do not cover."""
from __future__ import annotations

import json
import socket
import time

import pytest
from selftest_helpers import (
    SMTP_PASSWORD,
    SMTP_USER,
    TWILIO_TOKEN,
    google_config,
    smtp_config,
    twilio_config,
)


@pytest.fixture
def config(app):
    """The app's whole configuration as a plain mapping, with overrides (a probe only reads it)."""
    def make(**overrides) -> dict:
        return dict(app.config, **overrides)

    return make


@pytest.fixture
def silent_port():
    """A port whose connections are accepted by the kernel and then never answered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


# --- SMTP ------------------------------------------------------------------------------------------

def test_smtp_probe_over_implicit_tls_with_login(config, smtp_server):
    from app.integrations import email

    server = smtp_server(implicit_tls=True, login=True)
    probe_config = dict(smtp_config(server.port, user=SMTP_USER, password=SMTP_PASSWORD), MAIL_USE_SSL=True)
    result = email.probe(config(**probe_config))
    assert result.status == "ok", result
    assert result.details["security"] == "ssl" and result.details["login"] is True
    assert result.summary == f"The SMTP server at 127.0.0.1:{server.port} accepted EHLO over TLS + login."
    assert server.logins == [(SMTP_USER, True)] and server.handler.messages == []
    assert SMTP_PASSWORD not in json.dumps(result.details) + result.summary


def test_smtp_probe_waits_at_most_the_configured_timeout(config, silent_port):
    from app.integrations import email

    result, elapsed = timed(lambda: email.probe(config(**dict(smtp_config(silent_port), SMTP_TIMEOUT=0.3))))
    assert result.status == "degraded"
    assert "timed out" in result.details["error"] and result.details["failed_step"] == "connect"
    assert elapsed < 3


def test_smtp_probe_caps_a_long_transport_timeout(config, silent_port):
    """The transport may wait 20 s a step (SMTP_TIMEOUT); the probe never more than PROBE_TIMEOUT."""
    from app.integrations import email
    from app.integrations.health import PROBE_TIMEOUT

    result, elapsed = timed(lambda: email.probe(config(**dict(smtp_config(silent_port), SMTP_TIMEOUT=60))))
    assert result.status == "degraded" and "timed out" in result.details["error"]
    assert PROBE_TIMEOUT - 0.5 < elapsed < PROBE_TIMEOUT + 5


def test_smtp_probe_without_smtp_host_is_not_configured(config):
    from app.integrations import email

    result = email.probe(config(SMTP_HOST=None))
    assert result.status == "not_configured"
    assert result.details == {"mode": "outbox", "outbox_dir": str(config()["OUTBOX_DIR"])}


# --- Twilio ----------------------------------------------------------------------------------------

def test_twilio_probe_never_passes_on_the_auth_token(config, twilio_account):
    """The account payload carries the auth token: the probe's own answer (before the self-test's
    redaction, which would hide a leak) must not."""
    from app.integrations import sms

    result = sms.probe(config(**twilio_config(twilio_account.base_url)))
    assert result.status == "ok"
    assert TWILIO_TOKEN not in json.dumps(result.details) + result.summary
    assert set(result.details) == {"mode", "account", "from_number", "api", "account_status", "account_type"}


def test_twilio_probe_waits_at_most_the_configured_timeout(config, silent_port):
    from app.integrations import sms

    probe_config = config(**dict(twilio_config(f"http://127.0.0.1:{silent_port}"), TWILIO_TIMEOUT=0.3))
    result, elapsed = timed(lambda: sms.probe(probe_config))
    assert result.status == "degraded" and "cannot be reached" in result.summary
    assert elapsed < 3


def test_twilio_probe_without_any_setting_is_not_configured_and_calls_nobody(config, twilio_account):
    from app.integrations import sms

    result = sms.probe(config(TWILIO_ACCOUNT_SID=None, TWILIO_AUTH_TOKEN=None, TWILIO_PHONE_NUMBER=None,
                              TWILIO_API_BASE_URL=twilio_account.base_url))
    assert result.status == "not_configured" and result.details["mode"] == "outbox"
    assert twilio_account.requests == []


# --- Redis and the workers ------------------------------------------------------------------------

def test_queue_probe_counts_the_named_queues_and_the_workers_serving_them(config, redis_url, queue_name, rq_worker):
    from app.integrations import queue

    rq_worker(queue_name)
    result = queue.probe(config(REDIS_URL=redis_url), [queue_name, f"{queue_name}-idle"])
    assert result.status == "ok", result
    assert result.details["queues"] == {name: {"queued": 0, "started": 0, "failed": 0, "scheduled": 0}
                                        for name in (queue_name, f"{queue_name}-idle")}
    assert result.details["workers"]["serving"] == {queue_name: 1, f"{queue_name}-idle": 0}
    assert result.details["redis_version"] and result.details["ping_ms"] >= 0


def test_queue_probe_shows_the_redis_address_without_its_credentials(config):
    from app.integrations import queue

    result = queue.probe(config(REDIS_URL="redis://atlas:redis-password-c0ffee@127.0.0.1:6379/15"), ["notifications"])
    assert result.status == "degraded"  # this Redis has no such user
    assert result.details["redis"] == "redis://127.0.0.1:6379/15"
    assert "redis-password-c0ffee" not in json.dumps(result.details) + result.summary


def test_queue_probe_without_redis_url_is_not_configured(config):
    from app.integrations import queue

    result = queue.probe(config(REDIS_URL=None), ["notifications"])
    assert result.status == "not_configured" and result.details == {}


# --- Google Calendar --------------------------------------------------------------------------------

def test_google_probe_reads_configuration_only(config, google_standin):
    from app.integrations import google_calendar

    configured = google_calendar.probe(config(**google_config(google_standin.base_url)))
    assert configured.status == "ok" and configured.details == {"api": google_standin.base_url}
    default = google_calendar.probe(config(**dict(google_config(google_standin.base_url), GOOGLE_API_ENDPOINT=None)))
    assert default.status == "ok" and default.details == {"api": "https://www.googleapis.com"}
    assert google_standin.requests == []


@pytest.mark.parametrize("client_id, secret, status, missing", [
    (None, None, "not_configured", None),
    (None, "google-client-secret-for-tests", "degraded", ["GOOGLE_CLIENT_ID"]),
    ("atlas-test.apps.googleusercontent.com", None, "degraded", ["GOOGLE_CLIENT_SECRET"]),
])
def test_google_probe_without_both_credentials_says_what_is_missing(config, client_id, secret, status, missing):
    from app.integrations import google_calendar

    result = google_calendar.probe(config(GOOGLE_CLIENT_ID=client_id, GOOGLE_CLIENT_SECRET=secret))
    assert result.status == status
    assert result.details.get("missing") == missing
