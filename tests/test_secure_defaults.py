"""Secure by default: a weak SECRET_KEY stops a portal others can reach, secrets in URLs never reach
the logs, database errors never log row values, and the Google link never carries the manage link."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.errors import ScrubSecrets, scrub


@pytest.mark.parametrize("key", ["dev", "test-secret-key", "short", "x" * 31])
def test_a_weak_secret_key_stops_a_public_portal(app_config, key):
    with pytest.raises(RuntimeError, match="SECRET_KEY is too weak"):
        create_app(dict(app_config, SECRET_KEY=key, APP_URL="https://book.example.com"))


@pytest.mark.parametrize("url", ["http://localhost", "http://127.0.0.1:5000", "http://atlas.localhost:8000"])
def test_a_local_portal_keeps_the_key_it_was_given(app_config, url):
    assert create_app(dict(app_config, SECRET_KEY="dev", APP_URL=url)).config["SECRET_KEY"] == "dev"


def test_a_strong_key_starts_a_public_portal(app_config):
    key = "k" * 16 + "Q9vT3xLm2PzR8sWc" + "f" * 8
    assert create_app(dict(app_config, SECRET_KEY=key, APP_URL="https://book.example.com"))


@pytest.mark.parametrize("line,kept", [
    ('"GET /booking/manage/Xy12_ab-CD/reschedule HTTP/1.1" 200', '/booking/manage/…/reschedule'),
    ('"GET /m/Xy12_ab-CD HTTP/1.1" 302', '/m/…'),
    ('"GET /api/booking/manage?token=Xy12_ab-CD HTTP/1.1" 404', '?token=…'),
    ('"GET /auth/reset/eyJ1Ijo.abc.def HTTP/1.1" 200', '/auth/reset/…'),
    ('"GET /api/notifications/unsubscribe/eyJv.xyz HTTP/1.1" 200', '/unsubscribe/…'),
])
def test_request_logs_lose_the_secrets_in_urls(line, kept):
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s", (line,), None)
    ScrubSecrets().filter(record)
    assert kept in record.getMessage()
    assert "Xy12_ab-CD" not in record.getMessage() and "eyJ" not in record.getMessage()


def test_the_server_error_log_names_no_manage_token(app, caplog):
    @app.get("/booking/manage/<token>/explode")
    def explode(token):
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="app.errors"):
        response = app.test_client().get("/booking/manage/secret-token-123/explode")
    assert response.status_code == 500
    assert "secret-token-123" not in caplog.text and scrub("/booking/manage/x") in caplog.text


def test_database_errors_do_not_carry_row_values(db, make_user):
    from app.models import Booking

    staff = make_user()
    start = datetime(2030, 1, 7, 10, tzinfo=timezone.utc)
    db.session.add(Booking(organization_id=staff.organization_id, staff_id=staff.id, start_at=start, end_at=start,
                           attendee_name="Private Person", attendee_email="private.person@example.com"))
    with pytest.raises(IntegrityError) as caught:
        db.session.commit()
    db.session.rollback()
    assert "private.person@example.com" not in str(caught.value)


def test_a_refused_duplicate_does_not_carry_the_key_it_repeats(db, make_user):
    """PostgreSQL names the duplicated value ("Key (email)=(…) already exists"); the message keeps the constraint."""
    from app.models import User

    first = make_user(email="someone.private@example.com")
    db.session.add(User(organization_id=first.organization_id, email="someone.private@example.com", name="Again",
                        role="staff", timezone="UTC", password_hash="x"))
    with pytest.raises(IntegrityError) as caught:
        db.session.commit()
    db.session.rollback()
    assert "someone.private@example.com" not in str(caught.value)
    assert "unique" in str(caught.value).lower()
