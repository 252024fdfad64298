"""Fixtures for the Google Calendar integration: `google` is a started GoogleStandIn."""
from __future__ import annotations

import pytest
from google_standin import GoogleStandIn


@pytest.fixture
def google():
    """A fresh stand-in for Google's OAuth endpoints and Calendar API, stopped afterwards."""
    with GoogleStandIn() as standin:
        yield standin
