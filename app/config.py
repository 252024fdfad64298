"""Configuration read from the environment, with an embedded default that needs nothing installed.

The embedded default is a SQLite file under instance/ and no Redis: someone trying the project
for the first time gets a working portal with no services running. Production sets DATABASE_URL
(PostgreSQL) and REDIS_URL.
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("ATLAS_INSTANCE_PATH", BASE_DIR / "instance"))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _secret_key() -> str:
    """SECRET_KEY from the environment; otherwise one generated once and kept under instance/.

    A key generated per process would sign people out on every restart and break signed links,
    so the embedded default persists it (the file is git-ignored, never committed).
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Settings for a normal run, from environment variables (names as in the spec)."""

    def __init__(self) -> None:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = _secret_key()
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'atlas.db'}"
        )
        # hide_parameters: a database error's message (logged) never carries row values such as emails.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
        self.REDIS_URL = os.environ.get("REDIS_URL") or None

        # Public address of the portal, used in links sent by email/SMS and for OAuth callbacks.
        self.APP_URL = (
            os.environ.get("NEXT_PUBLIC_APP_URL") or os.environ.get("APP_URL") or "http://127.0.0.1:5000"
        ).rstrip("/")

        # Email (spec names). No SMTP_HOST means messages go to the file outbox under instance/.
        self.SMTP_HOST = os.environ.get("SMTP_HOST") or None
        self.SMTP_PORT = _int("SMTP_PORT", 587)
        self.SMTP_USER = os.environ.get("SMTP_USER") or None
        self.SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD") or None
        self.SMTP_FROM = os.environ.get("SMTP_FROM") or "Atlas Booking <noreply@localhost>"
        self.MAIL_SERVER = self.SMTP_HOST or "localhost"
        self.MAIL_PORT = self.SMTP_PORT
        self.MAIL_USERNAME = self.SMTP_USER
        self.MAIL_PASSWORD = self.SMTP_PASSWORD
        self.MAIL_USE_TLS = _bool("SMTP_STARTTLS", self.SMTP_PORT == 587)
        self.MAIL_USE_SSL = _bool("SMTP_SSL", self.SMTP_PORT == 465)
        self.MAIL_DEFAULT_SENDER = self.SMTP_FROM
        self.OUTBOX_DIR = str(INSTANCE_DIR / "outbox")
        # Seconds an SMTP conversation may take (connect, each command) before the try counts as failed.
        self.SMTP_TIMEOUT = _float("SMTP_TIMEOUT", 20.0)

        # SMS (spec names).
        self.TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID") or None
        self.TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN") or None
        self.TWILIO_PHONE_NUMBER = os.environ.get("TWILIO_PHONE_NUMBER") or None
        # Seconds one call to Twilio may take; empty base URL = Twilio's own (set for a stand-in).
        self.TWILIO_TIMEOUT = _float("TWILIO_TIMEOUT", 15.0)
        self.TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL") or None
        # Off (Twilio's default): Twilio itself answers STOP/START/HELP, so the inbound webhook only
        # records them. On: the account turned on Advanced Opt-Out without Twilio replies, and we answer.
        self.TWILIO_ADVANCED_OPT_OUT = _bool("TWILIO_ADVANCED_OPT_OUT", False)

        # The notification outbox (docs/notifications.md): how it is emptied and how it retries.
        self.NOTIFICATIONS_QUEUE = os.environ.get("NOTIFICATIONS_QUEUE") or "notifications"  # RQ queue
        self.NOTIFICATIONS_BATCH_SIZE = _int("NOTIFICATIONS_BATCH_SIZE", 50)  # rows per claim / RQ job
        # A `sending` row older than this is recovered (its sender is presumed gone).
        self.NOTIFICATIONS_LEASE_SECONDS = _int("NOTIFICATIONS_LEASE_SECONDS", 300)
        self.NOTIFICATIONS_DISPATCH_SECONDS = _float("NOTIFICATIONS_DISPATCH_SECONDS", 5.0)  # how often to look
        self.NOTIFICATIONS_BACKOFF_SECONDS = _int("NOTIFICATIONS_BACKOFF_SECONDS", 60)  # first retry; doubles
        self.NOTIFICATIONS_BACKOFF_MAX_SECONDS = _int("NOTIFICATIONS_BACKOFF_MAX_SECONDS", 1800)
        # A message that fails for a while (an SMTP or Twilio outage) is retried for as long as it is
        # useful: a reminder until its booking starts, anything else this many hours (and never
        # after the booking starts); then it shows as failed.
        self.NOTIFICATIONS_RETRY_HOURS = _int("NOTIFICATIONS_RETRY_HOURS", 24)
        # Sends a crashing sender may start before the message is failed (a message that kills its
        # sender cannot loop for ever); temporary provider failures are bounded by the above instead.
        self.NOTIFICATIONS_MAX_ATTEMPTS = _int("NOTIFICATIONS_MAX_ATTEMPTS", 5)
        # Sent, skipped and cancelled messages (and file-outbox files) older than this many days are
        # deleted; failed ones stay. 0 keeps everything.
        self.NOTIFICATIONS_RETENTION_DAYS = _int("NOTIFICATIONS_RETENTION_DAYS", 180)
        # Without Redis: auto (a thread of the web process; off under tests), thread, or off (cron
        # calls POST /api/notifications/process). With REDIS_URL, RQ workers always do it.
        self.NOTIFICATIONS_DISPATCHER = os.environ.get("NOTIFICATIONS_DISPATCHER") or "auto"
        # Bookings whose end has passed are marked completed every this many seconds (0: never), by
        # whoever empties the outbox: worker.py's ticker (an RQ job on BOOKINGS_QUEUE), the web
        # process's dispatcher thread, or — with the dispatcher off — cron (`flask complete-bookings`).
        self.BOOKINGS_COMPLETE_SECONDS = _float("BOOKINGS_COMPLETE_SECONDS", 300.0)
        self.BOOKINGS_QUEUE = os.environ.get("BOOKINGS_QUEUE") or "default"

        # Google Calendar (spec names).
        self.GOOGLE_CLIENT_ID = os.environ.get("GOOGLE_CLIENT_ID") or None
        self.GOOGLE_CLIENT_SECRET = os.environ.get("GOOGLE_CLIENT_SECRET") or None
        # Where Google is reached. Overridable so the portal can be pointed at a stand-in (tests,
        # benchmarks, an on-premises proxy); empty API endpoint = the client library's default.
        self.GOOGLE_API_ENDPOINT = os.environ.get("GOOGLE_API_ENDPOINT") or None
        self.GOOGLE_OAUTH_AUTH_URI = os.environ.get("GOOGLE_OAUTH_AUTH_URI") or "https://accounts.google.com/o/oauth2/auth"
        self.GOOGLE_OAUTH_TOKEN_URI = os.environ.get("GOOGLE_OAUTH_TOKEN_URI") or "https://oauth2.googleapis.com/token"
        self.GOOGLE_OAUTH_REVOKE_URI = os.environ.get("GOOGLE_OAUTH_REVOKE_URI") or "https://oauth2.googleapis.com/revoke"
        # Push notifications are sent here; Google only accepts https addresses. Default: APP_URL's.
        self.GOOGLE_WEBHOOK_URL = os.environ.get("GOOGLE_WEBHOOK_URL") or f"{self.APP_URL}/api/calendar/webhooks/google"
        # Key(s) that encrypt OAuth tokens at rest: Fernet keys, comma-separated, newest first
        # (older ones still decrypt, for rotation). Empty: derived from SECRET_KEY.
        self.CALENDAR_TOKEN_KEYS = os.environ.get("CALENDAR_TOKEN_KEYS") or None
        # Seconds a single call to Google may take before it counts as unreachable.
        self.GOOGLE_HTTP_TIMEOUT = float(os.environ.get("GOOGLE_HTTP_TIMEOUT") or 8)
        # When a calendar's busy times are unknown (Google unreachable, never fetched):
        # "withhold" that trainer's slots in the unknown range (default) or "ignore" the calendar.
        self.GOOGLE_UNREACHABLE_POLICY = (os.environ.get("GOOGLE_UNREACHABLE_POLICY") or "withhold").lower()
        # Busy times are cached this many days ahead (fetched in windows of at most 90 days).
        self.GOOGLE_BUSY_DAYS = _int("GOOGLE_BUSY_DAYS", 90)
        # A busy cache is fresh for this long when push notifications keep it current, and for the
        # shorter time when they cannot (no live channel): then it is polled.
        self.GOOGLE_BUSY_MAX_AGE_PUSHED = _int("GOOGLE_BUSY_MAX_AGE_PUSHED", 6 * 3600)
        self.GOOGLE_BUSY_MAX_AGE = _int("GOOGLE_BUSY_MAX_AGE", 300)
        # After Google fails, requests wait this long before trying it again inline.
        self.GOOGLE_RETRY_AFTER = _int("GOOGLE_RETRY_AFTER", 60)
        # The backstop: every this many seconds, renew channels and run incremental syncs.
        self.GOOGLE_SYNC_INTERVAL = _int("GOOGLE_SYNC_INTERVAL", 600)
        # Each connection's calendar list is read again this often (calendars come and go in Google).
        self.GOOGLE_CALENDAR_LIST_INTERVAL = _int("GOOGLE_CALENDAR_LIST_INTERVAL", 24 * 3600)
        # After failures in a row, a calendar's reads of changes and channel starts back off
        # exponentially (from a minute) up to this many seconds, or longer when Google says so.
        self.GOOGLE_BACKOFF_MAX = _int("GOOGLE_BACKOFF_MAX", 3600)
        # Push channels are asked to live this long and renewed a day before they expire.
        self.GOOGLE_CHANNEL_TTL = _int("GOOGLE_CHANNEL_TTL", 7 * 24 * 3600)
        # Event write-back retries: seconds between attempts; after the last the booking shows "failed"
        # and is still retried, every last-listed delay, until the booking is over.
        self.GOOGLE_WRITE_RETRIES = os.environ.get("GOOGLE_WRITE_RETRIES") or "10,30,120,600,1800"
        # How calendar jobs run: auto (RQ with REDIS_URL, else a thread in the web process), rq,
        # thread, or inline (in the request, after its commit; what the tests use).
        self.CALENDAR_JOBS = os.environ.get("CALENDAR_JOBS") or "auto"
        self.CALENDAR_QUEUE = os.environ.get("CALENDAR_QUEUE") or "calendar"

        # The booking assistant (Claude through the Messages API). No key: no assistant anywhere.
        self.ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY") or None
        # Empty: the SDK's default (https://api.anthropic.com); set for a proxy or a stand-in.
        self.ANTHROPIC_BASE_URL = os.environ.get("ANTHROPIC_BASE_URL") or None
        self.ANTHROPIC_MODEL = os.environ.get("ANTHROPIC_MODEL") or "claude-sonnet-5-5"
        # Seconds one model call may take, and how often the SDK retries a failed one: a person is
        # waiting on the page, so both are far below the SDK's defaults (10 minutes, 2 retries).
        self.ANTHROPIC_TIMEOUT = float(os.environ.get("ANTHROPIC_TIMEOUT") or 30)
        self.ANTHROPIC_MAX_RETRIES = _int("ANTHROPIC_MAX_RETRIES", 1)
        # Most model calls per message the person sends (each tool round trip is one).
        self.ASSISTANT_MAX_TURNS = _int("ASSISTANT_MAX_TURNS", 6)
        # Seconds one message may take in all (model calls, retries and tools): below the web server's
        # request timeout (gunicorn's --timeout, 30 s by default), so the person gets an answer, not a
        # killed worker. A model call is not started with less than 2 s of it left.
        self.ASSISTANT_TIME_BUDGET = float(os.environ.get("ASSISTANT_TIME_BUDGET") or 25)

        # Admin operations (notification processing, self-test).
        self.ADMIN_API_KEY = os.environ.get("ADMIN_API_KEY") or None

        # Public endpoints are rate limited; memory storage unless Redis is configured.
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        # How many web processes serve this portal: gunicorn.conf.py sets ATLAS_WEB_WORKERS from
        # gunicorn's own count; WEB_CONCURRENCY (gunicorn's default) otherwise. Memory limits are per process.
        self.WEB_PROCESSES = max(1, _int("ATLAS_WEB_WORKERS", _int("WEB_CONCURRENCY", 1)))
        self.RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_HEADERS_ENABLED = True
        # Per client address, on the public endpoints.
        self.RATELIMIT_AVAILABILITY = os.environ.get("RATELIMIT_AVAILABILITY", "300/minute")
        self.RATELIMIT_BOOKING_CREATE = os.environ.get("RATELIMIT_BOOKING_CREATE", "30/minute;300/hour")
        self.RATELIMIT_BOOKING_MANAGE = os.environ.get("RATELIMIT_BOOKING_MANAGE", "60/minute")
        self.RATELIMIT_ASSISTANT = os.environ.get("RATELIMIT_ASSISTANT", "20/minute;200/day")
        # POST /api/ai/booking: per API key, and per client address.
        self.RATELIMIT_AI = os.environ.get("RATELIMIT_AI", "120/minute")
        self.RATELIMIT_AI_ADDRESS = os.environ.get("RATELIMIT_AI_ADDRESS", "600/minute")
        self.RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "10/minute;50/hour")
        self.RATELIMIT_PASSWORD_RESET = os.environ.get("RATELIMIT_PASSWORD_RESET", "5/minute;20/hour")
        # Google's push notifications, per client address.
        self.RATELIMIT_WEBHOOK = os.environ.get("RATELIMIT_WEBHOOK", "600/minute")
        # Password-reset and invitation links stop working after this many seconds.
        self.PASSWORD_RESET_MAX_AGE = _int("PASSWORD_RESET_MAX_AGE", 3600)

        # The largest request body read (bytes); a larger one is answered 413 before any view runs.
        self.MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 1024 * 1024)

        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.APP_URL.startswith("https://")
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        # "Remember me" keeps a person signed in this long on that device (Flask-Login's default is a year).
        self.REMEMBER_COOKIE_DURATION = timedelta(days=_int("REMEMBER_COOKIE_DAYS", 14))
        self.PREFERRED_URL_SCHEME = "https" if self.APP_URL.startswith("https://") else "http"
        # How long an availability answer may be served from the in-process cache (0: never).
        # Any schedule change invalidates it at once; see app/services/slot_cache.py.
        self.AVAILABILITY_CACHE_SECONDS = _int("AVAILABILITY_CACHE_SECONDS", 60)
        self.DEMO_ORG_SLUG = os.environ.get("DEMO_ORG_SLUG", "atlas-fitness")

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}


WEAK_SECRET_KEYS = frozenset({"dev", "development", "secret", "secret-key", "changeme", "change-me", "test",
                              "test-secret-key", "atlas", "bench", "please-change-me"})
SECRET_KEY_MIN = 32
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


def rate_limit_problem(config) -> str | None:
    """Why the rate limits do not hold as configured, or None. Without REDIS_URL the counts live in
    each process's memory: with more than one web process, a client gets each limit once per process."""
    if not config["RATELIMIT_ENABLED"] or not str(config["RATELIMIT_STORAGE_URI"]).startswith("memory://"):
        return None
    processes = int(config.get("WEB_PROCESSES") or 1)
    if processes <= 1:
        return None
    return (f"rate limits are counted in memory by each of the {processes} web processes, so a client gets up to "
            f"{processes} times each limit: set REDIS_URL to share them")


def check_secret_key(config) -> None:
    """Refuse to start a portal others can reach with a short or well-known SECRET_KEY (it signs
    sessions, CSRF tokens and links: anyone who guesses it can sign in as anyone). A local address
    (localhost, 127.0.0.1, *.localhost) is a developer's own machine and keeps whatever it was given."""
    from urllib.parse import urlsplit

    host = (urlsplit(config["APP_URL"]).hostname or "").lower()
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return
    key = config["SECRET_KEY"] or ""
    if len(key) < SECRET_KEY_MIN or key.lower() in WEAK_SECRET_KEYS:
        raise RuntimeError(
            f"SECRET_KEY is too weak for a portal at {config['APP_URL']}: set it to a random value of at "
            f"least {SECRET_KEY_MIN} characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
