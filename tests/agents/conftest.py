"""Fixtures for every agents test (the AI tools in tools/, the assistant in assistant/): time frozen on
Sunday 2030-01-06 12:00 UTC — Europe/London is UTC+0 then, and the trainers' first free hour is
Monday 09:00 — and members of staff signed in to the dashboard.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import time_machine

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"  # the factories' default


@pytest.fixture(autouse=True)
def frozen_now():
    """The frozen time, for tests that travel from it."""
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _csrf(response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', response.get_data(as_text=True))
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


@pytest.fixture
def signed_in(app):
    """signed_in(user) → (client, csrf token) of a session signed in as that user."""

    def sign_in(user):
        client = app.test_client()
        token = _csrf(client.get("/auth/login"))
        response = client.post("/auth/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD})
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
        return client, _csrf(client.get("/dashboard/"))

    return sign_in
