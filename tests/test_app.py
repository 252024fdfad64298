"""The application shell: configuration, health check, error pages."""
from __future__ import annotations

import pytest

from app.config import Config, normalise_database_url


def test_embedded_default_is_sqlite_under_instance_and_no_redis(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = Config()
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.SQLALCHEMY_DATABASE_URI.endswith("instance/atlas.db")
    assert config.REDIS_URL is None
    assert config.RATELIMIT_STORAGE_URI == "memory://"


def test_environment_configures_services(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal:5432/atlas")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/2")
    monkeypatch.setenv("NEXT_PUBLIC_APP_URL", "https://book.example.com/")
    config = Config()
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u:p@db.internal:5432/atlas"
    assert config.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/2"
    assert config.APP_URL == "https://book.example.com"
    assert config.SESSION_COOKIE_SECURE is True


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://h/db", "postgresql+psycopg://h/db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_normalisation(given, expected):
    assert normalise_database_url(given) == expected


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_unreachable_database(make_app, app_config, tmp_path):
    broken = dict(app_config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing-dir/nope.db")
    app = make_app(broken)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["code"] == "not_found"


def test_unknown_page_is_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert b"Not Found" in response.data


def test_unexpected_error_shows_no_stack_trace(make_app, app_config):
    app = make_app(app_config)

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("secret internals")

    @app.get("/boom")
    def boom_page():
        raise RuntimeError("secret internals")

    client = app.test_client()
    api = client.get("/api/boom")
    assert api.status_code == 500
    assert api.get_json()["error"]["code"] == "internal_error"
    assert b"secret internals" not in api.data and b"Traceback" not in api.data
    page = client.get("/boom")
    assert page.status_code == 500
    assert page.mimetype == "text/html"
    assert b"secret internals" not in page.data and b"Traceback" not in page.data


def test_front_page_lists_public_links(client, db):
    from app.services.demo import seed_demo

    seed_demo()
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Atlas Fitness" in html
    assert "Gym Consultation" in html and "Book Personal Training" in html
    assert "£50.00" in html
