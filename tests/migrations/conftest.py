"""Migration tests: each runs Alembic on an empty database of its own (a SQLite file, or a throwaway
PostgreSQL database), up to the revision before the one under test, writes the rows that revision must
carry across, and migrates on."""
from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture
def fresh_url(backend, tmp_path):
    """An empty database of this test's own (SQLite file, or a throwaway PostgreSQL database)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    server = make_url(os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"atlas_migrate_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def migrate():
    """migrate(url, revision, down=False): flask db upgrade (or downgrade) to `revision` on `url`."""

    def run(url: str, revision: str, *, down: bool = False) -> None:
        from flask_migrate import downgrade, upgrade

        from app import create_app
        from app.extensions import db

        app = create_app({"TESTING": True, "SECRET_KEY": "k", "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
        with app.app_context():
            (downgrade if down else upgrade)(revision=revision)
            db.engine.dispose()

    return run
