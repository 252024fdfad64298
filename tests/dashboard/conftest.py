"""Fixtures for the dashboard: two gyms (ours and another), people in every role, signed-in clients.

Time is frozen on Sunday 2030-01-06 12:00 UTC (Europe/London is UTC+0 then). The calendar's week of
the 6th starts on Monday 2029-12-31; the fixtures' bookings are on Monday 2030-01-07.
"""
from __future__ import annotations

import pytest
import time_machine
from dashboard_helpers import NOW, Browser, build_gym


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def app_config(app_config, tmp_path):
    return dict(app_config, OUTBOX_DIR=str(tmp_path / "outbox"))


@pytest.fixture
def gym(make_org, make_user, make_trainer, make_appointment_type, make_link, make_booking, db):
    return build_gym(make_org, make_user, make_trainer, make_appointment_type, make_link, make_booking, db,
                     slug="acme", name="Acme")


@pytest.fixture
def other(make_org, make_user, make_trainer, make_appointment_type, make_link, make_booking, db):
    """Another gym, whose rows nobody at Acme may ever see."""
    return build_gym(make_org, make_user, make_trainer, make_appointment_type, make_link, make_booking, db,
                     slug="rival", name="Rival")


@pytest.fixture
def browser(app):
    """browser(user) → a client signed in as that user (none: signed out)."""
    return lambda user=None: Browser(app, user)


@pytest.fixture
def owner(browser, gym):
    return browser(gym.owner)


@pytest.fixture
def trainer(browser, gym):
    return browser(gym.alex)


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    """The factories hash every password with scrypt (deliberately slow); these tests sign in dozens of
    people, so they store cheap hashes instead. Sign-in still goes through check_password_hash, and
    tests/auth checks that real accounts get scrypt."""
    from werkzeug.security import generate_password_hash

    import app.models.staff as staff

    monkeypatch.setattr(staff, "generate_password_hash",
                        lambda password, method=None: generate_password_hash(password, method="pbkdf2:sha256:1000"))
