"""The job that marks ended bookings completed (issue 16, item 9: past bookings stayed `confirmed` for
ever): audited by the system, silent, idempotent, batch by batch, every organization's."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.models import Booking, BookingAudit, Notification
from app.services.bookings import complete_past_bookings

MON_9 = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def alex(make_trainer):
    return make_trainer(name="Alex")


def statuses(db) -> dict[str, str]:
    db.session.expire_all()
    return {row.attendee_name: row.status for row in db.session.scalars(select(Booking))}


def test_ended_confirmed_bookings_become_completed_and_nothing_else_changes(db, alex, make_booking):
    ended = make_booking(staff=alex, start=MON_9, attendee_name="ended", sequence=3,
                         calendar_sync_status="synced", external_event_id="evt-1")
    make_booking(staff=alex, start=MON_9 + timedelta(hours=1), attendee_name="in progress")
    make_booking(staff=alex, start=MON_9 + timedelta(hours=3), attendee_name="to come")
    make_booking(staff=alex, start=MON_9 - timedelta(days=1), attendee_name="unconfirmed", status="pending")
    make_booking(staff=alex, start=MON_9 - timedelta(days=2), attendee_name="cancelled", status="cancelled")
    make_booking(staff=alex, start=MON_9 - timedelta(days=3), attendee_name="no-show", status="no_show")
    now = MON_9 + timedelta(hours=1, minutes=30)

    assert complete_past_bookings(now=now) == 1
    assert statuses(db) == {"ended": "completed", "in progress": "confirmed", "to come": "confirmed",
                            "unconfirmed": "pending", "cancelled": "cancelled", "no-show": "no_show"}
    row = db.session.get(Booking, ended.id)
    assert row.finished_at == now
    # Silent: no message, the calendar event and its version left as they were.
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    assert (row.sequence, row.calendar_sync_status, row.external_event_id) == (3, "synced", "evt-1")
    [entry] = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == ended.id)).all()
    assert (entry.actor_type, entry.actor_id, entry.action) == ("system", "complete_past_bookings", "complete")
    assert (entry.before["status"], entry.after["status"]) == ("confirmed", "completed")

    # Idempotent: a second run (or a second worker) finds nothing and audits nothing more.
    assert complete_past_bookings(now=now) == 0
    assert db.session.scalar(select(func.count()).select_from(BookingAudit)) == 1


def test_every_organization_in_batches(db, make_org, make_trainer, make_booking):
    trainers = [make_trainer(org=make_org()) for _ in range(3)]
    for trainer in trainers:
        for day in range(5):
            make_booking(staff=trainer, start=MON_9 - timedelta(days=day), attendee_name=f"{trainer.id}-{day}")
    assert complete_past_bookings(now=MON_9 + timedelta(hours=2), batch_size=2) == 15
    assert set(statuses(db).values()) == {"completed"}
    assert db.session.scalar(select(func.count()).select_from(BookingAudit)) == 15


@pytest.mark.postgres_only
def test_a_buffer_still_running_stays_held(db, alex, make_booking):
    """Ended at 10:00 with a 15-minute buffer, completed at 10:05: until 10:15 the database still
    keeps the time apart, as it did while the booking was confirmed."""
    make_booking(staff=alex, start=MON_9, buffer_after_minutes=15, attendee_name="ended")
    assert complete_past_bookings(now=MON_9 + timedelta(hours=1, minutes=5)) == 1
    with pytest.raises(IntegrityError, match="ex_bookings_no_overlap"):
        make_booking(staff=alex, start=MON_9 + timedelta(hours=1, minutes=10), attendee_name="squeezed in")
    db.session.rollback()
