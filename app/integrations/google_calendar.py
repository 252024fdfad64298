"""A thin client of Google's OAuth endpoints and the Calendar v3 API.

Everything goes through the real client libraries (google-auth-oauthlib for the consent and code
exchange, google-api-python-client for the API); the endpoints come from configuration, so the
portal can be pointed at a local stand-in. Failures come back as a handful of exceptions the
calendar service can act on — unreachable (retry later), access revoked (reconnect), sync token
expired (full resync), not found / gone / already exists (idempotent writes) — never as a library
exception leaking into a request.
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import google_auth_httplib2
import httplib2
import requests
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from app.integrations.health import DEGRADED, NOT_CONFIGURED, OK, Probe
from app.timeformat import iso_utc

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/"
# The narrowest scopes that do the job: write bookings' events and read changes to them (and watch
# them), list the calendars, read free/busy. Nothing that reads other calendars' event details.
SCOPES = (SCOPE + "calendar.events", SCOPE + "calendar.calendarlist.readonly", SCOPE + "calendar.freebusy")
# What else grants each of them: a connection made when we asked for the whole `calendar` scope
# (before these narrow ones) keeps working without reconnecting.
SCOPE_ALSO_GRANTED_BY = {
    SCOPE + "calendar.events": {SCOPE + "calendar"},
    SCOPE + "calendar.calendarlist.readonly": {SCOPE + "calendar", SCOPE + "calendar.readonly",
                                               SCOPE + "calendar.calendarlist"},
    SCOPE + "calendar.freebusy": {SCOPE + "calendar", SCOPE + "calendar.readonly"},
}
SCOPE_PURPOSE = {
    SCOPE + "calendar.events": "add bookings to your calendar and see when you move them",
    SCOPE + "calendar.calendarlist.readonly": "list your calendars",
    SCOPE + "calendar.freebusy": "see when you are busy",
}

# Google refuses freeBusy ranges much longer than this; longer ranges are asked for in pieces.
FREEBUSY_MAX_DAYS = 90
FREEBUSY_MAX_CALENDARS = 50  # calendars in one freeBusy request
PAGE_SIZE = 250


class GoogleError(Exception):
    """Google answered with something the caller has to handle; `status` is the HTTP status if any."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after  # seconds Google asked us to wait (Retry-After), if it said


class GoogleUnavailable(GoogleError):
    """Unreachable, timed out, rate limited (429, 403 rateLimitExceeded/userRateLimitExceeded), out of
    quota (403 quotaExceeded/dailyLimitExceeded: not before QUOTA_RETRY_AFTER) or a 5xx: worth trying
    again later."""


RATE_LIMIT_REASONS = ("rateLimitExceeded", "userRateLimitExceeded")
QUOTA_REASONS = ("quotaExceeded", "dailyLimitExceeded")
QUOTA_RETRY_AFTER = 3600  # seconds: a spent quota is not back in a minute


def _retry_after(exc: HttpError) -> float | None:
    """Google's Retry-After header, in seconds (it may be a number or an HTTP date)."""
    value = (exc.resp.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


class GoogleAccessRevoked(GoogleError):
    """The grant is gone (invalid_grant, or still 401 after a refresh): the person must reconnect."""


class SyncTokenExpired(GoogleError):
    """410 on an incremental list: the sync token is no longer valid, a full sync is required."""


class EventNotFound(GoogleError):
    """404: no such event (or calendar)."""


class EventGone(GoogleError):
    """410 on an event: it was already deleted."""


class EventExists(GoogleError):
    """409: an event with this id already exists in the calendar (perhaps as a deleted tombstone)."""


def missing_scopes(granted) -> list[str]:
    """The scopes we need that `granted` (what Google says it granted) does not cover."""
    granted = set(granted)
    return [scope for scope in SCOPES if scope not in granted and not granted & SCOPE_ALSO_GRANTED_BY[scope]]


@dataclass
class FreeBusy:
    """A freeBusy answer: busy intervals of the calendars Google read, the reason for each it could not."""

    busy: dict[str, list[tuple[datetime, datetime]]]
    errors: dict[str, str]


@dataclass(frozen=True)
class GoogleSettings:
    client_id: str
    client_secret: str
    auth_uri: str
    token_uri: str
    revoke_uri: str
    api_endpoint: str | None
    timeout: float

    @classmethod
    def from_config(cls, config) -> GoogleSettings | None:
        """The settings, or None when GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET are not set."""
        if not config["GOOGLE_CLIENT_ID"] or not config["GOOGLE_CLIENT_SECRET"]:
            return None
        return cls(
            client_id=config["GOOGLE_CLIENT_ID"], client_secret=config["GOOGLE_CLIENT_SECRET"],
            auth_uri=config["GOOGLE_OAUTH_AUTH_URI"], token_uri=config["GOOGLE_OAUTH_TOKEN_URI"],
            revoke_uri=config["GOOGLE_OAUTH_REVOKE_URI"], api_endpoint=config["GOOGLE_API_ENDPOINT"],
            timeout=float(config["GOOGLE_HTTP_TIMEOUT"]),
        )


@dataclass(frozen=True)
class TokenSet:
    access_token: str | None
    refresh_token: str | None
    expires_at: datetime | None
    scopes: tuple[str, ...] = ()


# --- OAuth --------------------------------------------------------------------------------------

@contextmanager
def _loopback_http_allowed(settings: GoogleSettings):
    """oauthlib refuses plain-http OAuth endpoints. A stand-in on this machine is the one case where
    that is right to allow (nothing leaves the host), so only then is oauthlib's switch turned on,
    and only for the duration of the call; every other http URI stays refused."""
    loopback = all(uri.startswith("http://") and (urlsplit(uri).hostname or "") in ("127.0.0.1", "localhost", "::1")
                   for uri in (settings.auth_uri, settings.token_uri))
    if not loopback or os.environ.get("OAUTHLIB_INSECURE_TRANSPORT"):
        yield
        return
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        yield
    finally:
        os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)


