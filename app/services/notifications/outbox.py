"""The outbox as people and monitors see it: the dashboard's list of messages, one message (and
what the file outbox wrote for it), Retry for a failed one, and the counts the health endpoint
reports.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from app.extensions import db
from app.integrations import email as email_integration
from app.models import Notification
from app.models.notifications import NOTIFICATION_STATUSES
from app.services import background
from app.services.errors import Conflict, InvalidRequest
from app.services.notifications.claims import claimable
from app.services.notifications.clock import utcnow
from app.services.scoping import org_row


def outbox_page(organization_id: uuid.UUID, *, status: str | None = None, channel: str | None = None,
                limit: int = 50, offset: int = 0) -> tuple[list[Notification], int, dict[str, int]]:
    """This organization's notifications, newest first: (rows, how many match, count per status)."""
    where = [Notification.organization_id == organization_id]
    if status:
        where.append(Notification.status == status)
    if channel:
        where.append(Notification.channel == channel)
    rows = db.session.scalars(select(Notification).where(*where)
                              .order_by(Notification.created_at.desc(), Notification.send_at.desc())
                              .limit(limit).offset(offset)).all()
    total = db.session.scalar(select(func.count()).select_from(Notification).where(*where))
    counts = dict(db.session.execute(select(Notification.status, func.count()).where(
        Notification.organization_id == organization_id).group_by(Notification.status)).all())
    return list(rows), total, counts


def failed_for_booking(organization_id: uuid.UUID, booking_id: uuid.UUID) -> list[Notification]:
    """The booking's messages that failed (an SMS the carrier could not deliver, an address that
    refused), newest first: the booking's page lists them beside the contact details."""
    return list(db.session.scalars(select(Notification).where(
        Notification.organization_id == organization_id, Notification.booking_id == booking_id,
        Notification.status == "failed").order_by(Notification.updated_at.desc()).limit(20)))


def get_notification(organization_id: uuid.UUID, notification_id) -> Notification:
    """One of this organization's notifications, or NotFound (also for another organization's)."""
    return org_row(Notification, organization_id, notification_id, "notification")


def retry_notification(organization_id: uuid.UUID, notification_id, *, now: datetime | None = None) -> Notification:
    """Send a failed notification again, now, with a fresh set of attempts (a person decided to).

    Only `failed` rows: a sent one would arrive twice, a skipped or cancelled one was stopped on purpose."""
    now = now or utcnow()
    row = get_notification(organization_id, notification_id)
    if row.status != "failed":
        raise Conflict(f"Only failed messages can be retried; this one is {row.status}.", code="not_failed")
    result = db.session.execute(
        update(Notification).where(Notification.id == row.id, Notification.status == "failed")
        .values(status="pending", send_at=now, claim_token=None, handed_off_at=None, enqueued_at=None,
                max_attempts=row.attempts + current_app.config["NOTIFICATIONS_MAX_ATTEMPTS"],
                last_error=f"retried by staff; previously: {row.last_error or 'no error recorded'}"[:2000],
                updated_at=now),
        execution_options={"synchronize_session": False})
    db.session.commit()
    if result.rowcount != 1:
        raise Conflict("This message changed meanwhile; reload the page.", code="changed")
    db.session.refresh(row)
    background.kick("notifications")
    return row


def outbox_file(row: Notification):
    """The email the file outbox wrote for this row (demo mode), or None."""
    reference = row.provider_message_id or ""
    if row.channel != "email" or not reference.startswith("file:"):
        return None
    return email_integration.read_outbox_file(reference[len("file:"):])


def queue_health(*, now: datetime | None = None) -> dict:
    """Counts for the health endpoint: rows per status, what is due, the oldest due, stuck sends."""
    now = now or utcnow()
    counts = dict(db.session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    due = db.session.scalar(select(func.count()).select_from(Notification).where(claimable(now)))
    oldest = db.session.scalar(select(func.min(Notification.send_at)).where(claimable(now)))
    lease = current_app.config["NOTIFICATIONS_LEASE_SECONDS"]
    stuck = db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.status == "sending", Notification.claimed_at < now - timedelta(seconds=lease)))
    db.session.commit()
    return {
        "counts": {status: counts.get(status, 0) for status in NOTIFICATION_STATUSES},
        "due_now": due,
        "oldest_due_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0,
        "stuck_sending": stuck,
        "lease_seconds": lease,
    }


MAX_PROCESS_LIMIT = 5000


def check_limit(value) -> int:
    """A batch limit from a request's query string (a JSON body's is checked by its model): 1…MAX_PROCESS_LIMIT."""
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise InvalidRequest("limit must be a whole number.", fields={"limit": "a whole number"}) from None
    if not 1 <= limit <= MAX_PROCESS_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PROCESS_LIMIT}.",
                             fields={"limit": f"between 1 and {MAX_PROCESS_LIMIT}"})
    return limit
