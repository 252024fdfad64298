"""Handing one claimed, rendered row to its provider (SMTP, Twilio or the file outbox), and
recording what became of it.

Just before the message can reach anyone the sender records `handed_off_at` (fenced by its claim,
durable): for SMTP after RCPT TO was accepted and before DATA, for Twilio just before the POST,
for the file outbox before the file is written. Before that mark nothing has left the machine;
after it the outcome may be unknown if the sender dies, and recovery settles it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Self

from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.integrations import email as email_integration
from app.integrations import sms as sms_integration
from app.models import Booking, Notification
from app.services import urls
from app.services.notifications.claims import (
    fenced,
    finish,
    finish_failed,
    finish_sent,
    retry_or_fail,
    useful_until,
)
from app.services.notifications.clock import Clock
from app.services.notifications.messages import Rendered
from app.services.notifications.opt_outs import add_opt_out

UNKNOWN_EMAIL = ("delivery unknown: the SMTP conversation broke off while the server was receiving the message, "
                 "so it may have arrived; not sent again automatically (at most once). Use Retry if the "
                 "recipient did not get it")


class Transports:
    """The transports of one pass, one per channel, made when first needed (one SMTP connection is
    reused for the whole pass) and closed at its end: `with Transports() as transports:`."""

    def __init__(self) -> None:
        self._made: dict[str, object] = {}

    def __getitem__(self, channel: str):
        if channel not in self._made:
            self._made[channel] = (
                email_integration.mail_transport() if channel == "email"
                else sms_integration.sms_transport(status_callback=urls.twilio_status_callback_url(current_app.config)))
        return self._made[channel]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        for transport in self._made.values():
            try:
                transport.close()
            except Exception:  # noqa: BLE001 (closing after the work is done must not undo it)
                pass


def send_email_row(row: Notification, token: str, message: Rendered, transports: Transports, clock: Clock) -> str:
    """Send the email of `row`; what became of the row (sent, failed, retried, lost)."""
    transport = transports["email"]
    mime = email_integration.build_message(
        to=row.recipient, subject=message.subject, text=message.text, html=message.html,
        message_id=email_integration.message_id_for(f"notification-{row.id}"), calendar=message.calendar,
        calendar_method=message.calendar_method, headers=message.headers, from_name=message.from_name)
    handoff = _handoff(row, token, clock, via=transport.name)
    try:
        reference = transport.send(mime, recipient=row.recipient, on_handoff=handoff, key=str(row.id))
    except email_integration.EmailDeliveryError as exc:
        if exc.kind == "permanent":
            return finish_failed(row, token, exc.reason)
        if exc.kind == "unknown":
            return finish_failed(row, token, UNKNOWN_EMAIL + f" ({exc.reason})")
        return retry_or_fail(row, token, exc.reason, clock)
    if reference is None:
        return "lost"
    return finish_sent(row, token, reference, "outbox" if transport.name == "outbox" else "accepted", clock)


def send_sms_row(row: Notification, token: str, message: Rendered, transports: Transports, clock: Clock, *,
                 booking: Booking | None = None, start_at: datetime | None = None) -> str:
    """Send the SMS of `row` (`booking`: its booking, when loaded; `start_at`: the start of its
    class, for a message about a class spot); what became of the row (sent, failed, retried,
    skipped, unsettled, lost)."""
    transport = transports["sms"]
    handoff = _handoff(row, token, clock, via=transport.name, digest=sms_integration.body_digest(message.sms))
    valid_for = (useful_until(row, booking, start_at=start_at) - clock()).total_seconds()
    try:
        result = transport.send(to=row.recipient, body=message.sms, on_handoff=handoff, key=str(row.id),
                                valid_for=max(valid_for, 1))
    except sms_integration.SmsDeliveryError as exc:
        if exc.code == sms_integration.OPTED_OUT:
            add_opt_out(row.organization_id, "sms", row.recipient, "twilio_21610")
            db.session.commit()
            return finish(row, token, "skipped", exc.reason)
        if exc.kind == "permanent":
            return finish_failed(row, token, exc.reason)
        if exc.kind == "unknown":
            # Twilio can be asked later: recovery settles it (sent if Twilio has it, else resent).
            fenced(row, token, last_error=f"outcome unknown, will check with Twilio: {exc.reason}")
            return "unsettled"
        return retry_or_fail(row, token, exc.reason, clock)
    if result is None:
        return "lost"
    sid, status = result
    return finish_sent(row, token, sid, status, clock)


def _handoff(row: Notification, token: str, clock: Clock, *, via: str, digest: str | None = None):
    """The fenced "about to hand this to the provider" write. Returns False when the claim is gone."""

    def handoff() -> bool:
        context = dict(row.context or {})
        context["via"] = via
        if digest:
            context["digest"] = digest
        ok = fenced(row, token, handed_off_at=clock(), context=context)
        if ok:  # mirror the write without marking the row dirty (no second UPDATE at the next flush)
            set_committed_value(row, "context", context)
        return ok

    return handoff