def _flow(settings: GoogleSettings, redirect_uri: str, *, state: str | None = None,
          code_verifier: str | None = None) -> Flow:
    client_config = {"web": {
        "client_id": settings.client_id, "client_secret": settings.client_secret,
        "auth_uri": settings.auth_uri, "token_uri": settings.token_uri, "redirect_uris": [redirect_uri],
    }}
    return Flow.from_client_config(client_config, scopes=list(SCOPES), redirect_uri=redirect_uri, state=state,
                                   code_verifier=code_verifier, autogenerate_code_verifier=True)


def authorization_url(settings: GoogleSettings, redirect_uri: str, state: str) -> tuple[str, str]:
    """The consent URL (offline access, PKCE S256) and the code verifier to keep server-side."""
    flow = _flow(settings, redirect_uri, state=state)
    with _loopback_http_allowed(settings):
        url, _ = flow.authorization_url(access_type="offline", prompt="consent", include_granted_scopes="true")
    return url, flow.code_verifier


def exchange_code(settings: GoogleSettings, redirect_uri: str, code: str, code_verifier: str) -> TokenSet:
    """Trade the authorization code (and the PKCE verifier) for tokens."""
    flow = _flow(settings, redirect_uri, code_verifier=code_verifier)
    try:
        with _loopback_http_allowed(settings):
            token = flow.fetch_token(code=code, timeout=settings.timeout)
    except Warning as changed:
        # oauthlib refuses an answer whose scopes differ from those asked for ("Scope has changed"),
        # which Google gives whenever it adds earlier grants (include_granted_scopes) or the person
        # unticked one. The tokens are valid; the caller checks the scopes that came back.
        token = getattr(changed, "token", None)
        if token is None:
            raise
    except OAuth2Error as exc:
        raise GoogleAccessRevoked(f"Google refused the authorization code: {exc.error}", reason=exc.error) from None
    except (requests.RequestException, OSError) as exc:
        raise GoogleUnavailable(f"Could not reach Google's token endpoint: {exc.__class__.__name__}") from None
    finally:
        flow.oauth2session.close()
    expires_at = None
    if token.get("expires_at"):
        expires_at = datetime.fromtimestamp(float(token["expires_at"]), timezone.utc)
    scopes = token.get("scope") or list(SCOPES)
    if isinstance(scopes, str):
        scopes = scopes.split()
    return TokenSet(token.get("access_token"), token.get("refresh_token"), expires_at, tuple(scopes))


