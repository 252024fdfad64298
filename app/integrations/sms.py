"""Sending SMS through Twilio (the official client), or into the file outbox when Twilio is not set up.

Like the email transport, `send()` calls the caller's `on_handoff()` at the last moment at which
the message has certainly not reached anyone (just before the POST), and failures come back as
`SmsDeliveryError` with `kind` permanent / temporary / unknown. Unlike SMTP, Twilio can be asked
afterwards whether a message exists (`find_sent`), which is how a send interrupted by a crash is
settled without sending twice.

TWILIO_API_BASE_URL (not a spec variable; unset in production) points the client at another host
that speaks the Messages API — the tests' local stand-in.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import requests
from flask import current_app
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
DEFAULT_TIMEOUT = 15  # seconds per socket operation; well below the outbox lease
# https://www.twilio.com/docs/api/errors
OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient"
PERMANENT_CODES = {
    21211: "the number is not a valid phone number",
    21214: "the number cannot be reached",
    21408: "SMS to this region is not enabled on the account",
    21612: "Twilio cannot route to this number",
    21614: "the number is not a mobile number",
    OPTED_OUT: "the number has opted out (replied STOP)",
}


class SmsDeliveryError(Exception):
    """An SMS that was not (or maybe not) accepted. `kind`: permanent, temporary or unknown."""

    def __init__(self, kind: str, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.code = code


class _RebasedHttpClient(TwilioHttpClient):
    """The client's own HTTP layer, with https://api.twilio.com swapped for another base URL."""

    def __init__(self, base_url: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


class TwilioTransport:
    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *, status_callback: str | None = None,
                 base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        http = _RebasedHttpClient(base_url, timeout=timeout) if base_url else TwilioHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=http)
        self.from_number = from_number
        self.status_callback = status_callback

    def send(self, *, to: str, body: str, on_handoff: Callable[[], bool], key: str) -> tuple[str, str] | None:
        """(message sid, Twilio status), or None when `on_handoff()` said no and nothing was sent."""
        if not on_handoff():
            return None
        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=body,
                                                  status_callback=self.status_callback)
        except TwilioRestException as exc:
            raise _classify(exc) from None
        except requests.exceptions.ConnectionError as exc:
            if isinstance(exc, requests.exceptions.ConnectTimeout) or _refused(exc):
                raise SmsDeliveryError("temporary", f"cannot reach Twilio: {exc.__class__.__name__}") from None
            raise SmsDeliveryError("unknown", f"the connection to Twilio broke during the request: {exc}") from None
        except requests.exceptions.Timeout:
            raise SmsDeliveryError("unknown", "Twilio did not answer in time; the message may have been accepted") \
                from None
        except (TwilioException, requests.exceptions.RequestException) as exc:
            raise SmsDeliveryError("temporary", f"Twilio request failed: {exc}") from None
        return message.sid, message.status or "queued"

    def find_sent(self, *, to: str, body: str, since: datetime) -> str | None:
        """The sid of a message to `to` with exactly `body` created since `since`, if Twilio has one.

        Raises SmsDeliveryError("temporary") when Twilio cannot be asked; the caller then asks again
        later rather than guessing."""
        try:
            recent = self.client.messages.list(to=to, from_=self.from_number, limit=50)
        except (TwilioException, requests.exceptions.RequestException) as exc:
            raise SmsDeliveryError("temporary", f"cannot ask Twilio about earlier messages: {exc}") from None
        horizon = since - timedelta(minutes=2)  # clock skew between us and Twilio
        for message in recent:
            created = message.date_created
            if message.body == body and (created is None or created >= horizon):
                return message.sid
        return None

    def close(self) -> None:
        pass


class OutboxSmsTransport:
    """No Twilio configured: each SMS is written to OUTBOX_DIR as <key>.sms.txt, for the demo."""

    name = "outbox"

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def path_for(self, key: str) -> Path:
        return self.folder / f"{key}.sms.txt"

    def send(self, *, to: str, body: str, on_handoff: Callable[[], bool], key: str) -> tuple[str, str] | None:
        if not on_handoff():
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.path_for(key)
        partial = final.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        try:
            partial.write_text(f"To: {to}\n\n{body}\n", encoding="utf-8")
            os.replace(partial, final)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise SmsDeliveryError("temporary", f"cannot write the outbox file: {exc}") from None
        return f"file:{final.name}", "outbox"

    def delivered(self, key: str) -> str | None:
        path = self.path_for(key)
        return f"file:{path.name}" if path.exists() else None

    def close(self) -> None:
        pass


def sms_transport() -> TwilioTransport | OutboxSmsTransport:
    """Twilio when TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER are set, else the outbox."""
    config = current_app.config
    if twilio_configured():
        return TwilioTransport(
            config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], config["TWILIO_PHONE_NUMBER"],
            status_callback=f"{config['APP_URL']}/api/twilio/status",
            base_url=config.get("TWILIO_API_BASE_URL") or None,
            timeout=float(config.get("TWILIO_TIMEOUT") or DEFAULT_TIMEOUT),
        )
    return OutboxSmsTransport(config["OUTBOX_DIR"])


def twilio_configured() -> bool:
    config = current_app.config
    return bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN")
                and config.get("TWILIO_PHONE_NUMBER"))


def _classify(exc: TwilioRestException) -> SmsDeliveryError:
    code = exc.code
    if code in PERMANENT_CODES:
        return SmsDeliveryError("permanent", f"Twilio error {code}: {PERMANENT_CODES[code]}", code)
    if exc.status == 429 or exc.status >= 500:
        return SmsDeliveryError("temporary", f"Twilio answered {exc.status}: {exc.msg}", code)
    # Any other 4xx: the request itself is wrong (credentials, parameters); retrying cannot help.
    return SmsDeliveryError("permanent", f"Twilio refused the message ({exc.status}, code {code}): {exc.msg}", code)


def _refused(exc: requests.exceptions.ConnectionError) -> bool:
    """A connection that was never established (nothing reached Twilio)."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text or "Name or service not known" in text
