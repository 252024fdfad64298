"""Each component's check on its real counterpart: ok, degraded and not configured.

SMTP against aiosmtpd (plain, STARTTLS + login, a closed port, a refused login); Twilio through the
real client against an account stand-in; Redis database 15 with RQ workers registered; Google
counted from the database with a stand-in that must receive no request; the availability engine
against hand-written answers."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timezone

import pytest
from selftest_helpers import (
    SMTP_PASSWORD,
    SMTP_USER,
    free_port,
    google_config,
    run,
    smtp_config,
    twilio_config,
)


def client_for(make_app, app_config, **overrides):
    return make_app(dict(app_config, **overrides)).test_client()


# --- SMTP ------------------------------------------------------------------------------------------

def test_smtp_ok_with_a_real_server(make_app, app_config, smtp_server):
    server = smtp_server()
    body = run(client_for(make_app, app_config, **smtp_config(server.port)), "notifications")
    smtp = body["components"]["smtp"]
    assert smtp["status"] == "ok", smtp
    assert smtp["details"]["host"] == "127.0.0.1" and smtp["details"]["port"] == server.port
    assert smtp["details"]["security"] == "none" and smtp["details"]["login"] is False
    assert "size" in smtp["details"]["extensions"]
    assert server.handler.messages == []  # a check, not a message


def test_smtp_ok_with_starttls_and_login(make_app, app_config, smtp_server):
    server = smtp_server(starttls=True, login=True)
    config = smtp_config(server.port, starttls=True, user=SMTP_USER, password=SMTP_PASSWORD)
    smtp = run(client_for(make_app, app_config, **config), "notifications")["components"]["smtp"]
    assert smtp["status"] == "ok", smtp
    assert smtp["details"]["security"] == "starttls" and smtp["details"]["login"] is True
    assert "STARTTLS + login" in smtp["summary"]
    assert server.logins == [(SMTP_USER, True)]


def test_smtp_degraded_when_nothing_listens(make_app, app_config):
    port = free_port()
    smtp = run(client_for(make_app, app_config, **smtp_config(port)), "notifications")["components"]["smtp"]
    assert smtp["status"] == "degraded"
    assert smtp["details"]["error"] == "connection refused"
    assert f"127.0.0.1:{port}" in smtp["summary"]


def test_smtp_degraded_when_the_login_is_refused(make_app, app_config, smtp_server):
    server = smtp_server(starttls=True, login=True)
    config = smtp_config(server.port, starttls=True, user=SMTP_USER, password="not-the-password")
    body = run(client_for(make_app, app_config, **config))
    smtp = body["components"]["smtp"]
    assert smtp["status"] == "degraded" and body["status"] == "degraded"
    assert "refused the login" in smtp["summary"] and smtp["details"]["error"].startswith("535")
    assert server.logins and all(login == (SMTP_USER, False) for login in server.logins)


def test_smtp_degraded_when_starttls_is_configured_but_not_offered(make_app, app_config, smtp_server):
    server = smtp_server()
    smtp = run(client_for(make_app, app_config, **smtp_config(server.port, starttls=True)),
               "notifications")["components"]["smtp"]
    assert smtp["status"] == "degraded"
    assert "STARTTLS" in smtp["details"]["error"]


# --- Twilio ----------------------------------------------------------------------------------------

def test_twilio_ok_through_the_real_client_and_the_configured_base_url(make_app, app_config, twilio_account):
    twilio = run(client_for(make_app, app_config, **twilio_config(twilio_account.base_url)),
                 "notifications")["components"]["twilio"]
    assert twilio["status"] == "ok", twilio
    assert twilio["details"]["account_status"] == "active"
    assert twilio["details"]["account"] == "AC…5555"
    assert twilio["details"]["api"] == twilio_account.base_url
    assert twilio_account.requests == [f"GET /2010-04-01/Accounts/AC{'5' * 32}.json"]


def test_twilio_degraded_when_the_credentials_are_refused(make_app, app_config, twilio_account):
    config = twilio_config(twilio_account.base_url, token="wrong-token")
    twilio = run(client_for(make_app, app_config, **config), "notifications")["components"]["twilio"]
    assert twilio["status"] == "degraded"
    assert "refused the credentials" in twilio["summary"] and "HTTP 401" in twilio["details"]["error"]


def test_twilio_degraded_when_the_account_is_suspended(make_app, app_config, twilio_account):
    twilio_account.status = "suspended"
    twilio = run(client_for(make_app, app_config, **twilio_config(twilio_account.base_url)),
                 "notifications")["components"]["twilio"]
    assert twilio["status"] == "degraded" and "suspended" in twilio["summary"]


def test_twilio_degraded_when_unreachable(make_app, app_config):
    config = twilio_config(f"http://127.0.0.1:{free_port()}")
    twilio = run(client_for(make_app, app_config, **config), "notifications")["components"]["twilio"]
    assert twilio["status"] == "degraded" and "cannot be reached" in twilio["summary"]


def test_twilio_half_configured_is_degraded_and_names_what_is_missing(make_app, app_config, twilio_account):
    config = dict(twilio_config(twilio_account.base_url), TWILIO_PHONE_NUMBER=None)
    twilio = run(client_for(make_app, app_config, **config), "notifications")["components"]["twilio"]
    assert twilio["status"] == "degraded"
    assert twilio["details"]["missing"] == ["TWILIO_PHONE_NUMBER"]
    assert twilio_account.requests == []


# --- Redis and the workers ------------------------------------------------------------------------

def test_redis_ok_with_a_worker_on_the_queue_and_queue_sizes(make_app, app_config, redis_url, queue_name, rq_worker):
    from redis import Redis
    from rq import Queue

    worker = rq_worker(queue_name, "default")
    connection = Redis.from_url(redis_url)
    Queue(queue_name, connection=connection).enqueue("builtins.print", "waiting")
    connection.close()
    client = client_for(make_app, app_config, REDIS_URL=redis_url, NOTIFICATIONS_QUEUE=queue_name)
    body = run(client, "notifications")
    redis = body["components"]["redis_and_workers"]
    assert redis["status"] == "ok", redis
    details = redis["details"]
    assert details["dispatcher"] == "rq" and details["redis"] == redis_url
    assert details["queues"] == {queue_name: {"queued": 1, "started": 0, "failed": 0, "scheduled": 0}}
    assert details["workers"]["serving"] == {queue_name: 1}
    listed = [w for w in details["workers"]["list"] if w["name"] == worker.name]
    assert listed and listed[0]["queues"] == [queue_name, "default"] and listed[0]["last_heartbeat"].endswith("Z")


def test_redis_degraded_when_no_worker_listens(make_app, app_config, redis_url, queue_name, rq_worker):
    rq_worker("some-other-queue")
    client = client_for(make_app, app_config, REDIS_URL=redis_url, NOTIFICATIONS_QUEUE=queue_name)
    redis = run(client, "notifications")["components"]["redis_and_workers"]
    assert redis["status"] == "degraded"
    assert redis["details"]["workers"]["serving"] == {queue_name: 0}
    assert f"no RQ worker listens on queue '{queue_name}'" in redis["details"]["problems"][0]
    assert redis["summary"].startswith(f"No RQ worker listens on queue '{queue_name}'")


def test_redis_needs_a_calendar_worker_too_when_google_is_configured(make_app, app_config, redis_url, queue_name,
                                                                    rq_worker, google_standin):
    rq_worker(queue_name)
    config = dict(google_config(google_standin.base_url), CALENDAR_JOBS="auto", CALENDAR_QUEUE=f"{queue_name}-cal")
    client = client_for(make_app, app_config, REDIS_URL=redis_url, NOTIFICATIONS_QUEUE=queue_name, **config)
    redis = run(client, "notifications")["components"]["redis_and_workers"]
    assert redis["status"] == "degraded"
    assert redis["details"]["workers"]["serving"] == {queue_name: 1, f"{queue_name}-cal": 0}
    rq_worker(f"{queue_name}-cal")
    assert run(client, "notifications")["components"]["redis_and_workers"]["status"] == "ok"


def test_redis_degraded_when_unreachable(make_app, app_config):
    client = client_for(make_app, app_config, REDIS_URL=f"redis://127.0.0.1:{free_port()}/15")
    body = run(client)
    redis = body["components"]["redis_and_workers"]
    assert redis["status"] == "degraded" and body["status"] == "degraded"
    assert "cannot be reached" in redis["summary"] and redis["details"]["error"]


def test_embedded_default_reports_the_in_process_dispatcher_mode(make_app, app_config):
    from app.services.ops.checks import check_redis_and_workers

    app = make_app(dict(app_config, NOTIFICATIONS_DISPATCHER="thread"))
    with app.app_context():  # no request: the dispatcher thread is not started by this test
        result = check_redis_and_workers()
    assert result.status == "not_configured"
    assert result.details["dispatcher"] == "thread" and result.details["dispatcher_running"] is False
    assert "in-process dispatcher" in result.summary


# --- Rate limits ------------------------------------------------------------------------------------

def test_rate_limits_in_memory_of_one_process_hold(make_app, app_config):
    limits = run(client_for(make_app, app_config, RATELIMIT_ENABLED=True, WEB_PROCESSES=1),
                 "rate_limits")["components"]["rate_limits"]
    assert limits["status"] == "ok" and limits["details"] == {"enabled": True, "web_processes": 1, "storage": "memory"}


def test_rate_limits_in_memory_of_several_processes_are_degraded(make_app, app_config, caplog):
    """Without Redis each gunicorn worker counts on its own: say so at start-up and in the self-test."""
    with caplog.at_level("WARNING", logger="app"):
        client = client_for(make_app, app_config, RATELIMIT_ENABLED=True, WEB_PROCESSES=2)
    assert "counted in memory by each of the 2 web processes" in caplog.text and "REDIS_URL" in caplog.text
    body = run(client)
    limits = body["components"]["rate_limits"]
    assert limits["status"] == "degraded" and body["status"] == "degraded"
    assert "up to 2 times each limit" in limits["summary"] and "REDIS_URL" in limits["summary"]


def test_rate_limits_shared_through_redis_hold_for_any_number_of_processes(make_app, app_config, redis_url, caplog):
    with caplog.at_level("WARNING", logger="app"):
        client = client_for(make_app, app_config, RATELIMIT_ENABLED=True, WEB_PROCESSES=4, REDIS_URL=redis_url,
                            RATELIMIT_STORAGE_URI=redis_url)
    assert "Rate limits" not in caplog.text
    limits = run(client, "rate_limits")["components"]["rate_limits"]
    assert limits["status"] == "ok" and limits["details"]["storage"] == "redis"


def test_rate_limits_switched_off_are_not_configured(make_app, app_config):
    limits = run(client_for(make_app, app_config, RATELIMIT_ENABLED=False, WEB_PROCESSES=3),
                 "rate_limits")["components"]["rate_limits"]
    assert limits["status"] == "not_configured" and "RATELIMIT_ENABLED" in limits["summary"]


def test_web_processes_come_from_gunicorn(monkeypatch):
    """gunicorn.conf.py tells the workers how many of them there are; WEB_CONCURRENCY otherwise."""
    import runpy
    from types import SimpleNamespace

    from app.config import BASE_DIR, Config

    monkeypatch.setenv("ATLAS_WEB_WORKERS", "")  # restored after the test, whatever the hook sets
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert Config().WEB_PROCESSES == 3
    hooks = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    hooks["on_starting"](SimpleNamespace(cfg=SimpleNamespace(workers=5)))
    assert Config().WEB_PROCESSES == 5


# --- Google Calendar --------------------------------------------------------------------------------

@pytest.fixture
def connect(db, make_user):
    """A stored Google connection (and optionally a calendar) in the given state."""
    from app.models import Calendar, CalendarConnection

    def make(status="active", sync_error=None):
        user = make_user()
        connection = CalendarConnection(organization_id=user.organization_id, user_id=user.id, status=status,
                                        account_email=f"{uuid.uuid4().hex[:6]}@gmail.example")
        db.session.add(connection)
        db.session.flush()
        db.session.add(Calendar(organization_id=user.organization_id, connection_id=connection.id, user_id=user.id,
                                external_id=f"{uuid.uuid4().hex[:6]}@group.calendar.example", name="Work",
                                check_for_conflicts=True, sync_error=sync_error,
                                sync_failed_at=datetime.now(timezone.utc) if sync_error else None))
        db.session.commit()
        return connection

    return make


def test_google_ok_counts_connections_without_calling_google(client, app, connect, google_standin):
    app.config.update(google_config(google_standin.base_url))
    connect()
    connect()
    google = run(client, "calendar")["components"]["google"]
    assert google["status"] == "ok", google
    assert google["details"]["connections"] == {"active": 2, "needs_reconnect": 0, "error": 0, "revoked": 0}
    assert google["details"]["calendars"]["total"] == 2 and google["details"]["calendars"]["with_sync_errors"] == 0
    assert google_standin.requests == []


@pytest.mark.parametrize("status, sync_error, problem", [
    ("needs_reconnect", None, "1 connection(s) need reconnecting"),
    ("error", None, "1 connection(s) in error"),
    ("active", "Busy times could not be read from Google: timed out", "1 calendar(s) failing to sync"),
])
def test_google_degraded_when_a_connection_or_calendar_is_failing(client, app, connect, google_standin, status,
                                                                  sync_error, problem):
    app.config.update(google_config(google_standin.base_url))
    connect()
    connect(status=status, sync_error=sync_error)
    body = run(client)
    google = body["components"]["google"]
    assert google["status"] == "degraded" and body["status"] == "degraded"
    assert google["details"]["problems"] == [problem]
    assert google_standin.requests == []


def test_google_degraded_by_an_upcoming_booking_whose_write_back_failed(client, app, connect, make_booking,
                                                                       google_standin):
    from datetime import timedelta

    app.config.update(google_config(google_standin.base_url))
    connect()
    now = datetime.now(timezone.utc)
    make_booking(start=now - timedelta(days=3), calendar_sync_status="failed")  # over: nothing left to write
    assert run(client, "calendar")["components"]["google"]["status"] == "ok"
    make_booking(start=now + timedelta(days=3), calendar_sync_status="failed")
    google = run(client, "calendar")["components"]["google"]
    assert google["status"] == "degraded"
    assert google["details"]["failed_write_backs"] == 1
    assert google["details"]["problems"] == ["1 upcoming booking(s) not written to Google"]


def test_google_half_configured_is_degraded(client, app):
    app.config["GOOGLE_CLIENT_ID"] = "atlas-test.apps.googleusercontent.com"
    google = run(client, "calendar")["components"]["google"]
    assert google["status"] == "degraded" and google["details"]["missing"] == ["GOOGLE_CLIENT_SECRET"]


# --- the availability engine ------------------------------------------------------------------------

def test_the_engine_check_covers_both_london_dst_days(client):
    engine = run(client, "availability")["components"]["availability_engine"]
    assert engine["status"] == "ok"
    cases = {case["date"]: case for case in engine["details"]["cases"]}
    assert cases["2025-03-30"]["ok"] and cases["2025-10-26"]["ok"]
    assert cases["2025-10-26"]["starts"][0] == "2025-10-25T23:00Z"  # local midnight is still BST
    assert len(cases["2025-03-30"]["starts"]) == 5  # the 01:00 hour does not exist that day


def test_the_engine_check_is_degraded_by_a_wrong_answer_or_an_error(app):
    from app.services.ops.engine_check import (
        ENGINE_CASES,
        EngineCase,
        check_availability_engine,
    )
    from app.services.scheduling.engine import WeeklyRule

    wrong = EngineCase("a wrong expectation", "Europe/London", date(2025, 3, 30),
                       (WeeklyRule(0, time(0), time(6)),), 60, ("2025-03-30T00:00Z",))
    broken = EngineCase("an unknown zone", "Europe/Atlantis", date(2025, 3, 30),
                        (WeeklyRule(0, time(0), time(6)),), 60, ())
    result = check_availability_engine((*ENGINE_CASES, wrong, broken))
    assert result.status == "degraded"
    assert result.details["passed"] == len(ENGINE_CASES) and result.details["failed"] == 2
    wrong_entry, broken_entry = result.details["cases"][-2:]
    assert wrong_entry["expected"] == ["2025-03-30T00:00Z"] and len(wrong_entry["starts"]) == 5
    assert "unknown time zone" in broken_entry["error"]
    assert "a wrong expectation" in result.summary and "an unknown zone" in result.summary
