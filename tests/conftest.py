"""Test fixtures: the app on a migrated database, on SQLite or PostgreSQL.

Choose the database with `--db sqlite` (default) or `--db postgresql`. PostgreSQL runs create
a throwaway database (TEST_POSTGRES_URL names the server, default 127.0.0.1:5432 as user postgres)
and drop it afterwards. An unreachable PostgreSQL is an error, never a silent skip.
"""
from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pytest_addoption(parser):
    parser.addoption("--db", default=os.environ.get("TEST_DB", "sqlite"), choices=["sqlite", "postgresql"],
                     help="database backend to run the suite on")


def pytest_configure(config):
    # Tests must never pick up a developer's real settings.
    for name in ("DATABASE_URL", "REDIS_URL", "SMTP_HOST", "TWILIO_ACCOUNT_SID", "GOOGLE_CLIENT_ID",
                 "ADMIN_API_KEY", "SECRET_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        os.environ.pop(name, None)


def pytest_collection_modifyitems(config, items):
    if config.getoption("--db") == "postgresql":
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only: runs in the --db postgresql pass")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def backend(pytestconfig) -> str:
    return pytestconfig.getoption("--db")


@pytest.fixture(scope="session")
def db_url(backend, tmp_path_factory):
    """A migrated, empty database for the whole session; dropped afterwards."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "atlas-test.db"
        url = f"sqlite:///{path}"
        _migrate(url)
        yield url
        return

    server = make_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG_SERVER))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"atlas_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable server: fail loudly, never skip
        pytest.exit(f"PostgreSQL at {server.render_as_string(hide_password=True)} is unreachable: {exc}", returncode=3)
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        _migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    from app import create_app

    app = create_app(_test_config(url))
    with app.app_context():
        upgrade()
        from app.extensions import db

        db.engine.dispose()


def _test_config(url: str, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": False,
        "REDIS_URL": None,
        "SERVER_NAME": None,
        "APP_URL": "http://localhost",
    }
    config.update(overrides)
    return config


@pytest.fixture
def app_config(db_url) -> dict:
    """Override to change the app's configuration for one test module."""
    return _test_config(db_url)


@pytest.fixture
def app(app_config):
    from app import create_app
    from app.extensions import db

    app = create_app(app_config)
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)
    with app.app_context():
        yield app
        db.session.rollback()
        db.session.remove()
        _empty_tables(db)
        db.engine.dispose()


def _fresh_g() -> None:
    """Each request starts with an empty `g`, as in production.

    The fixture keeps one app context open for the whole test (so tests can use db.session), and
    Flask reuses an open context for requests: without this, `g` would carry one request's signed-in
    user (flask-login) and CSRF token (Flask-WTF) into the next — even another client's."""
    from flask import g

    for key in list(vars(g)):
        delattr(g, key)


