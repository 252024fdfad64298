"""Twilio's status callbacks: what became of an SMS after Twilio accepted it.

* Callbacks arrive in any order (Twilio sends them as the message moves, over separate requests):
  a status is applied only when it ranks above the one the row has (`sms.STATUS_RANK`), in one
  conditional UPDATE, so a late `sent` never overwrites `delivered` and two callbacks at once
  cannot both win.
* `undelivered` / `failed` (the carrier did not deliver it) turn the row from `sent` into:
  - `failed` with Twilio's reason, on the outbox's failed list and the booking's page, and the
    number marked as unable to take SMS (an opt-out with source `twilio_<code>`: no more texts
    to it from any gym) when the code says so — a landline (30006), an unknown number (30005), a
    block (30004);
  - `pending` again, after the backoff, when the trouble passes (30003 phone off, 30008 …) and
    the message is still useful — at most MAX_REDELIVERIES times, then `failed`;
  - `failed` as it is for anything else (30007 filtered as spam …).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, update

from app.extensions import db
from app.integrations import sms as sms_integration
from app.models import Notification
from app.services.notifications.claims import backoff_seconds, useful_until
from app.services.notifications.clock import utcnow
from app.services.notifications.opt_outs import add_opt_out

log = logging.getLogger(__name__)

MAX_REDELIVERIES = 2  # an SMS the carrier could not deliver for a passing reason is sent again at most this often
OUR_STATUSES = ("recovered",)  # written by recovery (rank of "queued"): Twilio's statuses rank above it


def record_sms_status(message_sid: str, status: str, error_code: str | None = None) -> bool:
    """Apply one status callback of the message `message_sid`. True when it changed something;
    False for an unknown message, an unknown status, or one that ranks at or below the row's."""
    status = (status or "").strip().lower()
    rank = sms_integration.STATUS_RANK.get(status)
    if rank is None:
        log.info("twilio status %r for %s ignored: not a status Twilio documents", status[:32], message_sid[:64])
        return False
    lower = [name for name, value in sms_integration.STATUS_RANK.items() if value < rank]
    if rank > sms_integration.STATUS_RANK["queued"]:
        lower += OUR_STATUSES
    applied = db.session.scalars(
        update(Notification)
        .where(Notification.provider_message_id == message_sid, Notification.channel == "sms",
               or_(Notification.delivery_status.is_(None), Notification.delivery_status.in_(lower)))
        .values(delivery_status=status, updated_at=utcnow())
        .returning(Notification.id), execution_options={"synchronize_session": False}).all()
    if not applied:
        db.session.commit()
        return False
    row = db.session.get(Notification, applied[0], populate_existing=True)
    code = _code(error_code)
    if code == sms_integration.OPTED_OUT:
        add_opt_out(row.organization_id, "sms", row.recipient, "twilio_21610")
    if status in sms_integration.NOT_DELIVERED:
        _not_delivered(row, status, code)
    db.session.commit()
    return True


def _not_delivered(row: Notification, status: str, code: int | None) -> None:
    """The carrier did not deliver `row` (still `sent` as far as we had known): fail it, or send it
    again when the trouble passes and the message is still worth it."""
    if row.status != "sent":
        return  # a person retried it, or it was settled otherwise: this callback is about the past
    now = utcnow()
    reason = _reason(status, code)
    redelivered = int((row.context or {}).get("redelivered", 0))
    if code in sms_integration.REDELIVERABLE_CODES and redelivered < MAX_REDELIVERIES:
        next_at = now + timedelta(seconds=backoff_seconds(redelivered + 1))
        if next_at < useful_until(row):
            row.status = "pending"
            row.send_at = next_at
            row.provider_message_id = None  # a later callback of the lost message is about the past
            row.delivery_status = None
            row.handed_off_at = None
            row.enqueued_at = None
            row.context = {**(row.context or {}), "redelivered": redelivered + 1}
            row.last_error = f"{reason}; sending it again"[:2000]
            return
    row.status = "failed"
    row.last_error = reason[:2000]
    if code in sms_integration.UNREACHABLE_CODES:
        add_opt_out(row.organization_id, "sms", row.recipient, f"twilio_{code}")


def _reason(status: str, code: int | None) -> str:
    """"Twilio could not deliver it (error 30006: the number is a landline …)"."""
    if code is None:
        return f"Twilio reported it {status}, without an error code"
    known = {**sms_integration.UNREACHABLE_CODES, **sms_integration.REDELIVERABLE_CODES,
             **sms_integration.UNDELIVERED_CODES, sms_integration.OPTED_OUT: sms_integration.PERMANENT_CODES[
                 sms_integration.OPTED_OUT]}
    return f"Twilio could not deliver it (error {code}: {known.get(code, 'see twilio.com/docs/api/errors')})"


def _code(value: str | None) -> int | None:
    try:
        return int(str(value).strip()) if value else None
    except ValueError:
        return None


def unreachable_reason(source: str) -> str:
    """Why an SMS to a number with an opt-out from `source` is not sent, in words."""
    if source.startswith("twilio_") and source[7:].isdigit() and int(source[7:]) in sms_integration.UNREACHABLE_CODES:
        return f"the number cannot receive SMS ({sms_integration.UNREACHABLE_CODES[int(source[7:])]})"
    return "the number has opted out of SMS (replied STOP)"

