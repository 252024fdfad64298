"""Fixtures for the AI booking tools: a gym with two trainers and their booking pages, API keys, and a
client calling POST /api/ai/booking with a key.

The trainers work Monday to Friday 09:00–17:00; time is frozen on the Sunday before (../conftest.py),
so Monday 2030-01-07 is the first day with free times.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from ai_helpers import ALL_SCOPES


@dataclass
class Gym:
    org: object
    owner: object
    alex: object
    sam: object
    pt: object            # Personal Training, 60 minutes: Alex's own page and the team page
    consult: object       # Consultation, 30 minutes: Alex's own page only
    alex_page: object     # individual page of Alex
    team_page: object     # round robin: Alex and Sam


@pytest.fixture
def gym(make_org, make_user, make_trainer, make_appointment_type, make_link):
    org = make_org(slug="atlas-fitness", name="Atlas Fitness", timezone="Europe/London")
    owner = make_user(org=org, name="Olive Owner", role="owner", email="owner@atlas.example")
    alex = make_trainer(org=org, name="Alex Trainer", email="alex@atlas.example")
    sam = make_trainer(org=org, name="Sam Trainer", email="sam@atlas.example")
    pt = make_appointment_type(org=org, name="Personal Training", duration_minutes=60, booking_window_days=None)
    consult = make_appointment_type(org=org, name="Consultation", duration_minutes=30, booking_window_days=None)
    alex_page = make_link([alex], [pt, consult], type="individual", slug="alex", name="Train with Alex")
    team_page = make_link([alex, sam], [pt], type="round_robin", slug="team-pt", name="Personal Training")
    return Gym(org, owner, alex, sam, pt, consult, alex_page, team_page)


@pytest.fixture
def rival(make_org, make_trainer, make_appointment_type, make_link):
    """Another gym, with its own trainer, page and key."""
    org = make_org(slug="rival-gym", name="Rival Gym")
    trainer = make_trainer(org=org, name="Rita Rival", email="rita@rival.example")
    pt = make_appointment_type(org=org, name="Rival PT", duration_minutes=60, booking_window_days=None)
    make_link([trainer], [pt], slug="rival-pt")
    return org


@pytest.fixture
def make_key(db):
    """make_key(org, scopes=ALL_SCOPES) → (ApiKey row, the key itself)."""
    from app.services import api_keys

    def make(org, scopes=ALL_SCOPES, name="Claude"):
        created = api_keys.create_api_key(org.id, name=name, scopes=list(scopes))
        return created.key, created.token

    return make


@pytest.fixture
def key(gym, make_key):
    return make_key(gym.org)


@pytest.fixture
def ai(client, key):
    """ai(action, token=<the gym's full key>, **fields) → the response of POST /api/ai/booking."""
    def call(action, *, token=None, **fields):
        headers = {"Authorization": f"Bearer {token or key[1]}"}
        return client.post("/api/ai/booking", json={"action": action, **fields}, headers=headers)

    return call

