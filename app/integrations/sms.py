"""Sending SMS through Twilio (the official client), or into the file outbox when Twilio is not set up.

Like the email transport, `send()` calls the caller's `on_handoff()` at the last moment at which
the message has certainly not reached anyone (just before the POST), and failures come back as
`SmsDeliveryError` with `kind` permanent / temporary / unknown. Unlike SMTP, Twilio can be asked
afterwards whether a message exists (`find_sent`, by the `body_digest` the caller kept at the
hand-off), which is how a send interrupted by a crash is settled without sending twice.

TWILIO_API_BASE_URL (not a spec variable; unset in production) points the client at another host
that speaks the Messages API — the tests' local stand-in.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
from flask import current_app
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.integrations.file_outbox import SMS_SUFFIX, DeliveryError, FileOutbox
from app.integrations.health import (
    DEGRADED,
    NOT_CONFIGURED,
    OK,
    PROBE_TIMEOUT,
    Probe,
    describe,
)

TWILIO_API = "https://api.twilio.com"
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
# Refusals that pass: the sending number's queue at Twilio is full for now.
TRANSIENT_CODES = {
    21611: "the sending number has too many messages waiting at Twilio",
}
# Status callbacks (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status):
# a message moves queued → sending → sent → delivered | undelivered | failed, but the callbacks can
# arrive in any order, so each status has a rank and only a higher one is applied.
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
               "delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4, "read": 5}
NOT_DELIVERED = frozenset({"undelivered", "failed"})
# Why Twilio could not deliver a message it had accepted (the ErrorCode of an undelivered/failed
# callback), in three kinds. The number cannot take SMS — no more texts to it:
UNREACHABLE_CODES = {
    30004: "the recipient's number blocks these messages",
    30005: "the number does not exist (unknown handset)",
    30006: "the number is a landline or its carrier cannot take SMS",
}
# Passing trouble on the way — worth sending again while the message is still useful:
REDELIVERABLE_CODES = {
    30001: "Twilio's queue for the sending number overflowed",
    30003: "the phone was switched off or out of coverage",
    30008: "an unknown error on the way to the phone",
    30009: "a part of the message went missing on the way",
    30017: "the carrier's network was congested",
    30410: "the carrier did not answer in time",
}
# Anything else (30007 filtered as spam, 30002 account suspended, 30034 unregistered sender…) fails
# the message as it is, with Twilio's code for a person to look up.
UNDELIVERED_CODES = {
    30002: "the Twilio account is suspended",
    30007: "the carrier filtered it (spam or content rules)",
    30010: "the message price exceeded the limit set",
    30034: "the sending number is not registered for A2P 10DLC",
}
# How long Twilio may keep a message queued before dropping it (validity_period: 1 s to 10 hours).
VALIDITY_MAX_SECONDS = 36_000


class SmsDeliveryError(DeliveryError):
    """An SMS that was not (or maybe not) accepted (Twilio's error code in `code`)."""


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
                 base_url: str | None = None, timeout: float) -> None:
        http = _RebasedHttpClient(base_url, timeout=timeout) if base_url else TwilioHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=http)
        self.from_number = from_number
        self.status_callback = status_callback

    def send(self, *, to: str, body: str, on_handoff: Callable[[], bool], key: str,
             valid_for: float | None = None) -> tuple[str, str] | None:
        """(message sid, Twilio status), or None when `on_handoff()` said no and nothing was sent.
        `valid_for`: seconds the message is worth delivering; Twilio drops it if it is still queued
        then (validity_period, 1 s to 10 hours), so a reminder never arrives after its class."""
        if not on_handoff():
            return None
        extra = {"validity_period": max(1, min(VALIDITY_MAX_SECONDS, int(valid_for)))} if valid_for else {}
        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=body,
                                                  status_callback=self.status_callback, **extra)
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

    def find_sent(self, *, to: str, digest: str, since: datetime) -> str | None:
        """The sid of a message to `to` whose body has `digest` (`body_digest`) created since
        `since`, if Twilio has one.

        Raises SmsDeliveryError("temporary") when Twilio cannot be asked; the caller then asks again
        later rather than guessing."""
        try:
            recent = self.client.messages.list(to=to, from_=self.from_number, limit=50)
        except Exception as exc:  # noqa: BLE001 (any failure to ask means: ask again later)
            raise SmsDeliveryError("temporary", f"cannot ask Twilio: {exc}") from None
        horizon = since - timedelta(minutes=2)  # clock skew between us and Twilio
        for message in recent:
            created = message.date_created
            if body_digest(message.body or "") == digest and (created is None or created >= horizon):
                return message.sid
        return None

    def close(self) -> None:
        pass


def body_digest(body: str) -> str:
    """What identifies an SMS body when asking Twilio about it later (whitespace runs count as one
    space): kept with the hand-off instead of the text itself."""
    return hashlib.sha256(" ".join(body.split()).encode()).hexdigest()


