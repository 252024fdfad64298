"""Sending email: through SMTP (Flask-Mail) when SMTP_HOST is configured, else into the file outbox.

The file outbox (app/integrations/file_outbox.py: OUTBOX_DIR, instance/outbox by default) receives
one RFC 5322 .eml file per message, so a laptop without a mail server still shows what would have
been sent, and tests can read it back.

Two ways in:

* `send_email(to, subject, text, html=None)`: one message, sent now (password resets, invitations).
* `build_message(...)` + `mail_transport()`: what the notification outbox uses. The transport sends
  one message at a time over one reused connection, and calls the caller's `on_handoff()` at the
  last moment at which the message has certainly *not* reached anyone (after RCPT TO, before
  DATA; before the outbox file is written). The caller records that moment; a crash after it is
  the only case in which the outcome is unknown. Failures come back as `EmailDeliveryError`
  with `kind` = "permanent" (will never work: refused recipient), "temporary" (nothing was
  delivered, try again later) or "unknown" (the connection broke while the server was receiving
  the message: it may have been delivered).
"""
from __future__ import annotations

import smtplib
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from email import charset as email_charset
from email import message_from_bytes
from email.encoders import encode_base64
from email.header import Header
from email.message import EmailMessage
from email.message import Message as MimeMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.policy import default as default_policy
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

from flask import current_app
from flask_mail import Connection, Message

from app.extensions import mail
from app.integrations.file_outbox import EMAIL_SUFFIX, DeliveryError, FileOutbox
from app.integrations.health import (
    DEGRADED,
    NOT_CONFIGURED,
    OK,
    PROBE_TIMEOUT,
    Probe,
    describe,
)

# Headers may be 998 characters a line (RFC 5322). At 78 a long List-Unsubscribe URL, which has
# nowhere to fold, would be folded straight after the colon and arrive with a leading space.
MESSAGE_POLICY = compat32.clone(max_line_length=998)
SMTP_POLICY = MESSAGE_POLICY.clone(linesep="\r\n")
# Bodies as quoted-printable (readable in the raw message), not base64 as utf-8 defaults to.
_UTF8_QP = email_charset.Charset("utf-8")
_UTF8_QP.body_encoding = email_charset.QP
# On every email the portal sends (RFC 3834): none is written by a person, so vacation responders
# and other auto-repliers leave them alone instead of answering (and bouncing) back.
AUTOMATIC_HEADERS = {"Auto-Submitted": "auto-generated"}


def send_email(to: str | list[str], subject: str, text: str, html: str | None = None) -> str | None:
    """Send one message to `to` (an address or a list). Returns the outbox file path when written
    to the outbox, None when handed to the SMTP server. SMTP failures propagate to the caller."""
    recipients = [to] if isinstance(to, str) else list(to)
    sender = _sender()
    if current_app.config["SMTP_HOST"]:
        mail.send(Message(subject=subject, recipients=recipients, body=text, html=html, sender=sender,
                          extra_headers=dict(AUTOMATIC_HEADERS)))
        return None
    return _write_to_outbox(recipients, subject, text, html, sender)


def _write_to_outbox(recipients: list[str], subject: str, text: str, html: str | None, sender: str) -> str:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain="atlas-booking.local")
    for name, value in AUTOMATIC_HEADERS.items():
        message[name] = value
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    outbox = OutboxTransport(current_app.config["OUTBOX_DIR"])
    # Not a notification, so no key of its own: the time it was written, and a tie-breaker.
    key = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    outbox.write(key, bytes(message), on_handoff=lambda: True)
    return str(outbox.path_for(key))


def _sender() -> str:
    """SMTP_FROM, "Name <address>" (config.py gives its default; MAIL_DEFAULT_SENDER is the same value)."""
    return current_app.config["SMTP_FROM"]


# --- messages for the notification outbox -----------------------------------------------------

class EmailDeliveryError(DeliveryError):
    """An email that was not (or maybe not) delivered (SMTP's reply code in `code`)."""


def sender_address() -> str:
    """The bare address of SMTP_FROM (for ORGANIZER and the envelope sender)."""
    return parseaddr(_sender())[1]


def message_id_for(key: str) -> str:
    """A Message-ID that is the same on every attempt for one notification: mail systems that see
    the same message twice (Gmail does) keep one copy."""
    domain = sender_address().rpartition("@")[2] or "atlas-booking.local"
    return f"<{key}@{domain}>"


