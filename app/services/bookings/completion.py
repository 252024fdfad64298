"""Bookings that have ended become `completed`: the service behind the periodic job (app/jobs.py).

A confirmed booking whose end has passed is marked completed by the system, audited (actor
`system`), so the dashboard, reports and the customer's manage page say what happened. Nothing else
changes: no message goes to anyone, the sequence stays (calendar invitations are about time), the
Google event stays as it is (write-back leaves finished bookings' events alone), and time still held
— a buffer after that is not over yet — stays held (finished_at < blocked_end_at keeps the row in
the exclusion constraint). Staff can still mark it a no-show (change.set_booking_status).

Pending bookings are left as they are: `completed` says the session took place, and a request
nobody confirmed cannot be assumed to have; staff mark it completed or a no-show. Either way an
ended booking can no longer be moved or cancelled (policy.check_still_active), so the job's timing
decides only how soon the status reads `completed`, never what may be done.

Organization by organization, in batches of BATCH_SIZE, each its own short transaction (rows a
change holds locked are skipped, for the next run): idempotent, safe to run twice at once or be
interrupted at any point.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import literal_column, select

from app.database import begin_serialized_transaction
from app.extensions import db
from app.models import Booking, Organization
from app.services.bookings.audit import Actor, record_audit, snapshot

BATCH_SIZE = 200
SYSTEM = Actor("system", id="complete_past_bookings")


def complete_past_bookings(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Mark every confirmed booking that ended at or before `now` completed; how many were marked."""
    now = now or datetime.now(timezone.utc)
    org_ids = db.session.scalars(select(Organization.id).order_by(Organization.id)).all()
    db.session.commit()  # end the read: each batch below is a write transaction of its own
    marked = 0
    for org_id in org_ids:
        while True:
            count = _complete_batch(org_id, now, batch_size)
            marked += count
            if count < batch_size:
                break
    return marked


def _complete_batch(org_id: uuid.UUID, now: datetime, limit: int) -> int:
    """One transaction: up to `limit` of the organization's ended confirmed bookings, oldest first."""
    begin_serialized_transaction()
    try:
        rows = db.session.scalars(
            select(Booking)
            # 'confirmed' written as a literal: the partial index is over status = 'confirmed', which
            # a generic plan with a bound parameter could not use.
            .where(Booking.organization_id == org_id, Booking.status == literal_column("'confirmed'"),
                   Booking.end_at <= now)
            .order_by(Booking.end_at, Booking.id).limit(limit)
            .with_for_update(of=Booking, skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        for row in rows:
            before = snapshot(row)
            row.status, row.finished_at = "completed", now
            record_audit(row, SYSTEM, "complete", before, snapshot(row))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return len(rows)