class OutboxSmsTransport(FileOutbox):
    """No Twilio configured: each SMS is written to the file outbox as <key>.sms.txt, for the demo."""

    def __init__(self, folder) -> None:
        super().__init__(folder, SMS_SUFFIX)

    def send(self, *, to: str, body: str, on_handoff: Callable[[], bool], key: str,
             valid_for: float | None = None) -> tuple[str, str] | None:
        try:
            reference = self.write(key, f"To: {to}\n\n{body}\n".encode(), on_handoff)
        except OSError as exc:
            raise SmsDeliveryError("temporary", f"cannot write the outbox file: {exc}") from None
        return (reference, "outbox") if reference is not None else None


def sms_transport(*, status_callback: str | None = None) -> TwilioTransport | OutboxSmsTransport:
    """Twilio when TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER are set, else the outbox.

    `status_callback`: where Twilio should report each message's delivery status (the caller
    knows the portal's addresses; this module does not)."""
    config = current_app.config
    if twilio_configured():
        return TwilioTransport(
            config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], config["TWILIO_PHONE_NUMBER"],
            status_callback=status_callback, base_url=config["TWILIO_API_BASE_URL"], timeout=config["TWILIO_TIMEOUT"],
        )
    return OutboxSmsTransport(config["OUTBOX_DIR"])


def twilio_configured() -> bool:
    config = current_app.config
    return bool(config["TWILIO_ACCOUNT_SID"] and config["TWILIO_AUTH_TOKEN"] and config["TWILIO_PHONE_NUMBER"])


def _classify(exc: TwilioRestException) -> SmsDeliveryError:
    code = exc.code
    if code in PERMANENT_CODES:
        return SmsDeliveryError("permanent", f"Twilio error {code}: {PERMANENT_CODES[code]}", code)
    if code in TRANSIENT_CODES:
        return SmsDeliveryError("temporary", f"Twilio error {code}: {TRANSIENT_CODES[code]}", code)
    if exc.status == 429 or exc.status >= 500:
        return SmsDeliveryError("temporary", f"Twilio answered {exc.status}: {exc.msg}", code)
    # Any other 4xx: the request itself is wrong (credentials, parameters); retrying cannot help.
    return SmsDeliveryError("permanent", f"Twilio refused the message ({exc.status}, code {code}): {exc.msg}", code)


def _refused(exc: requests.exceptions.ConnectionError) -> bool:
    """A connection that was never established (nothing reached Twilio)."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text or "Name or service not known" in text


# --- health probe (the self-test's Twilio check) ----------------------------------------------------

TWILIO_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_PHONE_NUMBER")


def probe(config) -> Probe:
    """One authenticated read (the account) through the real client and the transport's HTTP layer
    (TWILIO_API_BASE_URL honoured; TWILIO_TIMEOUT, never more than PROBE_TIMEOUT). No message is
    sent. Without any of the three Twilio settings: not configured (SMS go to the outbox folder)."""
    missing = [name for name in TWILIO_SETTINGS if not config[name]]
    if len(missing) == len(TWILIO_SETTINGS):
        return Probe(NOT_CONFIGURED, "No Twilio credentials: SMS are written as text files to the outbox folder.",
                     {"mode": "outbox", "outbox_dir": str(config["OUTBOX_DIR"])})
    if missing:
        return Probe(DEGRADED, f"Twilio is only partly configured (missing {', '.join(missing)}): "
                               "SMS go to the outbox folder, not to phones.",
                     {"mode": "outbox", "missing": missing, "outbox_dir": str(config["OUTBOX_DIR"])})
    sid, base_url = config["TWILIO_ACCOUNT_SID"], config["TWILIO_API_BASE_URL"]
    details: dict = {"mode": "twilio", "account": _mask(sid), "from_number": config["TWILIO_PHONE_NUMBER"],
                     "api": base_url or TWILIO_API}
    transport = TwilioTransport(sid, config["TWILIO_AUTH_TOKEN"], config["TWILIO_PHONE_NUMBER"], base_url=base_url,
                                timeout=min(config["TWILIO_TIMEOUT"], PROBE_TIMEOUT))
    try:
        account = transport.client.api.v2010.accounts(sid).fetch()
    except TwilioRestException as exc:
        details["error"] = f"HTTP {exc.status}, code {exc.code}: {exc.msg}"[:300]
        what = "refused the credentials" if exc.status in (401, 403) else f"answered {exc.status}"
        return Probe(DEGRADED, f"Twilio {what}: SMS cannot be sent.", details)
    except requests.exceptions.RequestException as exc:
        details["error"] = describe(exc)
        return Probe(DEGRADED, "Twilio cannot be reached: SMS wait and are retried.", details)
    except TwilioException as exc:
        details["error"] = describe(exc)
        return Probe(DEGRADED, "The Twilio request failed.", details)
    finally:
        session = getattr(transport.client.http_client, "session", None)
        if session is not None:
            session.close()
    # Only what helps: the account payload also carries the auth token, which must never be shown.
    details["account_status"] = account.status
    details["account_type"] = account.type
    if account.status != "active":
        return Probe(DEGRADED, f"The Twilio account is {account.status}: SMS cannot be sent.", details)
    return Probe(OK, "Twilio accepted the credentials; the account is active.", details)


def _mask(value: str) -> str:
    return f"{value[:2]}…{value[-4:]}" if len(value) > 8 else "…"
