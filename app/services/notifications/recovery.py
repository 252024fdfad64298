"""Settling rows whose sender is gone: `sending` rows whose lease expired.

Without a hand-off mark the message never reached anyone: pending again. With one, the provider is
asked where it can be — Twilio (a message to that number with that body since the hand-off) and the
file outbox (the file exists or not) — and SMTP, which cannot be asked, makes the row `failed` with
"delivery unknown": never sent again on its own (at most once), retried only by a person.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from app.extensions import db
from app.integrations import email as email_integration
from app.integrations import sms as sms_integration
from app.models import Notification
from app.services.notifications.claims import FRESH, finish, finish_sent, release
from app.services.notifications.clock import Clock, utcnow
from app.services.notifications.sending import UNKNOWN_EMAIL, Transports

log = logging.getLogger(__name__)

_UNKNOWABLE = object()  # the provider cannot be asked (SMTP)


def recover_expired(*, now: datetime | None = None) -> int:
    """Settle `sending` rows whose sender is gone (lease expired). Returns how many were settled.

    * Never handed off → pending again (or failed when its attempts are used up): nothing was sent.
    * Handed off to the file outbox → sent if the file exists, else pending.
    * Handed off to Twilio → Twilio is asked for a message to that number with that body since the
      hand-off: found → sent (with its sid); not found → pending; Twilio unreachable → left as is.
    * Handed off to SMTP → failed with "delivery unknown": SMTP cannot be asked, so at most once.
    """
    now = now or utcnow()
    clock = Clock(now)
    cutoff = now - timedelta(seconds=current_app.config["NOTIFICATIONS_LEASE_SECONDS"])
    rows = db.session.scalars(select(Notification).where(
        Notification.status == "sending",
        or_(and_(Notification.handed_off_at.is_(None), Notification.claimed_at < cutoff),
            Notification.handed_off_at < cutoff),
    ).limit(500).execution_options(**FRESH)).all()
    db.session.commit()
    settled = 0
    with Transports() as transports:
        for row in rows:
            token = row.claim_token
            if row.handed_off_at is None:
                result = release(row, token, "the sender stopped before handing the message over (lease expired)",
                                 clock)
                settled += result != "lost"
                continue
            try:
                reference = _ask_provider(row, transports)
            except (email_integration.EmailDeliveryError, sms_integration.SmsDeliveryError) as exc:
                log.warning("notification %s: cannot settle yet: %s", row.id, exc)
                continue
            if reference is _UNKNOWABLE:
                result = finish(row, token, "failed", UNKNOWN_EMAIL)
            elif reference:
                result = finish_sent(row, token, reference, "recovered", clock)
            else:
                result = release(row, token, "the sender stopped mid-send and the provider has no such message",
                                 clock)
            settled += result != "lost"
    return settled


def _ask_provider(row: Notification, transports: Transports):
    """The provider's reference if it has the message, None if it certainly does not, or _UNKNOWABLE."""
    via = (row.context or {}).get("via")
    if via == "outbox":
        folder = current_app.config["OUTBOX_DIR"]
        outbox = (email_integration.OutboxTransport(folder) if row.channel == "email"
                  else sms_integration.OutboxSmsTransport(folder))
        return outbox.delivered(str(row.id))
    if via == "twilio" and sms_integration.twilio_configured():
        transport = transports["sms"]
        digest = (row.context or {}).get("digest")
        if not digest or not isinstance(transport, sms_integration.TwilioTransport):
            return _UNKNOWABLE
        return transport.find_sent(to=row.recipient, digest=digest, since=row.handed_off_at)
    return _UNKNOWABLE