def build_message(*, to: str, subject: str, text: str, html: str | None, message_id: str,
                  calendar: bytes | None = None, calendar_method: str | None = None,
                  headers: dict[str, str] | None = None, from_name: str | None = None) -> MimeMessage:
    """One email: plain text and HTML alternatives, and optionally a calendar invitation.

    The invitation follows the layout calendar clients recognise (and Google itself sends):
    a text/calendar part with the METHOD parameter among the alternatives, and the same calendar
    attached as invite.ics — also text/calendar with the method parameter.

    Every message says it was sent automatically (AUTOMATIC_HEADERS); `headers` adds others
    (List-Unsubscribe, Reply-To), each a single line. `from_name` (the gym's name) replaces
    SMTP_FROM's display name; the address stays SMTP_FROM's. It is written as RFC 5322 and 2047
    have it (quoted, or encoded when not ASCII), with any control character taken out first.

    Built with the classic email.mime classes, as Flask-Mail does: the modern EmailMessage API
    parses every header it is given, which cost more per message than rendering and sending it.
    """
    alternatives = MIMEMultipart("alternative", policy=MESSAGE_POLICY)
    alternatives.attach(MIMEText(text, "plain", _UTF8_QP))
    if html:
        alternatives.attach(MIMEText(html, "html", _UTF8_QP))
    if calendar is not None:
        method = (calendar_method or "PUBLISH").upper()
        inline = MIMEText(calendar.decode("utf-8"), "calendar", _UTF8_QP)
        inline.set_param("method", method)
        alternatives.attach(inline)
        attachment = MIMEBase("text", "calendar", method=method, charset="utf-8", name="invite.ics")
        attachment.set_payload(calendar)
        encode_base64(attachment)
        attachment.add_header("Content-Disposition", "attachment", filename="invite.ics")
        message = MIMEMultipart("mixed", policy=MESSAGE_POLICY)
        message.attach(alternatives)
        message.attach(attachment)
    else:
        message = alternatives
    message["From"] = _from(from_name)
    message["To"] = _address(to)
    message["Subject"] = Header(subject, "utf-8") if not subject.isascii() else subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = message_id
    for name, value in {**AUTOMATIC_HEADERS, **(headers or {})}.items():
        if "\r" in value or "\n" in value:  # a line break would start a header of its own
            raise ValueError(f"header {name} holds a line break")
        message[name] = value
    return message


def _from(display_name: str | None) -> str:
    """SMTP_FROM, with `display_name` as its name when one is given."""
    name = " ".join("".join(c if c.isprintable() else " " for c in display_name or "").split())
    if not name:
        return _address(_sender())
    return formataddr((name, sender_address()), charset="utf-8")


def _address(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


class _SmtpConnection(Connection):
    """Flask-Mail's connection (server, port, STARTTLS/SSL and login from the MAIL_* settings),
    with a timeout on every socket operation so a stuck server cannot hold a claim forever."""

    def __init__(self, timeout: float) -> None:
        super().__init__(current_app.extensions["mail"])
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        if state.use_ssl:
            host = smtplib.SMTP_SSL(state.server, state.port, timeout=self.timeout)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=self.timeout)
        try:
            host.set_debuglevel(int(state.debug))
            if state.use_tls:
                host.starttls()
            if state.username and state.password:
                host.login(state.username, state.password)
        except BaseException:
            host.close()  # a failed STARTTLS or login must not leak the socket
            raise
        return host


class SmtpTransport:
    """Sends messages one by one over one SMTP connection (reconnecting after a failure)."""

    name = "smtp"

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._connection: _SmtpConnection | None = None
        self.suppressed = bool(current_app.extensions["mail"].suppress)

    def _host(self) -> smtplib.SMTP:
        if self._connection is None or self._connection.host is None:
            connection = _SmtpConnection(self.timeout)
            try:
                connection.host = connection.configure_host()
            except (smtplib.SMTPException, OSError) as exc:
                raise EmailDeliveryError("temporary", f"cannot reach the SMTP server: {_describe(exc)}") from None
            self._connection = connection
        return self._connection.host

    def _drop(self) -> None:
        if self._connection is not None and self._connection.host is not None:
            try:
                self._connection.host.close()
            except Exception:  # noqa: BLE001 (closing a broken connection)
                pass
        self._connection = None

    def send(self, message: MimeMessage, *, recipient: str, on_handoff: Callable[[], bool],
             key: str | None = None) -> str | None:
        """Deliver `message` to `recipient`; the provider reference (the Message-ID) or None when
        `on_handoff()` said no (the caller lost its claim) and nothing was sent. (`key` names the
        message in the file outbox; over SMTP the Message-ID already does.)"""
        if self.suppressed:  # MAIL_SUPPRESS_SEND (TESTING): Flask-Mail's "pretend" mode
            return f"suppressed:{message['Message-ID']}" if on_handoff() else None
        data = message.as_bytes(policy=SMTP_POLICY)
        host = self._host()
        handed_off = False
        try:
            host.ehlo_or_helo_if_needed()
            code, reply = host.mail(sender_address())
            if code != 250:
                self._reset(host)
                raise EmailDeliveryError("temporary", f"sender refused: {code} {_text(reply)}", code)
            code, reply = host.rcpt(recipient)
            if code not in (250, 251):
                self._reset(host)
                kind = "permanent" if 500 <= code < 600 else "temporary"
                raise EmailDeliveryError(kind, f"recipient refused by the mail server: {code} {_text(reply)}", code)
            if not on_handoff():
                self._reset(host)
                return None
            handed_off = True
            code, reply = host.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (before any content was sent)
            self._reset(host)
            kind = "permanent" if 500 <= exc.smtp_code < 600 else "temporary"
            raise EmailDeliveryError(kind, f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                                     exc.smtp_code) from None
        except EmailDeliveryError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            if handed_off:
                raise EmailDeliveryError(
                    "unknown", f"the connection broke while the server was receiving the message: {_describe(exc)}"
                ) from None
            raise EmailDeliveryError("temporary", f"SMTP error before sending: {_describe(exc)}") from None
        if code != 250:
            kind = "permanent" if 500 <= code < 600 else "temporary"
            raise EmailDeliveryError(kind, f"message refused: {code} {_text(reply)}", code)
        return str(message["Message-ID"])

    def _reset(self, host: smtplib.SMTP) -> None:
        try:
            host.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def close(self) -> None:
        if self._connection is not None and self._connection.host is not None:
            try:
                self._connection.host.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self._connection = None


