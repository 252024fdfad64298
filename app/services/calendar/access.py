"""Access to Google for a connection: the portal's settings, a client whose refreshed tokens are
stored again (encrypted, services/calendar/vault.py), what a failure does to the connection, and
how long a calendar waits before asking Google again after failures in a row (`backoff`)."""
from __future__ import annotations

import hashlib
import logging
import random
from datetime import datetime, timedelta, timezone

from flask import current_app

from app.integrations import google_calendar as google
from app.models import CalendarConnection
from app.services.calendar import vault as token_vault
from app.services.errors import ServiceError

log = logging.getLogger(__name__)


# The start of what a calendar gone from the account says (freeBusy answering notFound, or the
# calendar list no longer naming it): how one already marked gone is recognised, and cleared when
# it is back.
GONE = "This calendar is no longer in your Google account (or no longer shared with you)"


class GoogleNotConfigured(ServiceError):
    """GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET are not set (a 503 in the JSON API)."""

    code = "google_not_configured"


class CalendarUnavailable(ServiceError):
    """Google could not be reached for something that cannot wait (a 502 in the JSON API)."""

    code = "google_unavailable"


def settings() -> google.GoogleSettings | None:
    """The portal's Google settings, or None when Google Calendar is not configured."""
    return google.GoogleSettings.from_config(current_app.config)


def require_settings() -> google.GoogleSettings:
    found = settings()
    if found is None:
        raise GoogleNotConfigured("Google Calendar is not configured on this portal "
                                  "(set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET).")
    return found


def utcnow(now: datetime | None = None) -> datetime:
    """The injected time when a caller passes one, else now."""
    return now or datetime.now(timezone.utc)


def digest(value: str) -> str:
    """How OAuth states and channel tokens are stored: their SHA-256, never the value."""
    return hashlib.sha256(value.encode()).hexdigest()


def decrypt_quietly(value: bytes | None) -> str | None:
    try:
        return token_vault.decrypt(value)
    except token_vault.VaultError:
        return None


def client_for(connection: CalendarConnection, config: google.GoogleSettings) -> google.CalendarClient:
    """A client for the connection; refreshed tokens are written back (encrypted) as they arrive."""
    try:
        tokens = google.TokenSet(token_vault.decrypt(connection.access_token_encrypted),
                                 token_vault.decrypt(connection.refresh_token_encrypted),
                                 connection.token_expires_at, tuple(connection.scopes or ()))
    except token_vault.VaultError:
        raise google.GoogleAccessRevoked("The stored tokens cannot be decrypted (was the key changed?).") from None

    def store(new: google.TokenSet) -> None:
        connection.access_token_encrypted = token_vault.encrypt(new.access_token)
        if new.refresh_token:
            connection.refresh_token_encrypted = token_vault.encrypt(new.refresh_token)
        connection.token_expires_at = new.expires_at

    return google.CalendarClient(config, tokens, on_tokens=store)


def connection_failed(connection: CalendarConnection, exc: google.GoogleError, now: datetime) -> None:
    """Record what went wrong on the connection; a revoked grant means the person must reconnect."""
    if isinstance(exc, google.GoogleAccessRevoked):
        connection.status = "needs_reconnect"
        connection.last_error = "Google no longer accepts this connection. Please reconnect Google Calendar."
    else:
        connection.last_error = f"{exc}"[:500]
    log.warning("google calendar connection %s: %s", connection.id, exc)


BACKOFF_FIRST = 60  # seconds to wait after a first failure; doubled for each further one
RETRY_AFTER_MAX = 24 * 3600  # a Retry-After longer than a day is taken as a day


def backoff(failures: int, exc: google.GoogleError, now: datetime) -> datetime:
    """When a calendar may ask Google again after `failures` failures in a row: exponential backoff
    with jitter (calendars that failed together do not retry together), capped at GOOGLE_BACKOFF_MAX,
    and never sooner than Google's Retry-After (or, for a spent quota, QUOTA_RETRY_AFTER)."""
    delay = min(current_app.config["GOOGLE_BACKOFF_MAX"], BACKOFF_FIRST * 2 ** min(max(failures, 1) - 1, 30))
    delay *= random.uniform(0.8, 1.0)
    delay = max(delay, min(exc.retry_after or 0, RETRY_AFTER_MAX))
    return now + timedelta(seconds=delay)
