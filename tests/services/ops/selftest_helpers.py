"""Constants and small helpers of the self-test's tests (conftest.py builds the fixtures)."""
from __future__ import annotations

import socket

ADMIN_KEY = "selftest-admin-key-5b1e"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
PATH = "/api/test/booking-system"
COMPONENTS = {"database", "redis_and_workers", "smtp", "twilio", "google", "availability_engine", "rate_limits"}

SMTP_USER = "atlas-mailer"
SMTP_PASSWORD = "smtp-password-7f3a9c"
TWILIO_SID = "AC" + "5" * 32
TWILIO_TOKEN = "twilio-auth-token-e41d0b"
TWILIO_FROM = "+15005550006"


def free_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(client, test_name: str | None = None, *, expect: int = 200) -> dict:
    """GET the whole self-test, or POST one test; check the status code and the envelope."""
    if test_name is None:
        response = client.get(PATH, headers=AUTH)
    else:
        response = client.post(PATH, headers=AUTH, json={"testName": test_name})
    assert response.status_code == expect, response.get_data(as_text=True)[:2000]
    body = response.get_json()
    assert body["success"] is True
    assert body["checked_at"].endswith("Z")
    assert response.headers["Cache-Control"] == "no-store"
    for name, component in body["components"].items():
        assert component["status"] in ("ok", "degraded", "not_configured"), name
        assert isinstance(component["details"], dict) and component["summary"]
        assert component["duration_ms"] >= 0
    return body


# --- configuration of the real parts (tests pass config, not the environment) ---------------------

def smtp_config(port: int, *, starttls: bool = False, user: str | None = None, password: str | None = None) -> dict:
    """The settings create_app derives from SMTP_* (tests pass config, not the environment)."""
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
            "MAIL_USE_TLS": starttls, "MAIL_USE_SSL": False, "SMTP_USER": user, "SMTP_PASSWORD": password,
            "MAIL_USERNAME": user, "MAIL_PASSWORD": password, "MAIL_SUPPRESS_SEND": False, "SMTP_TIMEOUT": 5}


def twilio_config(base_url: str, token: str = TWILIO_TOKEN) -> dict:
    return {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": token, "TWILIO_PHONE_NUMBER": TWILIO_FROM,
            "TWILIO_API_BASE_URL": base_url, "TWILIO_TIMEOUT": 5}


def google_config(base_url: str, secret: str = "google-client-secret-for-tests") -> dict:
    return {"GOOGLE_CLIENT_ID": "atlas-test.apps.googleusercontent.com", "GOOGLE_CLIENT_SECRET": secret,
            "GOOGLE_API_ENDPOINT": base_url, "GOOGLE_OAUTH_AUTH_URI": f"{base_url}/o/oauth2/auth",
            "GOOGLE_OAUTH_TOKEN_URI": f"{base_url}/token", "GOOGLE_OAUTH_REVOKE_URI": f"{base_url}/revoke",
            "CALENDAR_JOBS": "inline"}
