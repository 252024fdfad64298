"""Fixtures shared by the JSON API tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def world(make_org, make_trainer, make_appointment_type, make_link):
    """A London gym with one trainer, a 60-minute PT session and its booking page `pt` (modules that
    need another shape define their own `world`)."""
    org = make_org(slug="gym", timezone="Europe/London")
    alex = make_trainer(org=org, name="Alex")
    pt = make_appointment_type(org=org, name="PT", duration_minutes=60, booking_window_days=None)
    make_link([alex], [pt], slug="pt")
    return org, alex, pt
