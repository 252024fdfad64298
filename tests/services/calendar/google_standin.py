"""A local, stateful stand-in for Google's OAuth 2.0 endpoints and the Calendar v3 API.

Tests and benchmarks point the real google-auth, google-auth-oauthlib and
google-api-python-client at it (`token_uri`, `client_options={"api_endpoint": api_endpoint}`),
so the code under test is the code that talks to Google. It keeps state the way Google does:
accounts with calendars, events that leave cancelled tombstones, sync tokens, push channels.
A test can also act as the person in Google Calendar's own UI (the `user_*` methods), inject
faults, and count requests. OAuth scopes are enforced per call (403 insufficientPermissions), the
consent grants the union with earlier grants under include_granted_scopes, and a test can untick
scopes on the consent screen (`unticked_scopes`). Response shapes follow the discovery document shipped with
google-api-python-client; tests/calendar/discovery_schema.py checks them.

Not modelled: recurring events (no expansion; `singleEvents` is accepted and ignored),
attendees' copies of events, ACLs beyond "the calendar belongs to the token's account",
quotas, and Google's redelivery of failed push notifications.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from email.utils import format_datetime
from html import escape
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

ACCESS_ROLES = ("freeBusyReader", "reader", "writer", "owner")
EVENT_ID_ALPHABET = frozenset("0123456789abcdefghijklmnopqrstuv")  # base32hex, lower case
MAX_RESULTS_CAP = 2500
MAX_FREEBUSY_RANGE = timedelta(days=90)
MAX_FREEBUSY_CALENDARS = 50
DEFAULT_CHANNEL_TTL = timedelta(days=7)
MAX_CHANNEL_TTL = timedelta(days=30)
AUTH_CODE_LIFETIME = timedelta(minutes=10)
FULL_SYNC_REQUIRED = "Sync token is no longer valid, a full sync is required."
# Which OAuth scopes let a token make each kind of call (Google's per-method scope lists; the broad
# `calendar` scope allows everything).
_SCOPE = "https://www.googleapis.com/auth/"
SCOPES_FOR = {
    "calendarList": {_SCOPE + s for s in ("calendar", "calendar.readonly", "calendar.calendarlist",
                                          "calendar.calendarlist.readonly")},
    "freeBusy": {_SCOPE + s for s in ("calendar", "calendar.readonly", "calendar.freebusy",
                                      "calendar.events.freebusy")},
    "read events": {_SCOPE + s for s in ("calendar", "calendar.readonly", "calendar.events",
                                         "calendar.events.readonly")},
    "write events": {_SCOPE + s for s in ("calendar", "calendar.events")},
}
SCOPES_FOR["channels"] = set().union(*SCOPES_FOR.values())
# Parameters Google refuses to combine with a syncToken.
SYNC_TOKEN_RESTRICTIONS = ("timeMin", "timeMax", "updatedMin", "privateExtendedProperty",
                           "sharedExtendedProperty", "orderBy", "q", "iCalUID")
# Event fields a client may write; Google sets the rest (kind, etag, htmlLink, created, ...).
WRITABLE_EVENT_FIELDS = frozenset({
    "anyoneCanAddSelf", "attachments", "attendees", "birthdayProperties", "colorId",
    "conferenceData", "description", "end", "eventType", "extendedProperties",
    "focusTimeProperties", "gadget", "guestsCanInviteOthers", "guestsCanModify",
    "guestsCanSeeOtherGuests", "location", "originalStartTime", "outOfOfficeProperties",
    "recurrence", "reminders", "sequence", "source", "start", "status", "summary", "transparency",
    "visibility", "workingLocationProperties",
})

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
                 500: "INTERNAL", 503: "UNAVAILABLE"}
_DEFAULT_ERRORS = {  # status -> (reason, message) when a handler or an injected fault names none
    400: ("badRequest", "Bad Request"),
    401: ("authError", "Invalid Credentials"),
    403: ("rateLimitExceeded", "Rate Limit Exceeded"),
    404: ("notFound", "Not Found"),
    409: ("duplicate", "The requested identifier already exists."),
    410: ("deleted", "Resource has been deleted"),
    429: ("rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("backendError", "Backend Error"),
    503: ("backendError", "Backend Error"),
}


class ApiError(Exception):
    """A Calendar API error, answered in Google's JSON error format.

    The `user_*` methods raise it too, for the same mistakes the API would refuse.
    """

    def __init__(self, status: int, reason: str | None = None, message: str | None = None):
        default_reason, default_message = _DEFAULT_ERRORS.get(status, ("unknown", "Error"))
        self.status, self.reason = status, reason or default_reason
        self.message = message or default_message
        super().__init__(f"{status} {self.reason}: {self.message}")

    def response(self) -> Response:
        error = {"code": self.status, "message": self.message,
                 "errors": [{"domain": "global", "reason": self.reason, "message": self.message}]}
        if self.status in _STATUS_NAMES:
            error["status"] = _STATUS_NAMES[self.status]
        response = _json({"error": error}, self.status)
        if self.status == 401:
            response.headers["WWW-Authenticate"] = (
                'Bearer realm="https://accounts.google.com/", error="invalid_token"')
        return response


class OAuthError(Exception):
    """An OAuth endpoint error: `{"error": ..., "error_description": ...}` (RFC 6749 section 5.2)."""

    def __init__(self, status: int, error: str, description: str):
        self.status, self.error, self.description = status, error, description
        super().__init__(f"{status} {error}: {description}")

    def response(self) -> Response:
        return _json({"error": self.error, "error_description": self.description}, self.status)


@dataclass
class RecordedRequest:
    """One request as the stand-in saw it; `status` is filled in just before it is answered."""
    method: str
    path: str
    query: dict  # repeated parameters come as lists
    body: Any  # parsed JSON, a form dict, or None
    headers: dict
    status: int | None = None


@dataclass
class _Calendar:
    id: str
    summary: str
    time_zone: str
    primary: bool
    access_role: str
    owner: str
    updated: datetime
    resource_id: str = field(default_factory=lambda: secrets.token_urlsafe(20))
    events: dict[str, dict] = field(default_factory=dict)  # id -> resource; never shrinks
    positions: dict[str, int] = field(default_factory=dict)  # id -> creation order
    stamps: dict[str, int] = field(default_factory=dict)  # id -> change counter of its last change
    counter: int = 0  # bumped by every change to an event
    generation: int = 0  # bumped by expire_sync_tokens(): older sync tokens then answer 410


@dataclass
class _Grant:
    """What one consent granted: the scopes, a refresh token (offline access) and its revocation."""
    email: str
    scope: str
    refresh_token: str | None
    revoked: bool = False


@dataclass
class _AccessToken:
    grant: _Grant
    expires_at: datetime
    expired: bool = False  # set by expire_access_tokens()


@dataclass
class _AuthCode:
    grant: _Grant
    redirect_uri: str
    challenge: str | None
    challenge_method: str
    issued_at: datetime
    used: bool = False


@dataclass
class _Fault:
    remaining: int
    path_contains: str | None
    value: Any  # the status to answer, or the seconds to wait


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug logs every request to stderr; benchmarks make thousands."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class GoogleStandIn:
    """Google's OAuth endpoints and Calendar v3 API on 127.0.0.1, with the state behind them."""

    def __init__(self, *, client_id: str = "test-client-id",
                 client_secret: str = "test-client-secret", access_token_lifetime: int = 3600):
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_lifetime = access_token_lifetime
        self.consent_email: str | None = None  # the first account added, unless a test says otherwise
        self.deny_consent = False
        # Granular consent: scopes the person leaves unticked on the consent screen.
        self.unticked_scopes: set[str] = set()
        # Scopes each account has already granted this client (include_granted_scopes adds them).
        self._granted: dict[str, set[str]] = {}
        self.requests: list[RecordedRequest] = []
        self.channels: dict[str, dict] = {}
        self.notify: Callable[[str, dict], object] | None = None
        self.pending_notifications: list[tuple[str, dict]] = []
        self.failed_notifications: list[tuple[str, dict, str]] = []  # (address, headers, error)
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._auto_deliver = False
        self._accounts: dict[str, list[str]] = {}  # email -> calendar ids
        self._calendars: dict[str, _Calendar] = {}
        self._codes: dict[str, _AuthCode] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._access_tokens: dict[str, _AccessToken] = {}
        self._message_numbers: dict[str, int] = {}  # channel id -> last X-Goog-Message-Number
        self._failures: list[_Fault] = []
        self._delays: list[_Fault] = []
        self._etags = itertools.count(3_400_000_000_000_000)
        self._server = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> GoogleStandIn:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True,
                                   request_handler=_QuietRequestHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.api_endpoint = f"{self.url}/calendar/v3/"
        self.auth_uri = f"{self.url}/o/oauth2/auth"
        self.token_uri = f"{self.url}/token"
        self.revoke_uri = f"{self.url}/revoke"
        self._threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                             name="google-standin-http", daemon=True),
            threading.Thread(target=self._delivery_loop, name="google-standin-push", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed requests still in flight wake up and answer at once."""
        with self._lock:
            self._stopping.set()
            self._wakeup.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> GoogleStandIn:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- accounts and calendars (the Google side) --------------------------------------------

    def add_account(self, email: str, calendars: list[dict] | None = None) -> None:
        """A Google account and its calendars (default: one primary calendar named after it)."""
        if calendars is None:
            calendars = [{"id": email, "summary": email, "timeZone": "Europe/London", "primary": True}]
        with self._lock:
            if email in self._accounts:
                raise ValueError(f"account {email!r} already exists")
            for spec in calendars:
                if spec["id"] in self._calendars:
                    raise ValueError(f"calendar {spec['id']!r} already exists")
                ZoneInfo(spec.get("timeZone", "Europe/London"))  # fail now, not mid-request
                if spec.get("accessRole", "owner") not in ACCESS_ROLES:
                    raise ValueError(f"unknown accessRole {spec['accessRole']!r}")
            for spec in calendars:
                self._calendars[spec["id"]] = _Calendar(
                    id=spec["id"], summary=spec.get("summary", spec["id"]),
                    time_zone=spec.get("timeZone", "Europe/London"),
                    primary=spec.get("primary", False), access_role=spec.get("accessRole", "owner"),
                    owner=email, updated=_now())
            self._accounts[email] = [spec["id"] for spec in calendars]
            if self.consent_email is None:
                self.consent_email = email

    # -- what the person does in Google Calendar's own UI ------------------------------------

    def user_insert_event(self, calendar_id: str, start: datetime | date, end: datetime | date, *,
                          summary: str = "Busy", transparency: str = "opaque",
                          event_id: str | None = None, **fields) -> dict:
        """An event made in Google Calendar; dates (not datetimes) make an all-day event."""
        with self._lock:
            calendar = self._calendar(calendar_id)
            body = {"summary": summary, "start": _event_time(start, calendar),
                    "end": _event_time(end, calendar), **fields}
            if transparency != "opaque":  # Google leaves the default out of the resource
                body["transparency"] = transparency
            if event_id is not None:
                body["id"] = event_id
            return self._insert_event(calendar, body)

    def user_patch_event(self, calendar_id: str, event_id: str, **changes) -> dict:
        """An edit in Google Calendar: start/end may be datetimes or dates, the rest raw fields."""
        with self._lock:
            calendar = self._calendar(calendar_id)
            for key in ("start", "end"):
                if isinstance(changes.get(key), date):
                    changes[key] = _event_time(changes[key], calendar)
            return self._patch_event(calendar, event_id, changes)

    def user_delete_event(self, calendar_id: str, event_id: str) -> None:
        """A deletion in Google Calendar: the event stays as a cancelled tombstone."""
        with self._lock:
            self._delete_event(self._calendar(calendar_id), event_id)

    def events(self, calendar_id: str, *, include_cancelled: bool = False) -> list[dict]:
        """Copies of the stored events, in creation order."""
        with self._lock:
            return [copy.deepcopy(event) for event in self._calendar(calendar_id).events.values()
                    if include_cancelled or event["status"] != "cancelled"]

    def event(self, calendar_id: str, event_id: str) -> dict | None:
        with self._lock:
            event = self._calendar(calendar_id).events.get(event_id)
            return copy.deepcopy(event)

    # -- faults ------------------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 500, *, path_contains: str | None = None, reason: str | None = None,
                  retry_after: str | None = None) -> None:
        """The next n matching requests (any endpoint) answer `status` with a Google error body:
        `reason` as Google words it (403 rateLimitExceeded, userRateLimitExceeded, quotaExceeded...)
        and a `Retry-After` header (seconds or an HTTP date) when given, as Google sends with 429/503."""
        with self._lock:
            self._failures.append(_Fault(n, path_contains, (status, reason, retry_after)))

    def clear_failures(self) -> None:
        """Google recovers: injected failures still pending are dropped."""
        with self._lock:
            self._failures.clear()

    def delay_next(self, n: int, seconds: float, *, path_contains: str | None = None) -> None:
        """The next n matching requests wait `seconds` before they are answered."""
        with self._lock:
            self._delays.append(_Fault(n, path_contains, seconds))

    def expire_sync_tokens(self, calendar_id: str | None = None) -> None:
        """Every sync token issued so far (for one calendar, or all) now answers 410."""
        with self._lock:
            calendars = [self._calendar(calendar_id)] if calendar_id else self._calendars.values()
            for calendar in calendars:
                calendar.generation += 1

    def expire_access_tokens(self) -> None:
        """Every access token issued so far now answers 401, as if its hour had passed."""
        with self._lock:
            for token in self._access_tokens.values():
                token.expired = True

    def user_remove_calendar(self, email: str, calendar_id: str) -> None:
        """The person removes a calendar from their list (or its owner stops sharing it): from now on
        freeBusy answers notFound for it, and calendarList no longer shows it."""
        with self._lock:
            self._accounts[email].remove(calendar_id)

    def user_add_calendar(self, email: str, spec: dict) -> None:
        """The person creates a calendar, or someone shares one with them (the same `spec` keys as
        add_account's); a calendar removed earlier comes back as it was, events and all."""
        with self._lock:
            if spec["id"] in self._accounts[email]:
                raise ValueError(f"calendar {spec['id']!r} is already on {email!r}'s list")
            if spec["id"] not in self._calendars:
                ZoneInfo(spec.get("timeZone", "Europe/London"))
                if spec.get("accessRole", "owner") not in ACCESS_ROLES:
                    raise ValueError(f"unknown accessRole {spec['accessRole']!r}")
                self._calendars[spec["id"]] = _Calendar(
                    id=spec["id"], summary=spec.get("summary", spec["id"]),
                    time_zone=spec.get("timeZone", "Europe/London"), primary=spec.get("primary", False),
                    access_role=spec.get("accessRole", "owner"), owner=email, updated=_now())
            self._accounts[email].append(spec["id"])

    def user_update_calendar(self, calendar_id: str, *, summary: str | None = None,
                             time_zone: str | None = None) -> None:
        """The person renames a calendar or changes its time zone in Google Calendar's settings."""
        with self._lock:
            calendar = self._calendar(calendar_id)
            if time_zone is not None:
                ZoneInfo(time_zone)
                calendar.time_zone = time_zone
            if summary is not None:
                calendar.summary = summary
            calendar.updated = _now()

    def grant_earlier(self, email: str, scopes: list[str]) -> None:
        """The account granted this client these scopes before (say, an older version of the app)."""
        with self._lock:
            self._granted.setdefault(email, set()).update(scopes)

    def revoke_refresh_tokens(self, email: str) -> None:
        """The person removed the app's access: its tokens for the account stop working."""
        with self._lock:
            for grant in self._refresh_tokens.values():
                if grant.email == email:
                    grant.revoked = True

    # -- observation -------------------------------------------------------------------------

    def count(self, *, path_contains: str | None = None, method: str | None = None) -> int:
        """How many recorded requests (every endpoint, OAuth included) match."""
        with self._lock:
            return sum(1 for request in self.requests
                       if (path_contains is None or path_contains in request.path)
                       and (method is None or request.method == method.upper()))

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- push notifications ------------------------------------------------------------------

    @property
    def auto_deliver(self) -> bool:
        """When true, a background thread delivers notifications as soon as they are queued."""
        return self._auto_deliver

    @auto_deliver.setter
    def auto_deliver(self, value: bool) -> None:
        with self._lock:
            self._auto_deliver = value
            self._wakeup.notify_all()

    def deliver_notifications(self) -> int:
        """Send every pending notification through `notify` (default: an HTTP POST); how many.

        A POST that fails (refused, timed out, not 2xx) is recorded in failed_notifications.
        """
        with self._lock:
            batch = list(self.pending_notifications)
            self.pending_notifications.clear()
        for address, headers in batch:
            self._send_notification(address, headers)
        return len(batch)

    def _send_notification(self, address: str, headers: dict) -> None:
        if self.notify is not None:
            self.notify(address, headers)
            return
        request = urllib.request.Request(address, data=b"", headers=headers, method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=5) as response:
                response.read()
        except urllib.error.HTTPError as error:
            error.close()
            self._record_failed_notification(address, headers, f"HTTP {error.code}")
        except OSError as error:
            self._record_failed_notification(address, headers, repr(error))

    def _record_failed_notification(self, address: str, headers: dict, error: str) -> None:
        with self._lock:
            self.failed_notifications.append((address, headers, error))

    def _delivery_loop(self) -> None:
        while True:
            with self._lock:
                self._wakeup.wait_for(lambda: self._stopping.is_set()
                                      or (self._auto_deliver and self.pending_notifications))
                if self._stopping.is_set():
                    return
            self.deliver_notifications()

    def _queue_notification(self, channel: dict, state: str) -> None:
        """Mirrors a push notification (Google sends it as a POST with an empty body)."""
        number = self._message_numbers[channel["id"]] = self._message_numbers[channel["id"]] + 1
        headers = {
            "X-Goog-Channel-ID": channel["id"],
            "X-Goog-Channel-Expiration": format_datetime(channel["expiration"], usegmt=True),
            "X-Goog-Resource-ID": channel["resource_id"],
            "X-Goog-Resource-URI": self._resource_uri(channel["calendar_id"]),
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(number),
        }
        if channel["token"] is not None:
            headers["X-Goog-Channel-Token"] = channel["token"]
        self.pending_notifications.append((channel["address"], headers))
        self._wakeup.notify_all()

    def _resource_uri(self, calendar_id: str) -> str:
        return f"{self.api_endpoint}calendars/{quote(calendar_id, safe='')}/events?alt=json"

    # -- HTTP --------------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        return self._answer(Request(environ))(environ, start_response)

    def _answer(self, request: Request) -> Response:
        body = _parse_body(request)
        record = RecordedRequest(
            method=request.method, path=request.path,
            query={key: values[0] if len(values) == 1 else values
                   for key, values in request.args.to_dict(flat=False).items()},
            body=body, headers=dict(request.headers))
        with self._lock:
            self.requests.append(record)
            delay = _take_fault(self._delays, request.path)
            failure = _take_fault(self._failures, request.path)
        if delay is not None:
            self._stopping.wait(delay)
        if failure is not None:
            response = _fault_response(request.path, failure)
        else:
            response = self._route(request, body)
        record.status = response.status_code
        return response

    def _route(self, request: Request, body) -> Response:
        # Route on the raw path: a calendar id may contain an escaped "/".
        raw_path = urlsplit(request.environ.get("REQUEST_URI") or request.path).path
        segments = [unquote(segment) for segment in raw_path.split("/")[1:]]
        try:
            match segments:
                case ["o", "oauth2", "auth"]:
                    return self._consent(request)
                case ["token"] if request.method == "POST":
                    return self._token(request)
                case ["revoke"]:
                    return self._revoke(request)
                case ["calendar", "v3", *rest]:
                    return self._calendar_api(request, body, rest)
            raise ApiError(404)
        except (ApiError, OAuthError) as error:
            return error.response()

    # -- OAuth 2.0 ---------------------------------------------------------------------------

    def _consent(self, request: Request) -> Response:
        """Mirrors accounts.google.com/o/oauth2/auth once the person has signed in and chosen."""
        query = request.args
        if query.get("client_id") != self.client_id:
            return _error_page(400, "invalid_client", "The OAuth client was not found.")
        for name in ("redirect_uri", "scope"):
            if not query.get(name):
                return _error_page(400, "invalid_request", f"Missing required parameter: {name}")
        if query.get("response_type") != "code":
            return _error_page(400, "unsupported_response_type",
                               f"Invalid response_type: {query.get('response_type')}")
        challenge = query.get("code_challenge")
        method = query.get("code_challenge_method", "plain")
        if challenge and method not in ("S256", "plain"):
            return _error_page(400, "invalid_request", f"Invalid code_challenge_method: {method}")
        state = {"state": query["state"]} if "state" in query else {}
        if self.deny_consent:
            return _redirect(query["redirect_uri"], {"error": "access_denied", **state})
        with self._lock:
            if self.consent_email not in self._accounts:
                return _error_page(400, "no_account",
                                   f"No account {self.consent_email!r} to sign in with.")
            scopes = set(query["scope"].split()) - self.unticked_scopes
            if query.get("include_granted_scopes") == "true":  # the answer is the union with earlier grants
                scopes |= self._granted.get(self.consent_email, set())
            self._granted[self.consent_email] = set(scopes)
            grant = _Grant(email=self.consent_email, scope=" ".join(sorted(scopes)), refresh_token=(
                secrets.token_urlsafe(32) if query.get("access_type") == "offline" else None))
            code = "4/" + secrets.token_urlsafe(32)
            self._codes[code] = _AuthCode(grant=grant, redirect_uri=query["redirect_uri"],
                                          challenge=challenge, challenge_method=method,
                                          issued_at=_now())
        return _redirect(query["redirect_uri"], {"code": code, "scope": grant.scope, **state})

    def _token(self, request: Request) -> Response:
        """Mirrors oauth2.googleapis.com/token: authorization_code and refresh_token grants."""
        form = request.form
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if request.authorization is not None and request.authorization.type == "basic":
            client_id = request.authorization.username
            client_secret = request.authorization.password
        if client_id != self.client_id:
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        if client_secret != self.client_secret:
            raise OAuthError(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                return _json(self._exchange_code(form))
            if grant_type == "refresh_token":
                return _json(self._refresh(form))
        if not grant_type:
            raise OAuthError(400, "invalid_request", "Missing required parameter: grant_type")
        raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange_code(self, form) -> dict:
        if not form.get("code"):
            raise OAuthError(400, "invalid_request", "Missing required parameter: code")
        auth = self._codes.get(form["code"])
        if auth is None:
            raise OAuthError(400, "invalid_grant", "Malformed auth code.")
        if auth.used or _now() - auth.issued_at > AUTH_CODE_LIFETIME:
            raise OAuthError(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != auth.redirect_uri:
            raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
        if auth.challenge:
            verifier = form.get("code_verifier")
            if not verifier:
                raise OAuthError(400, "invalid_grant", "Missing code verifier.")
            if _code_challenge(verifier, auth.challenge_method) != auth.challenge:
                raise OAuthError(400, "invalid_grant", "Invalid code verifier.")
        auth.used = True
        grant = auth.grant
        if grant.refresh_token is not None:
            self._refresh_tokens[grant.refresh_token] = grant
        answer = self._issue_access_token(grant)
        if grant.refresh_token is not None:
            answer["refresh_token"] = grant.refresh_token
        return answer

    def _refresh(self, form) -> dict:
        if not form.get("refresh_token"):
            raise OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
        grant = self._refresh_tokens.get(form["refresh_token"])
        if grant is None or grant.revoked:
            raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
        return self._issue_access_token(grant)

    def _issue_access_token(self, grant: _Grant) -> dict:
        token = "ya29.standin-" + secrets.token_urlsafe(32)
        self._access_tokens[token] = _AccessToken(
            grant=grant, expires_at=_now() + timedelta(seconds=self.access_token_lifetime))
        return {"access_token": token, "expires_in": self.access_token_lifetime,
                "scope": grant.scope, "token_type": "Bearer"}

    def _revoke(self, request: Request) -> Response:
        """Mirrors oauth2.googleapis.com/revoke: either token ends the whole grant."""
        token = request.values.get("token", "")
        with self._lock:
            access = self._access_tokens.get(token)
            grant = access.grant if access is not None else self._refresh_tokens.get(token)
            if grant is None or grant.revoked:
                raise OAuthError(400, "invalid_token", "Token expired or revoked")
            grant.revoked = True
            self._granted.pop(grant.email, None)
        return _json({})

    # -- Calendar API ------------------------------------------------------------------------

    def _calendar_api(self, request: Request, body, path: list[str]) -> Response:
        """Mirrors www.googleapis.com/calendar/v3/..., the methods the app uses."""
        args = request.args
        with self._lock:
            email = self._authenticate(request)
            self._require_scope(request, path)
            match request.method, path:
                case "GET", ["users", "me", "calendarList"]:
                    return _json(self._calendar_list(email, args))
                case "POST", ["freeBusy"]:
                    return _json(self._free_busy(email, _object(body)))
                case "POST", ["channels", "stop"]:
                    self._stop_channel(_object(body))
                    return Response(status=204)
                case "GET", ["calendars", calendar_id, "events"]:
                    return _json(self._list_events(self._visible(email, calendar_id), args))
                case "POST", ["calendars", calendar_id, "events"]:
                    calendar = self._writable(email, calendar_id)
                    return _json(self._insert_event(calendar, _object(body)))
                case "POST", ["calendars", calendar_id, "events", "watch"]:
                    return _json(self._watch(self._visible(email, calendar_id), _object(body)))
                case "GET", ["calendars", calendar_id, "events", event_id]:
                    return _json(copy.deepcopy(
                        self._existing(self._visible(email, calendar_id), event_id)))
                case "PATCH", ["calendars", calendar_id, "events", event_id]:
                    calendar = self._writable(email, calendar_id)
                    return _json(self._patch_event(calendar, event_id, _object(body)))
                case "PUT", ["calendars", calendar_id, "events", event_id]:
                    calendar = self._writable(email, calendar_id)
                    return _json(self._update_event(calendar, event_id, _object(body)))
                case "DELETE", ["calendars", calendar_id, "events", event_id]:
                    self._delete_event(self._writable(email, calendar_id), event_id)
                    return Response(status=204)
        raise ApiError(404)

    def _authenticate(self, request: Request) -> str:
        """The email of the account whose valid bearer token came with the request."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "required", "Request is missing required authentication "
                           "credential. Expected OAuth 2 access token, login cookie or other "
                           "valid authentication credential.")
        access = self._access_tokens.get(token)
        if access is None or access.expired or access.grant.revoked or access.expires_at <= _now():
            raise ApiError(401, "authError", "Invalid Credentials")
        return access.grant.email

    def _require_scope(self, request: Request, path: list[str]) -> None:
        """403 insufficientPermissions when the token's grant lacks every scope that allows the call."""
        if path[:3] == ["users", "me", "calendarList"]:
            kind = "calendarList"
        elif path[:1] in (["freeBusy"], ["channels"]):
            kind = path[0]
        else:
            kind = "read events" if request.method == "GET" or path[-1:] == ["watch"] else "write events"
        token = request.headers.get("Authorization", "").partition(" ")[2]
        granted = set(self._access_tokens[token].grant.scope.split())
        if not granted & SCOPES_FOR[kind]:
            raise ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")

    def _visible(self, email: str, calendar_id: str) -> _Calendar:
        calendar = self._lookup(email, calendar_id)
        if calendar is None:
            raise ApiError(404)
        return calendar

    def _lookup(self, email: str, calendar_id: str) -> _Calendar | None:
        """The account's calendar by id, or its primary calendar for the alias "primary"."""
        for own_id in self._accounts[email]:
            calendar = self._calendars[own_id]
            if own_id == calendar_id or (calendar_id == "primary" and calendar.primary):
                return calendar
        return None

    def _writable(self, email: str, calendar_id: str) -> _Calendar:
        calendar = self._visible(email, calendar_id)
        if calendar.access_role not in ("writer", "owner"):
            raise ApiError(403, "requiredAccessLevel",
                           "You need to have writer access to this calendar.")
        return calendar

    def _calendar(self, calendar_id: str) -> _Calendar:
        try:
            return self._calendars[calendar_id]
        except KeyError:
            raise KeyError(f"no calendar {calendar_id!r}; add_account() it first") from None

    def _calendar_list(self, email: str, args) -> dict:
        """Mirrors calendarList.list. Calendar lists never change here, so a sync finds nothing."""
        if "syncToken" in args:
            if _decode_token(args["syncToken"]) != {"list": email}:
                raise ApiError(410, "fullSyncRequired", FULL_SYNC_REQUIRED)
            calendars = []
        else:
            min_role = ACCESS_ROLES.index(args.get("minAccessRole", "freeBusyReader"))
            calendars = [self._calendars[calendar_id] for calendar_id in self._accounts[email]
                         if ACCESS_ROLES.index(self._calendars[calendar_id].access_role) >= min_role]
        return {"kind": "calendar#calendarList", "etag": _etag_of(email),
                "nextSyncToken": _encode_token({"list": email}),
                "items": [_calendar_list_entry(calendar) for calendar in calendars]}

    def _free_busy(self, email: str, body: dict) -> dict:
        """Mirrors freebusy.query: merged busy periods of opaque, not cancelled events."""
        time_min = _parse_instant(body.get("timeMin"), "timeMin")
        time_max = _parse_instant(body.get("timeMax"), "timeMax")
        if time_max <= time_min:
            raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        if time_max - time_min > MAX_FREEBUSY_RANGE:
            raise ApiError(400, "timeRangeTooLong", "The requested time range is too long.")
        zone = _zone(body.get("timeZone", "UTC"), "timeZone")
        items = body.get("items") or []
        if len(items) > MAX_FREEBUSY_CALENDARS:
            raise ApiError(400, "tooManyCalendarsRequested", "Too many calendars requested.")
        calendars = {}
        for item in items:
            calendar = self._lookup(email, item.get("id"))
            if calendar is None:
                calendars[item.get("id")] = {"errors": [{"domain": "global", "reason": "notFound"}],
                                             "busy": []}
            else:
                calendars[item["id"]] = {"busy": [
                    {"start": _rfc3339_in(start, zone), "end": _rfc3339_in(end, zone)}
                    for start, end in _busy_periods(calendar, time_min, time_max)]}
        return {"kind": "calendar#freeBusy", "timeMin": _rfc3339(time_min),
                "timeMax": _rfc3339(time_max), "calendars": calendars}

    def _list_events(self, calendar: _Calendar, args) -> dict:
        """Mirrors events.list: full sync, or incremental sync from a syncToken; both paged.

        Pages are cut by a sort key, not an offset, so changes between pages shift nothing.
        The sync token at the end of the last page counts changes from the first page on.
        """
        max_results = min(_int_param(args, "maxResults", 250), MAX_RESULTS_CAP)
        order_by = args.get("orderBy")
        if order_by not in (None, "startTime", "updated"):
            raise ApiError(400, "invalidParameter", f"Invalid value for: orderBy: {order_by}")
        if order_by == "startTime" and args.get("singleEvents") != "true":
            raise ApiError(400, "invalid", "The requested ordering is not available for the "
                           "particular query.")
        if "syncToken" in args:
            combined = [name for name in SYNC_TOKEN_RESTRICTIONS if name in args]
            if combined:
                raise ApiError(400, "invalid", "Sync token cannot be combined with: "
                               + ", ".join(combined))
        if "pageToken" in args:
            page = _decode_token(args["pageToken"])
            if not (isinstance(page, dict) and page.keys() == {"cal", "since", "snap", "gen", "after"}
                    and page["cal"] == calendar.id):
                raise ApiError(400, "invalid", "Invalid Value")
            since, snapshot, after = page["since"], page["snap"], tuple(page["after"])
            if since is not None and page["gen"] != calendar.generation:
                raise ApiError(410, "fullSyncRequired", FULL_SYNC_REQUIRED)
        else:
            since = self._sync_point(calendar, args["syncToken"]) if "syncToken" in args else None
            snapshot, after = calendar.counter, None

        if since is None:
            matches = _full_sync_filter(calendar, args)
            candidates = [event for event in calendar.events.values() if matches(event)]
        else:
            candidates = [event for event in calendar.events.values()
                          if calendar.stamps[event["id"]] > since]

        def sort_key(event):
            position = calendar.positions[event["id"]]
            if order_by == "startTime":
                return (_event_span(calendar, event)[0].timestamp(), position)
            if order_by == "updated":
                return (calendar.stamps[event["id"]], position)
            return (position,)

        ordered = sorted(candidates, key=sort_key)
        if after is not None:
            ordered = [event for event in ordered if sort_key(event) > after]
        page_events = ordered[:max_results]
        answer = {
            "kind": "calendar#events", "etag": f'"p{calendar.counter:016x}"',
            "summary": calendar.summary, "updated": _rfc3339(calendar.updated),
            "timeZone": calendar.time_zone, "accessRole": calendar.access_role,
            "defaultReminders": ([{"method": "popup", "minutes": 10}]
                                 if calendar.access_role in ("writer", "owner") else []),
            "items": [_tombstone(event) if since is not None and event["status"] == "cancelled"
                      else copy.deepcopy(event) for event in page_events],
        }
        if len(ordered) > max_results:
            answer["nextPageToken"] = _encode_token({
                "cal": calendar.id, "since": since, "snap": snapshot, "gen": calendar.generation,
                "after": list(sort_key(page_events[-1]))})
        else:
            answer["nextSyncToken"] = _encode_token(
                {"cal": calendar.id, "n": snapshot, "gen": calendar.generation})
        return answer

    def _sync_point(self, calendar: _Calendar, sync_token: str) -> int:
        """The change counter a sync token was issued at, or 410 if it is no longer valid."""
        data = _decode_token(sync_token)
        if not (isinstance(data, dict) and data.get("cal") == calendar.id
                and data.get("gen") == calendar.generation
                and isinstance(data.get("n"), int) and data["n"] <= calendar.counter):
            raise ApiError(410, "fullSyncRequired", FULL_SYNC_REQUIRED)
        return data["n"]

    def _existing(self, calendar: _Calendar, event_id: str) -> dict:
        event = calendar.events.get(event_id)
        if event is None:
            raise ApiError(404)
        return event

    def _insert_event(self, calendar: _Calendar, body: dict) -> dict:
        """Mirrors events.insert, with an optional client-chosen id."""
        event_id = body.get("id")
        if event_id is None:
            event_id = base64.b32hexencode(secrets.token_bytes(15)).decode().lower()
        elif not (isinstance(event_id, str) and 5 <= len(event_id) <= 1024
                  and set(event_id) <= EVENT_ID_ALPHABET):
            raise ApiError(400, "invalid", "Invalid resource id value.")
        if event_id in calendar.events:  # tombstones included: ids are never reused
            raise ApiError(409, "duplicate", "The requested identifier already exists.")
        now = _now()
        organizer = {"email": calendar.id, "self": True}
        if not calendar.primary:
            organizer["displayName"] = calendar.summary
        eid = base64.urlsafe_b64encode(f"{event_id} {calendar.id}".encode()).decode().rstrip("=")
        event = {
            "kind": "calendar#event", "etag": "", "id": event_id, "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": _rfc3339(now), "updated": _rfc3339(now),
            "creator": {"email": calendar.owner, "self": True}, "organizer": organizer,
            "iCalUID": f"{event_id}@google.com", "sequence": 0,
            "reminders": {"useDefault": True}, "eventType": "default",
        }
        event.update(copy.deepcopy(_writable_fields(body)))
        _check_event(calendar, event)
        calendar.events[event_id] = event
        calendar.positions[event_id] = len(calendar.positions)
        self._changed(calendar, event, now)
        return copy.deepcopy(event)

    def _patch_event(self, calendar: _Calendar, event_id: str, body: dict) -> dict:
        """Mirrors events.patch: top-level fields merged (null clears one), start/end replaced,
        extendedProperties merged key by key; setting status "confirmed" revives a tombstone."""
        event = self._existing(calendar, event_id)
        patched = copy.deepcopy(event)
        for key, value in _writable_fields(body).items():
            if value is None:
                patched.pop(key, None)
            elif key == "extendedProperties":
                if not (isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())):
                    raise ApiError(400, "invalid", "Invalid value for: extendedProperties")
                merged = patched.setdefault("extendedProperties", {})
                for scope, properties in value.items():
                    scoped = merged.setdefault(scope, {})
                    for name, property_value in properties.items():
                        if property_value is None:
                            scoped.pop(name, None)
                        else:
                            scoped[name] = property_value
            else:
                patched[key] = copy.deepcopy(value)
        return self._replace_event(calendar, event, patched, explicit_sequence="sequence" in body)

    def _update_event(self, calendar: _Calendar, event_id: str, body: dict) -> dict:
        """Mirrors events.update: every writable field replaced by the request's."""
        event = self._existing(calendar, event_id)
        updated = {key: value for key, value in copy.deepcopy(event).items()
                   if key not in WRITABLE_EVENT_FIELDS or key in ("sequence", "status")}
        updated.update({"reminders": {"useDefault": True}, "eventType": "default"})
        updated.update(copy.deepcopy(_writable_fields(body)))
        return self._replace_event(calendar, event, updated, explicit_sequence="sequence" in body)

    def _replace_event(self, calendar: _Calendar, old: dict, new: dict, *,
                       explicit_sequence: bool) -> dict:
        _check_event(calendar, new)
        if not explicit_sequence and (new["start"] != old["start"] or new["end"] != old["end"]):
            new["sequence"] = old["sequence"] + 1
        calendar.events[old["id"]] = new
        self._changed(calendar, new, _now())
        return copy.deepcopy(new)

    def _delete_event(self, calendar: _Calendar, event_id: str) -> None:
        """Mirrors events.delete: the event becomes a cancelled tombstone."""
        event = self._existing(calendar, event_id)
        if event["status"] == "cancelled":
            raise ApiError(410, "deleted", "Resource has been deleted")
        event["status"] = "cancelled"
        self._changed(calendar, event, _now())

    def _changed(self, calendar: _Calendar, event: dict, now: datetime) -> None:
        """Stamp a change for sync tokens and tell the calendar's live channels."""
        calendar.counter += 1
        calendar.stamps[event["id"]] = calendar.counter
        calendar.updated = now
        event["updated"] = _rfc3339(now)
        event["etag"] = f'"{next(self._etags)}"'
        for channel in self.channels.values():
            if (channel["calendar_id"] == calendar.id and not channel["stopped"]
                    and channel["expiration"] > now):
                self._queue_notification(channel, "exists")

    def _watch(self, calendar: _Calendar, body: dict) -> dict:
        """Mirrors events.watch: a web_hook channel, announced by a `sync` notification."""
        channel_id, address = body.get("id"), body.get("address")
        if not channel_id:
            raise ApiError(400, "required", "Required: id")
        if body.get("type") not in ("web_hook", "webhook"):
            raise ApiError(400, "invalid", f"Invalid value for: type: {body.get('type')}")
        if not address or urlsplit(address).scheme not in ("http", "https"):
            raise ApiError(400, "invalid", f"Invalid value for: address: {address}")
        if channel_id in self.channels:
            raise ApiError(400, "channelIdNotUnique", f"Channel id {channel_id} not unique")
        now = _now()
        try:
            ttl = timedelta(seconds=int((body.get("params") or {}).get("ttl", 0)))
            requested = int(body.get("expiration", 0))
        except (TypeError, ValueError):
            raise ApiError(400, "invalid", "Invalid value for: params.ttl or expiration") from None
        expiration = now + min(ttl or DEFAULT_CHANNEL_TTL, MAX_CHANNEL_TTL)
        if requested:
            expiration = min(datetime.fromtimestamp(requested / 1000, timezone.utc),
                             now + MAX_CHANNEL_TTL)
        expiration = expiration.replace(microsecond=expiration.microsecond // 1000 * 1000)
        channel = {"id": channel_id, "resource_id": calendar.resource_id,
                   "calendar_id": calendar.id, "address": address, "token": body.get("token"),
                   "expiration": expiration, "stopped": False}
        self.channels[channel_id] = channel
        self._message_numbers[channel_id] = 0
        self._queue_notification(channel, "sync")
        answer = {"kind": "api#channel", "id": channel_id, "resourceId": calendar.resource_id,
                  "resourceUri": self._resource_uri(calendar.id),
                  "expiration": str(int(expiration.timestamp() * 1000))}
        if channel["token"] is not None:
            answer["token"] = channel["token"]
        return answer

    def _stop_channel(self, body: dict) -> None:
        """Mirrors channels.stop: the id and resourceId must name a live channel."""
        channel = self.channels.get(body.get("id"))
        if channel is None or channel["stopped"] or channel["resource_id"] != body.get("resourceId"):
            raise ApiError(404, "notFound", f"Channel '{body.get('id')}' not found")
        channel["stopped"] = True


# -- helpers ---------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(timezone.utc)


def _rfc3339(moment: datetime) -> str:
    """UTC with milliseconds, the way Google writes `updated`: 2024-06-01T09:00:00.000Z."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rfc3339_in(moment: datetime, zone: ZoneInfo) -> str:
    """Seconds precision in the requested zone, "Z" for UTC, as freeBusy answers."""
    text = moment.astimezone(zone).isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _parse_instant(value, name: str) -> datetime:
    """An RFC 3339 timestamp with a mandatory offset, as Google requires for timeMin & co."""
    if not value:
        raise ApiError(400, "required", f"Missing {name} parameter.")
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError(400, "invalid", f"Invalid value for: {name}")
    return moment


def _zone(name: str, parameter: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise ApiError(400, "invalid", f"Invalid value for: {parameter}") from None


def _int_param(args, name: str, default: int) -> int:
    try:
        value = int(args.get(name, default))
    except ValueError:
        value = 0
    if value < 1:
        raise ApiError(400, "invalid", f"Invalid value for: {name}")
    return value


def _event_time(value: datetime | date, calendar: _Calendar) -> dict:
    """A Python date or datetime as an EventDateTime; a naive datetime is in the calendar's zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return {"dateTime": value.isoformat(), "timeZone": calendar.time_zone}
        return {"dateTime": value.isoformat()}
    return {"date": value.isoformat()}


def _instant_of(calendar: _Calendar, when: dict, name: str) -> datetime:
    """An EventDateTime as an aware instant; an all-day date starts at local midnight."""
    try:
        if "date" in when and "dateTime" not in when:
            zone = ZoneInfo(calendar.time_zone)
            return datetime.combine(date.fromisoformat(when["date"]), time(), zone)
        moment = datetime.fromisoformat(when["dateTime"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, "invalid", f"Invalid {name} time.") from None
    if moment.tzinfo is None:
        if not when.get("timeZone"):
            raise ApiError(400, "required", f"Missing time zone definition for {name} time.")
        moment = moment.replace(tzinfo=_zone(when["timeZone"], f"{name}.timeZone"))
    return moment


def _event_span(calendar: _Calendar, event: dict) -> tuple[datetime, datetime]:
    return (_instant_of(calendar, event["start"], "start"),
            _instant_of(calendar, event["end"], "end"))


def _check_event(calendar: _Calendar, event: dict) -> None:
    """What Google checks on every write: times present and ordered, enum fields known."""
    for name in ("start", "end"):
        if not isinstance(event.get(name), dict):
            raise ApiError(400, "required", f"Missing {name} time.")
    if ("date" in event["start"]) != ("date" in event["end"]):
        raise ApiError(400, "invalid", "Start and end times must either both be date or both be "
                       "dateTime.")
    start, end = _event_span(calendar, event)
    if end <= start:
        raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
    if event["status"] not in ("confirmed", "tentative", "cancelled"):
        raise ApiError(400, "invalid", f"Invalid value for: status: {event['status']}")
    if event.get("transparency", "opaque") not in ("opaque", "transparent"):
        raise ApiError(400, "invalid", f"Invalid value for: transparency: {event['transparency']}")


def _writable_fields(body: dict) -> dict:
    """Fields of a request body the client may set; Google ignores the read-only ones."""
    return {key: value for key, value in body.items() if key in WRITABLE_EVENT_FIELDS}


def _full_sync_filter(calendar: _Calendar, args) -> Callable[[dict], bool]:
    """The events.list filters that only a full sync accepts, as one predicate."""
    time_min = _parse_instant(args["timeMin"], "timeMin") if "timeMin" in args else None
    time_max = _parse_instant(args["timeMax"], "timeMax") if "timeMax" in args else None
    if time_min and time_max and time_max <= time_min:
        raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
    updated_min = _parse_instant(args["updatedMin"], "updatedMin") if "updatedMin" in args else None
    # Entries deleted since updatedMin are always included, whatever showDeleted says.
    show_deleted = args.get("showDeleted") == "true" or updated_min is not None
    wanted = {scope: [_property_constraint(item, parameter) for item in args.getlist(parameter)]
              for scope, parameter in (("private", "privateExtendedProperty"),
                                       ("shared", "sharedExtendedProperty"))}
    text = args.get("q", "").casefold()

    def matches(event: dict) -> bool:
        if event["status"] == "cancelled" and not show_deleted:
            return False
        if updated_min and datetime.fromisoformat(event["updated"]) < updated_min:
            return False
        if time_min or time_max:
            start, end = _event_span(calendar, event)
            if (time_min and end <= time_min) or (time_max and start >= time_max):
                return False
        properties = event.get("extendedProperties", {})
        for scope, constraints in wanted.items():
            if any(properties.get(scope, {}).get(key) != value for key, value in constraints):
                return False
        searched = " ".join(event.get(key, "") for key in ("summary", "description", "location"))
        return text in searched.casefold()

    return matches


def _property_constraint(item: str, parameter: str) -> tuple[str, str]:
    key, equals, value = item.partition("=")
    if not equals:
        raise ApiError(400, "invalid", f"Invalid value for: {parameter}: {item}")
    return key, value


def _busy_periods(calendar: _Calendar, time_min: datetime,
                  time_max: datetime) -> list[tuple[datetime, datetime]]:
    """Busy events overlapping the range, clipped to it, overlapping or touching ones merged."""
    spans = []
    for event in calendar.events.values():
        if event["status"] == "cancelled" or event.get("transparency") == "transparent":
            continue
        start, end = _event_span(calendar, event)
        if start < time_max and end > time_min:
            spans.append((max(start, time_min), min(end, time_max)))
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _tombstone(event: dict) -> dict:
    """What an incremental sync says about a cancelled event."""
    return {key: event[key] for key in ("kind", "etag", "id", "status", "updated")}


def _calendar_list_entry(calendar: _Calendar) -> dict:
    entry = {
        "kind": "calendar#calendarListEntry", "etag": _etag_of(calendar.id), "id": calendar.id,
        "summary": calendar.summary, "timeZone": calendar.time_zone, "colorId": "14",
        "backgroundColor": "#9fe1e7", "foregroundColor": "#000000", "selected": True,
        "accessRole": calendar.access_role,
        "defaultReminders": ([{"method": "popup", "minutes": 10}]
                             if calendar.access_role in ("writer", "owner") else []),
    }
    if calendar.primary:
        entry["primary"] = True
    return entry


def _etag_of(text: str) -> str:
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:16] + '"'


def _encode_token(data) -> str:
    """Page and sync tokens are opaque to clients; here they are base64 JSON."""
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _decode_token(token: str):
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:  # also binascii.Error and UnicodeDecodeError
        return None


def _code_challenge(verifier: str, method: str) -> str:
    """PKCE (RFC 7636): S256 is BASE64URL(SHA256(verifier)) without padding."""
    if method == "plain":
        return verifier
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _take_fault(faults: list[_Fault], path: str):
    """The value of the first fault that matches the path and has uses left (using one up)."""
    for fault in faults:
        if fault.remaining > 0 and (fault.path_contains is None or fault.path_contains in path):
            fault.remaining -= 1
            return fault.value
    return None


def _fault_response(path: str, fault: tuple[int, str | None, str | None]) -> Response:
    status, reason, retry_after = fault
    if path.startswith("/calendar/"):
        response = ApiError(status, reason).response()
    else:
        error = "internal_failure" if status >= 500 else "invalid_request"
        response = OAuthError(status, error, f"Injected fault {status}").response()
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


def _parse_body(request: Request):
    if request.mimetype == "application/json":
        try:
            return json.loads(request.get_data(as_text=True))
        except ValueError:
            return None
    if request.mimetype == "application/x-www-form-urlencoded":
        return request.form.to_dict()
    return None


def _object(body) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "parseError", "Parse Error")
    return body


def _json(payload: dict, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _redirect(uri: str, params: dict) -> Response:
    parts = urlsplit(uri)
    query = urlencode(parse_qsl(parts.query) + list(params.items()))
    return Response(status=302, headers={"Location": urlunsplit(parts._replace(query=query))})


def _error_page(status: int, error: str, description: str) -> Response:
    """The page Google shows instead of redirecting when the request itself is bad."""
    html = (f"<!doctype html><title>Error {status}: {escape(error)}</title>"
            f"<h1>Error {status}: {escape(error)}</h1><p>{escape(description)}</p>")
    return Response(html, status=status, mimetype="text/html")