def revoke(settings: GoogleSettings, token: str) -> bool:
    """Ask Google to revoke a token (refresh or access). True when Google confirmed it."""
    try:
        response = requests.post(settings.revoke_uri, data={"token": token}, timeout=settings.timeout,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    except (requests.RequestException, OSError):
        log.warning("could not reach Google to revoke a token")
        return False
    return response.status_code == 200


# --- Calendar v3 ------------------------------------------------------------------------------------

def _error_reason(exc: HttpError) -> str | None:
    try:
        details = exc.error_details
    except Exception:  # noqa: BLE001 (an unparsable body has no reason)
        return None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        return details[0].get("reason")
    return None


def _naive_utc(value: datetime | None) -> datetime | None:
    """google-auth keeps token expiry as naive UTC."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None)


rfc3339 = iso_utc  # Google's RFC 3339 times: UTC to the second with "Z" (they sort as they compare)


def parse_time(value: dict | str | None, default_tz: str = "UTC") -> datetime | None:
    """An event time ({"dateTime"} or all-day {"date"}) or an RFC 3339 string, as aware UTC."""
    from zoneinfo import ZoneInfo

    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("dateTime"):
            value = value["dateTime"]
        elif value.get("date"):
            day = datetime.fromisoformat(value["date"])
            return day.replace(tzinfo=ZoneInfo(value.get("timeZone") or default_tz)).astimezone(timezone.utc)
        else:
            return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


class CalendarClient:
    """The Calendar v3 calls the portal makes, for one connection's tokens.

    Access tokens are refreshed by google-auth when they expire (or when Google answers 401);
    `on_tokens` is called with the new TokenSet so the caller can store it.
    """

    def __init__(self, settings: GoogleSettings, tokens: TokenSet,
                 on_tokens: Callable[[TokenSet], None] | None = None) -> None:
        self.settings = settings
        self.on_tokens = on_tokens
        self.credentials = Credentials(
            token=tokens.access_token, refresh_token=tokens.refresh_token, token_uri=settings.token_uri,
            client_id=settings.client_id, client_secret=settings.client_secret, scopes=list(tokens.scopes) or None,
            expiry=_naive_utc(tokens.expires_at),
        )
        self._last_token = tokens.access_token
        http = google_auth_httplib2.AuthorizedHttp(self.credentials, http=httplib2.Http(timeout=settings.timeout))
        options = {"api_endpoint": settings.api_endpoint} if settings.api_endpoint else None
        self.service = build("calendar", "v3", http=http, static_discovery=True, cache_discovery=False,
                             client_options=options)

    def close(self) -> None:
        """Close the HTTP connections (keep-alive sockets) this client opened."""
        self.service.close()

    def __enter__(self) -> CalendarClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- plumbing --

    def _execute(self, request, *, on_404=EventNotFound, on_410=EventGone):
        try:
            result = request.execute(num_retries=0)
        except HttpError as exc:
            status = exc.resp.status
            reason = _error_reason(exc)
            message = f"Google answered {status}" + (f" ({reason})" if reason else "")
            if status == 401 and not self.credentials.refresh_token:
                # Nothing to refresh the access token with: only a new consent helps.
                raise GoogleAccessRevoked(message, status=status, reason=reason) from None
            # A 401 with a refresh token is not a revoked grant: the client has already refreshed the
            # token and asked again (a revoked grant fails that refresh with invalid_grant, below). An
            # events.watch answers 401 for an unverified webhook address, for one.
            if status == 404:
                raise on_404(message, status=status, reason=reason) from None
            if status == 409:
                raise EventExists(message, status=status, reason=reason) from None
            if status == 410:
                raise on_410(message, status=status, reason=reason) from None
            wait = _retry_after(exc)
            if reason in QUOTA_REASONS:
                raise GoogleUnavailable(message, status=status, reason=reason,
                                        retry_after=max(wait or 0, QUOTA_RETRY_AFTER)) from None
            if status == 429 or status >= 500 or reason in RATE_LIMIT_REASONS:
                raise GoogleUnavailable(message, status=status, reason=reason, retry_after=wait) from None
            raise GoogleError(message, status=status, reason=reason) from None
        except RefreshError as exc:
            text = str(exc)
            if "invalid_grant" in text or "invalid_client" in text or "unauthorized_client" in text:
                raise GoogleAccessRevoked("Google no longer accepts this connection's refresh token.",
                                          reason="invalid_grant") from None
            raise GoogleUnavailable(f"Could not refresh the access token: {text[:200]}") from None
        except (TransportError, httplib2.HttpLib2Error, socket.timeout, OSError) as exc:
            raise GoogleUnavailable(f"Could not reach Google: {exc.__class__.__name__}") from None
        finally:
            self._report_tokens()
        return result

    def _report_tokens(self) -> None:
        if self.credentials.token != self._last_token and self.on_tokens is not None:
            self._last_token = self.credentials.token
            expiry = self.credentials.expiry
            self.on_tokens(TokenSet(self.credentials.token, self.credentials.refresh_token,
                                    expiry.replace(tzinfo=timezone.utc) if expiry else None,
                                    tuple(self.credentials.scopes or ())))

    # -- calls --

    def list_calendars(self) -> list[dict]:
        """Every calendar on the account's list (all pages)."""
        items, page = [], None
        while True:
            answer = self._execute(self.service.calendarList().list(pageToken=page, maxResults=PAGE_SIZE))
            items.extend(answer.get("items", []))
            page = answer.get("nextPageToken")
            if not page:
                return items

    def free_busy(self, calendar_ids: list[str], start: datetime, end: datetime) -> FreeBusy:
        """Busy intervals per calendar over [start, end), asked in windows of at most 90 days and
        batches of at most 50 calendars (Google's limits).

        Google answers errors per calendar (notFound for one removed or no longer shared,
        internalError): those calendars are in `errors` with the reason and not in `busy`; the
        others' answers are kept. A failure of the whole request raises."""
        result = FreeBusy(busy={cid: [] for cid in calendar_ids}, errors={})
        for first in range(0, len(calendar_ids), FREEBUSY_MAX_CALENDARS):
            batch = calendar_ids[first:first + FREEBUSY_MAX_CALENDARS]
            piece_start = start
            while piece_start < end:
                piece_end = min(end, piece_start + timedelta(days=FREEBUSY_MAX_DAYS))
                body = {"timeMin": rfc3339(piece_start), "timeMax": rfc3339(piece_end), "timeZone": "UTC",
                        "items": [{"id": cid} for cid in batch]}
                answer = self._execute(self.service.freebusy().query(body=body))
                for cid in batch:
                    entry = answer.get("calendars", {}).get(cid)
                    if entry is None or entry.get("errors"):
                        errors = (entry or {}).get("errors") or [{"reason": "missing"}]
                        result.errors.setdefault(cid, errors[0].get("reason", "error"))
                        continue
                    for interval in entry.get("busy", []):
                        result.busy[cid].append((parse_time(interval["start"]), parse_time(interval["end"])))
                piece_start = piece_end
        for cid in result.errors:
            result.busy.pop(cid, None)
        return result

    def insert_event(self, calendar_id: str, body: dict) -> dict:
        return self._execute(self.service.events().insert(calendarId=calendar_id, body=body, sendUpdates="none"))

    def patch_event(self, calendar_id: str, event_id: str, body: dict) -> dict:
        return self._execute(self.service.events().patch(calendarId=calendar_id, eventId=event_id, body=body,
                                                         sendUpdates="none"))

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        self._execute(self.service.events().delete(calendarId=calendar_id, eventId=event_id, sendUpdates="none"))

    def list_changes(self, calendar_id: str, sync_token: str | None) -> Iterator[list[dict]]:
        """Pages of events changed since `sync_token` (every event, deleted ones included, without
        one). The generator's return value (StopIteration.value) is the next sync token."""
        page = None
        while True:
            if sync_token:
                request = self.service.events().list(calendarId=calendar_id, syncToken=sync_token, pageToken=page,
                                                     maxResults=PAGE_SIZE, showDeleted=True)
            else:
                request = self.service.events().list(calendarId=calendar_id, pageToken=page, maxResults=PAGE_SIZE,
                                                     showDeleted=True)
            answer = self._execute(request, on_410=SyncTokenExpired)
            yield answer.get("items", [])
            page = answer.get("nextPageToken")
            if not page:
                return answer.get("nextSyncToken")

    def watch(self, calendar_id: str, *, channel_id: str, token: str, address: str, ttl_seconds: int) -> dict:
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token,
                "params": {"ttl": str(int(ttl_seconds))}}
        return self._execute(self.service.events().watch(calendarId=calendar_id, body=body))

    def stop_channel(self, channel_id: str, resource_id: str) -> None:
        self._execute(self.service.channels().stop(body={"id": channel_id, "resourceId": resource_id}))


# --- health probe (the self-test's Google check) ----------------------------------------------------

GOOGLE_API = "https://www.googleapis.com"  # the client library's endpoint when GOOGLE_API_ENDPOINT is empty


def probe(config) -> Probe:
    """Whether Google Calendar is configured (GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET) and where
    its API is reached. Google is not called: every call needs a connection's tokens (a refresh and
    an API call each), and the calendar service records each connection's state as it syncs."""
    settings = GoogleSettings.from_config(config)
    if settings is None:
        if bool(config["GOOGLE_CLIENT_ID"]) != bool(config["GOOGLE_CLIENT_SECRET"]):
            missing = "GOOGLE_CLIENT_SECRET" if config["GOOGLE_CLIENT_ID"] else "GOOGLE_CLIENT_ID"
            return Probe(DEGRADED, f"Google Calendar is only partly configured (missing {missing}): sync is off.",
                         {"missing": [missing]})
        return Probe(NOT_CONFIGURED, "No GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET: calendar sync is off.", {})
    api = settings.api_endpoint or GOOGLE_API
    return Probe(OK, f"Google Calendar is configured (API at {api}).", {"api": api})
