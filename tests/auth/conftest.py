"""Fixtures for sign-in and password reset: a gym with an owner and a file outbox per test."""
from __future__ import annotations

from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

import pytest
from auth_helpers import PASSWORD


@pytest.fixture
def app_config(app_config, tmp_path):
    return dict(app_config, OUTBOX_DIR=str(tmp_path / "outbox"))


@pytest.fixture
def owner(make_org, make_user):
    org = make_org(slug="acme", name="Acme")
    return make_user(org=org, name="Olivia Owner", role="owner", email="olivia@acme.example", password=PASSWORD)



@pytest.fixture
def outbox(app):
    def read() -> list:
        folder = Path(app.config["OUTBOX_DIR"])
        return [message_from_bytes(p.read_bytes(), policy=email_policy) for p in sorted(folder.glob("*.eml"))]

    return read