def _empty_tables(db) -> None:
    """Leave the migrated schema in place and empty every table (children first)."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    from app.extensions import db

    return db


# --- factories: callables with sensible defaults (Indico style) -------------------------------

@pytest.fixture
def make_org(db):
    from app.models import Organization

    def make(**overrides):
        values = {"slug": f"gym-{uuid.uuid4().hex[:8]}", "name": "Test Gym", "timezone": "Europe/London"}
        values.update(overrides)
        org = Organization(**values)
        db.session.add(org)
        db.session.commit()
        return org

    return make


@pytest.fixture
def make_user(db, make_org):
    from app.models import User

    def make(org=None, password="correct horse battery", **overrides):
        org = org or make_org()
        values = {"organization_id": org.id, "email": f"user-{uuid.uuid4().hex[:8]}@example.com",
                  "name": "Terry Trainer", "role": "staff", "timezone": org.timezone}
        values.update(overrides)
        user = User(**values)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_appointment_type(db, make_org):
    from app.models import AppointmentType

    def make(org=None, **overrides):
        org = org or make_org()
        values = {"organization_id": org.id, "name": "Session", "duration_minutes": 60, "min_notice_minutes": 0}
        values.update(overrides)
        atype = AppointmentType(**values)
        db.session.add(atype)
        db.session.commit()
        return atype

    return make


@pytest.fixture
def make_booking(db, make_user):
    from datetime import datetime, timedelta, timezone

    from app.models import Booking

    def make(staff=None, start=None, minutes=60, **overrides):
        staff = staff or make_user()
        start = start or datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc)
        values = {"organization_id": staff.organization_id, "staff_id": staff.id, "start_at": start,
                  "end_at": start + timedelta(minutes=minutes), "status": "confirmed",
                  "attendee_name": "Ann Attendee", "attendee_email": "ann@example.com"}
        values.update(overrides)
        booking = Booking(**values)
        db.session.add(booking)
        db.session.commit()
        return booking

    return make


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def make_trainer(db, make_user):
    """A member of staff with weekly hours: days (0 = Sunday) → list of (start, end) "HH:MM" pairs."""
    from datetime import time

    from app.models import AvailabilityRule

    def make(org=None, hours=None, **overrides):
        user = make_user(org=org, **overrides)
        hours = hours if hours is not None else {day: [("09:00", "17:00")] for day in range(1, 6)}
        for day, intervals in hours.items():
            for start, end in intervals:
                db.session.add(AvailabilityRule(organization_id=user.organization_id, user_id=user.id,
                                                day_of_week=day, start_time=time.fromisoformat(start),
                                                end_time=time.fromisoformat(end)))
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_link(db):
    """A booking link over staff and appointment types (public, with branding)."""
    from app.models import BookingLink, LinkBranding

    def make(staff, types, type="individual", slug=None, **overrides):
        org_id = staff[0].organization_id
        values = {"name": "Book us", "user_id": staff[0].id if type == "individual" else None}
        values.update(overrides)
        link = BookingLink(organization_id=org_id, slug=slug or f"link-{uuid.uuid4().hex[:8]}", type=type, **values)
        link.staff = list(staff)
        link.appointment_types = list(types)
        db.session.add(link)
        db.session.flush()
        db.session.add(LinkBranding(organization_id=org_id, booking_link_id=link.id, welcome_text="Welcome!"))
        db.session.commit()
        return link

    return make


@pytest.fixture
def count_queries(db):
    """Context manager counting the SQL statements run inside it."""
    from contextlib import contextmanager

    from sqlalchemy import event

    @contextmanager
    def counting():
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            if statement.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE"):  # SQLite's explicit BEGIN
                statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", before)

    return counting


@pytest.fixture
def live_server(app):
    """The test app served over real HTTP (threaded) on a free local port; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def make_app():
    """Build extra apps with other settings; their connection pools are closed afterwards."""
    from app import create_app
    from app.extensions import db

    made = []

    def make(config: dict):
        made.append(create_app(config))
        return made[-1]

    yield make
    for extra in made:
        with extra.app_context():
            db.engine.dispose()


@pytest.fixture
def make_class_type(db, make_org):
    """A class type (Spin, 45 minutes, 20 places by default)."""
    from app.models import ClassType

    def make(org=None, **overrides):
        org = org or make_org()
        values = {"organization_id": org.id, "name": "Spin", "duration_minutes": 45, "capacity": 20}
        values.update(overrides)
        ctype = ClassType(**values)
        db.session.add(ctype)
        db.session.commit()
        return ctype

    return make


@pytest.fixture
def make_class_session(db, make_class_type, make_user):
    """A one-off class session: `start` (UTC, default 2030-01-07 18:00), `capacity` (default the type's)."""
    from datetime import datetime, timedelta, timezone

    from app.models import ClassSession

    def make(ctype=None, instructor=None, start=None, **overrides):
        from app.models import Organization

        ctype = ctype or make_class_type()
        if instructor is None:
            instructor = make_user(org=db.session.get(Organization, ctype.organization_id), name="Sam Instructor")
        start = start or datetime(2030, 1, 7, 18, 0, tzinfo=timezone.utc)
        values = {"organization_id": ctype.organization_id, "class_type_id": ctype.id, "instructor_id": instructor.id,
                  "start_at": start, "end_at": start + timedelta(minutes=ctype.duration_minutes),
                  "capacity": ctype.capacity, "booked_count": 0, "waitlist_seq": 0, "status": "scheduled",
                  "detached": True, "occurrence_date": start.date()}
        values.update(overrides)
        session = ClassSession(**values)
        db.session.add(session)
        db.session.commit()
        return session

    return make
