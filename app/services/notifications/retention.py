"""Keeping the outbox small: messages that are done (sent, skipped, cancelled) and the file outbox's
files are deleted once older than NOTIFICATIONS_RETENTION_DAYS (0 keeps them for ever). Failed
messages stay, for staff to see and retry; a booking's history lives in its audit trail
(booking_audit), which is never purged here.

The purge runs with the dispatcher (`process_due`, the RQ dispatch job), at most once an hour per
process and a bounded number of rows at a time, so it never holds up sending.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from app.extensions import db
from app.integrations import email as email_integration
from app.integrations import sms as sms_integration
from app.models import Notification
from app.services.notifications.clock import utcnow

PURGE_EVERY = timedelta(hours=1)
PURGE_BATCH = 1000  # rows per DELETE
DONE = ("sent", "skipped", "cancelled")


def purge_expired(*, now: datetime | None = None, force: bool = False) -> int:
    """Delete done messages (and outbox files) older than the retention period; how many rows went.
    Without `force`, does nothing if this process purged less than PURGE_EVERY ago."""
    now = now or utcnow()
    state = current_app.extensions.setdefault("notification_retention", {})
    last = state.get("last_purge")
    if not force and last is not None and now - last < PURGE_EVERY:
        return 0
    state["last_purge"] = now
    days = current_app.config["NOTIFICATIONS_RETENTION_DAYS"]
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    deleted = 0
    while True:
        batch = select(Notification.id).where(Notification.status.in_(DONE), Notification.send_at < cutoff) \
            .limit(PURGE_BATCH)
        count = db.session.execute(delete(Notification).where(Notification.id.in_(batch))
                                   .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        deleted += count
        if count < PURGE_BATCH:
            break
    folder = current_app.config["OUTBOX_DIR"]
    for outbox in (email_integration.OutboxTransport(folder), sms_integration.OutboxSmsTransport(folder)):
        outbox.purge(cutoff.timestamp())
    return deleted
