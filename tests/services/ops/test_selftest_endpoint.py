"""GET/POST /api/test/booking-system: the admin key, the report's shape on the embedded defaults,
one test by name, bad names, the database being down or behind, and no secret in any answer."""
from __future__ import annotations

import pytest
from selftest_helpers import (
    ADMIN_KEY,
    AUTH,
    COMPONENTS,
    PATH,
    SMTP_PASSWORD,
    SMTP_USER,
    TWILIO_TOKEN,
    free_port,
    google_config,
    run,
    smtp_config,
    twilio_config,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-key"}, {"Authorization": ADMIN_KEY}, {"Authorization": f"Basic {ADMIN_KEY}"},
    {"Authorization": "Bearer "},
])
def test_the_self_test_needs_the_admin_key(client, headers):
    for response in (client.get(PATH, headers=headers),
                     client.post(PATH, headers=headers, json={"testName": "database"})):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_without_a_configured_key_nobody_gets_in(make_app, app_config):
    client = make_app(dict(app_config, ADMIN_API_KEY=None)).test_client()
    assert client.get(PATH, headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get(PATH, headers={"Authorization": "Bearer None"}).status_code == 401


def test_the_notification_endpoints_share_the_same_check(client):
    """The admin-key check moved into one helper; the endpoints that had their own copy still use it."""
    assert client.post("/api/notifications/process", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/notifications/process", headers=AUTH).status_code == 200


def test_embedded_defaults_are_ok_with_the_optional_parts_not_configured(client, backend, app):
    body = run(client)
    components = body["components"]
    assert set(components) == COMPONENTS
    assert body["status"] == "ok"

    database = components["database"]
    assert database["status"] == "ok"
    assert database["details"]["dialect"] == backend
    assert database["details"]["reachable"] is True
    assert database["details"]["revision"] == database["details"]["head"]
    assert database["details"]["server_version"]

    workers = components["redis_and_workers"]
    assert workers["status"] == "not_configured"
    assert workers["details"]["dispatcher"] == "off"  # TESTING: no in-process dispatcher thread
    assert workers["details"]["outbox"] == {"due_now": 0, "oldest_due_seconds": 0, "stuck_sending": 0}

    assert components["smtp"]["status"] == "not_configured"
    assert components["smtp"]["details"] == {"mode": "outbox", "outbox_dir": app.config["OUTBOX_DIR"]}
    assert components["twilio"]["status"] == "not_configured"
    assert components["twilio"]["details"]["mode"] == "outbox"
    assert components["google"]["status"] == "not_configured"
    assert components["availability_engine"]["status"] == "ok"
    assert components["rate_limits"]["status"] == "not_configured"  # the tests switch them off


@pytest.mark.parametrize("test_name, expected", [
    ("availability", {"availability_engine"}),
    ("database", {"database"}),
    ("notifications", {"redis_and_workers", "smtp", "twilio"}),
    ("calendar", {"google"}),
    ("rate_limits", {"rate_limits"}),
])
def test_post_runs_one_test(client, test_name, expected):
    body = run(client, test_name)
    assert body["test"] == test_name
    assert set(body["components"]) == expected
    # Only configured parts can be ok: the notifications and calendar tests see the embedded defaults.
    assert body["status"] == ("ok" if test_name in ("availability", "database") else "not_configured")


@pytest.mark.parametrize("payload", [
    {"json": {"testName": "everything"}}, {"json": {}}, {"json": {"testName": ["database"]}},
    {"json": {"test_name": "database"}}, {"data": "testName=database", "content_type": "text/plain"},
    {"json": ["database"]},
])
def test_an_unknown_or_missing_test_name_is_a_400_naming_the_valid_ones(client, payload):
    response = client.post(PATH, headers=AUTH, **payload)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request"
    assert error["valid_tests"] == ["availability", "database", "notifications", "calendar", "rate_limits"]
    for name in error["valid_tests"]:
        assert name in error["message"]


def test_a_database_that_cannot_be_reached_answers_503_and_still_reports_the_rest(make_app, app_config):
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/atlas"
    client = make_app(dict(app_config, SQLALCHEMY_DATABASE_URI=dead)).test_client()
    body = run(client, expect=503)
    database = body["components"]["database"]
    assert database["status"] == "degraded"
    assert database["details"]["reachable"] is False
    assert "refused" in database["details"]["error"].lower()
    assert body["status"] == "degraded"
    assert body["components"]["availability_engine"]["status"] == "ok"  # needs no database
    assert "error" in body["components"]["redis_and_workers"]["details"]["outbox"]
    # The one-test form says the same.
    assert run(client, "database", expect=503)["status"] == "degraded"
    assert run(client, "availability")["status"] == "ok"


def test_a_database_without_the_schema_is_degraded(make_app, app_config, tmp_path):
    client = make_app(dict(app_config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}")).test_client()
    database = run(client, "database")["components"]["database"]
    assert database["status"] == "degraded"
    assert database["details"]["revision"] is None and database["details"]["head"]
    assert "flask db upgrade" in database["summary"]


def test_a_database_at_a_revision_this_code_does_not_know_is_degraded(make_app, app_config, tmp_path):
    url = f"sqlite:///{tmp_path / 'future.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('9999_from_the_future')"))
    engine.dispose()
    client = make_app(dict(app_config, SQLALCHEMY_DATABASE_URI=url)).test_client()
    database = run(client, "database")["components"]["database"]
    assert database["status"] == "degraded"
    assert database["details"]["revision"] == "9999_from_the_future"
    assert "does not know" in database["summary"]


def test_no_secret_appears_in_any_answer(make_app, app_config, db_url, backend, smtp_server, twilio_account,
                                         google_standin):
    """Every secret configured, each part exercised on its ok and its failing path."""
    from cryptography.fernet import Fernet

    fernet_key = Fernet.generate_key().decode()
    redis_password = "redis-password-c0ffee"
    database_password = "database-password-d4d4"
    config = dict(app_config, SECRET_KEY="flask-secret-key-0a1b2c3d", CALENDAR_TOKEN_KEYS=fernet_key,
                  REDIS_URL=f"redis://:{redis_password}@127.0.0.1:6379/15",
                  **twilio_config(twilio_account.base_url), **google_config(google_standin.base_url))
    secrets = [ADMIN_KEY, SMTP_PASSWORD, TWILIO_TOKEN, "flask-secret-key-0a1b2c3d", fernet_key, redis_password,
               "google-client-secret-for-tests"]
    if backend == "postgresql":  # trust authentication: any password connects, so it can be in the URL
        config["SQLALCHEMY_DATABASE_URI"] = make_url(db_url).set(password=database_password).render_as_string(
            hide_password=False)
        secrets.append(database_password)

    good = smtp_server(login=True)
    answers = []
    for smtp_password in (SMTP_PASSWORD, SMTP_PASSWORD + "-wrong"):
        client = make_app(dict(config, **smtp_config(good.port, user=SMTP_USER, password=smtp_password))).test_client()
        answers.append(run(client))
        answers += [run(client, name) for name in ("notifications", "calendar", "database")]
    twilio_account.echo_token_in_errors = True  # an error text that quotes a secret
    client = make_app(dict(config, **twilio_config(twilio_account.base_url, token=TWILIO_TOKEN + "-wrong"),
                           **smtp_config(good.port, user=SMTP_USER, password=SMTP_PASSWORD))).test_client()
    answers.append(run(client, "notifications"))

    first, failing_login = answers[0]["components"], answers[4]["components"]
    assert first["smtp"]["status"] == "ok" and first["twilio"]["status"] == "ok"
    assert failing_login["smtp"]["status"] == "degraded"
    assert first["redis_and_workers"]["status"] == "degraded"  # the URL's password is refused by this Redis
    assert answers[-1]["components"]["twilio"]["status"] == "degraded"
    assert "[redacted]" in answers[-1]["components"]["twilio"]["details"]["error"]
    # Good, good (GET + notifications), refused (smtplib tries each mechanism the server offers), good.
    assert good.logins[:2] == [(SMTP_USER, True)] * 2 and good.logins[-1] == (SMTP_USER, True)
    assert good.logins[2:-1] and all(not ok for _, ok in good.logins[2:-1])
    import json

    for answer in answers:
        text_ = json.dumps(answer)
        for secret in secrets:
            assert secret not in text_
        assert SMTP_PASSWORD[:10] not in text_ and TWILIO_TOKEN[:12] not in text_