class OutboxTransport(FileOutbox):
    """No SMTP_HOST: each message is written to the file outbox as <key>.eml (file_outbox.py: named
    after the notification, so a send interrupted by a crash is settled exactly)."""

    def __init__(self, folder) -> None:
        super().__init__(folder, EMAIL_SUFFIX)

    def send(self, message: MimeMessage, *, recipient: str, on_handoff: Callable[[], bool],
             key: str) -> str | None:
        try:
            return self.write(key, bytes(message), on_handoff)
        except OSError as exc:
            raise EmailDeliveryError("temporary", f"cannot write the outbox file: {exc}") from None


def mail_transport() -> SmtpTransport | OutboxTransport:
    """SMTP when SMTP_HOST is configured, else the file outbox."""
    config = current_app.config
    if config["SMTP_HOST"]:
        return SmtpTransport(timeout=config["SMTP_TIMEOUT"])
    return OutboxTransport(config["OUTBOX_DIR"])


def read_outbox_file(name: str) -> EmailMessage | None:
    """An email the file outbox holds, by its file name (which the caller took from a row)."""
    content = OutboxTransport(current_app.config["OUTBOX_DIR"]).read(name)
    return message_from_bytes(content, policy=default_policy) if content is not None else None


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return str(exc) or exc.__class__.__name__


# --- health probe (the self-test's SMTP check) ------------------------------------------------------

def probe(config) -> Probe:
    """Connect and EHLO — with TLS or STARTTLS and the login as the MAIL_* settings make the
    transport connect — then QUIT. No message is sent. Each step may take SMTP_TIMEOUT, never more
    than PROBE_TIMEOUT. Without SMTP_HOST: not configured (messages go to the outbox folder)."""
    if not config["SMTP_HOST"]:
        return Probe(NOT_CONFIGURED, "No SMTP_HOST: emails are written as .eml files to the outbox folder.",
                     {"mode": "outbox", "outbox_dir": str(config["OUTBOX_DIR"])})
    server, port = config["MAIL_SERVER"], config["MAIL_PORT"]
    use_ssl, use_tls = config["MAIL_USE_SSL"], config["MAIL_USE_TLS"]
    username, password = config["MAIL_USERNAME"], config["MAIL_PASSWORD"]
    security = "ssl" if use_ssl else "starttls" if use_tls else "none"
    details: dict = {"mode": "smtp", "host": server, "port": port, "security": security,
                     "login": bool(username and password)}
    timeout = min(config["SMTP_TIMEOUT"], PROBE_TIMEOUT)
    where = f"{server}:{port}"
    # The transport's steps taken one by one, so the answer can say which one failed; the socket is
    # closed whichever it was.
    host = None
    step = "connect"
    try:
        host = (smtplib.SMTP_SSL if use_ssl else smtplib.SMTP)(server, port, timeout=timeout)
        step = "EHLO"
        code, reply = host.ehlo()
        if code != 250:
            code, reply = host.helo()
        if use_tls:
            step = "STARTTLS"
            host.starttls()
            code, reply = host.ehlo()
        details["server"] = _text(reply).splitlines()[0][:200] if reply else None
        details["extensions"] = sorted(host.esmtp_features)
        if details["login"]:
            step = "login"
            host.login(username, password)
    except smtplib.SMTPAuthenticationError as exc:
        details["error"] = f"{exc.smtp_code} {_text(exc.smtp_error)}"[:300]
        return Probe(DEGRADED, f"The SMTP server at {where} refused the login.", details)
    except smtplib.SMTPNotSupportedError as exc:
        details["error"] = str(exc)
        return Probe(DEGRADED, f"The SMTP server at {where} cannot do what is configured: {exc}", details)
    except (smtplib.SMTPException, OSError) as exc:
        details["error"] = describe(exc)
        details["failed_step"] = step
        what = "Cannot reach" if step == "connect" else f"{step} failed with"
        return Probe(DEGRADED, f"{what} the SMTP server at {where}: {details['error']}.", details)
    finally:
        if host is not None:
            try:
                host.quit()
            except (smtplib.SMTPException, OSError):
                host.close()
    steps = "EHLO" + {"ssl": " over TLS", "starttls": " + STARTTLS", "none": ""}[security]
    if details["login"]:
        steps += " + login"
    return Probe(OK, f"The SMTP server at {where} accepted {steps}.", details)
