"""Constants and small helpers shared by the notification tests (conftest.py builds the fixtures)."""
from __future__ import annotations

import socket
import time
from datetime import datetime, timezone

TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-test-auth-token"
TWILIO_FROM = "+15005550006"
ADMIN_KEY = "admin-key-for-tests"
# A Monday: Terry works 09:00-17:00 London time on weekdays.
START = datetime(2031, 1, 6, 10, 0, tzinfo=timezone.utc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def csrf_token(response) -> str:
    import re

    return re.search(r'<meta name="csrf-token" content="([^"]+)"', response.get_data(as_text=True)).group(1)


def sign_in(app, email: str, password: str):
    """A test client signed in through the real sign-in form, and its CSRF token."""
    client = app.test_client()
    token = csrf_token(client.get("/auth/login"))
    response = client.post("/auth/login", data={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client, csrf_token(client.get("/dashboard/"))
