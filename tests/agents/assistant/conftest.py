"""Fixtures for the booking assistant: a gym with a booking page, and the Messages API stand-in the app
is pointed at (through the real anthropic SDK).

Alex works Monday to Friday 09:00–17:00; time is frozen on the Sunday before (../conftest.py, which
also signs staff in), so Monday 2030-01-07 09:00 is the first free hour.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from anthropic_standin import AnthropicStandin


@pytest.fixture
def standin():
    server = AnthropicStandin().start()
    yield server
    server.stop()
    # The real API would have refused these: the app must never send one.
    assert not server.refused, f"the Messages API stand-in refused requests: {server.refused[0][0]}"


@pytest.fixture
def app_config(app_config, standin, tmp_path):
    return dict(app_config, ANTHROPIC_API_KEY="sk-ant-test-key", ANTHROPIC_BASE_URL=standin.base_url,
                ANTHROPIC_TIMEOUT=5.0, ANTHROPIC_MAX_RETRIES=0, OUTBOX_DIR=str(tmp_path / "outbox"))


@pytest.fixture
def org(make_org):
    return make_org(slug="atlas", name="Atlas Fitness", timezone="Europe/London",
                    contact_email="hello@atlas.example", cancellation_cutoff_minutes=12 * 60)


@pytest.fixture
def alex(make_trainer, org):
    return make_trainer(org=org, name="Alex Morgan")


@pytest.fixture
def pt_type(make_appointment_type, org):
    return make_appointment_type(org=org, name="Personal Training", duration_minutes=60, price_pennies=5000,
                                 booking_window_days=None)


@pytest.fixture
def link(make_link, alex, pt_type, db):
    link = make_link([alex], [pt_type], slug="pt")
    link.name = "Book Personal Training"
    db.session.commit()
    return link


@pytest.fixture
def owner(make_user, org):
    return make_user(org=org, name="Olive Owner", role="owner")


@pytest.fixture
def booked(link):
    """A booking made through the service (as a visitor would); returns (booking, manage token)."""
    from app.services.bookings import Actor, create_booking

    def make(start: datetime = datetime(2030, 1, 8, 10, 0, tzinfo=timezone.utc)):
        result = create_booking(link_slug=link.slug, start_time=start, attendee_name="Jane Smith",
                                attendee_email="jane@example.com", attendee_timezone="Europe/London",
                                actor=Actor(type="attendee"))
        return result.booking, result.manage_token

    return make

