"""A booking that is over stays as it was (issue 16, item 9): nobody moves or cancels it, the customer
is told nothing about a session that has started, staff can still mark it completed or a no-show —
and marking a session finished early does not give back the rest of its time, in availability or
in the database."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.models import Booking, BookingAudit, Notification
from app.services.bookings import (
    Actor,
    SlotTaken,
    cancel_booking,
    create_booking,
    reschedule_booking,
    set_booking_status,
)
from app.services.errors import Conflict
from app.services.scheduling import search_slots

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # Sunday; London is UTC+0 in January
MON_9 = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)
MONDAY = date(2030, 1, 7)
STAFF = Actor("staff", id="owner")
EVERYONE = [Actor("attendee", ip="203.0.113.5"), Actor("ai", id="key-1"), STAFF, Actor("calendar", id="alex")]


@pytest.fixture
def world(make_org, make_trainer, make_appointment_type, make_link):
    org = make_org(slug="gym", timezone="Europe/London", cancellation_cutoff_minutes=12 * 60)
    alex = make_trainer(org=org, name="Alex", email="alex@gym.example")
    # Starts every 30 minutes, no notice: after a 09:00 session marked finished at 09:05, 09:30 is the
    # first start that the rest of its time (until 10:00, and its buffer until 10:15) must keep closed.
    pt = make_appointment_type(org=org, name="PT", duration_minutes=60, buffer_after_minutes=15,
                               slot_interval_minutes=30, booking_window_days=None, min_notice_minutes=0)
    make_link([alex], [pt], slug="pt")
    return type("World", (), dict(org=org, alex=alex, pt=pt))


def book(start=MON_9, now=NOW, **kw):
    values = dict(link_slug="pt", start_time=start, attendee_name="Jane Smith", attendee_email="jane@example.com",
                  attendee_phone="07700 900123", actor=Actor("attendee"), now=now)
    values.update(kw)
    return create_booking(**values).booking


def notifications_of(db, booking) -> list[tuple[str, str]]:
    rows = db.session.scalars(select(Notification).where(Notification.booking_id == booking.id)).all()
    return sorted((row.template, row.recipient) for row in rows)


def next_day_at_9(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), time(9), tzinfo=timezone.utc)


# --- (a) a booking that is over cannot be changed --------------------------------------------------

@pytest.mark.parametrize("after", [timedelta(minutes=1), timedelta(days=7)], ids=["just-ended", "last-week"])
@pytest.mark.parametrize("actor", EVERYONE, ids=lambda actor: actor.type)
def test_nobody_moves_or_cancels_a_booking_that_has_ended(db, world, actor, after):
    """Still `confirmed` (the job has not run yet), but over: booking_finished for every caller, with
    a message that says so — not the cutoff's "within 12 hours", and staff no longer cancel last
    week's session (emailing the customer)."""
    booking = book()
    messages_before = notifications_of(db, booking)
    now = booking.end_at + after
    with pytest.raises(Conflict) as cancelled:
        cancel_booking(booking.id, actor=actor, now=now)
    with pytest.raises(Conflict) as moved:
        reschedule_booking(booking.id, start_time=next_day_at_9(now), actor=actor, now=now)
    assert (cancelled.value.code, moved.value.code) == ("booking_finished", "booking_finished")
    assert cancelled.value.message == "This booking has already taken place, so it can't be cancelled."
    assert moved.value.message == "This booking has already taken place, so it can't be moved."
    db.session.expire_all()
    row = db.session.get(Booking, booking.id)
    assert (row.status, row.start_at) == ("confirmed", MON_9)
    assert [a.action for a in db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id))] \
        == ["created"]
    assert notifications_of(db, booking) == messages_before  # nobody was told anything


def test_staff_mark_an_ended_booking_and_can_correct_the_mark(db, world):
    """After the end (or after the job marked it completed) staff still record what happened: a
    no-show the job marked completed can be put right. Finished, it can't be cancelled."""
    booking = book()
    later = booking.end_at + timedelta(days=2)
    set_booking_status(booking.id, action="complete", actor=STAFF, now=later)
    assert (booking.status, booking.finished_at) == ("completed", later)
    set_booking_status(booking.id, action="no_show", actor=STAFF, now=later + timedelta(hours=1))
    assert (booking.status, booking.finished_at) == ("no_show", later)  # finished when it was first marked
    with pytest.raises(Conflict) as again:
        set_booking_status(booking.id, action="no_show", actor=STAFF, now=later + timedelta(hours=2))
    assert again.value.code == "invalid_status" and "already marked no-show" in again.value.message
    with pytest.raises(Conflict) as cancelled:
        cancel_booking(booking.id, actor=STAFF, now=later)
    assert cancelled.value.code == "booking_finished"
    actions = [a.action for a in db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)
                                                    .order_by(BookingAudit.created_at))]
    assert actions == ["created", "complete", "no_show"]


def test_a_pending_booking_that_has_ended_cannot_be_confirmed(db, world, make_booking):
    pending = make_booking(staff=world.alex, start=MON_9, status="pending", appointment_type_id=world.pt.id)
    with pytest.raises(Conflict) as caught:
        set_booking_status(pending.id, action="confirm", actor=STAFF, now=pending.end_at + timedelta(hours=1))
    assert caught.value.code == "booking_finished" and "mark it completed or a no-show" in caught.value.message
    set_booking_status(pending.id, action="no_show", actor=STAFF, now=pending.end_at + timedelta(hours=1))
    assert pending.status == "no_show"


def test_cancelling_a_session_in_progress_tells_the_trainer_not_the_customer(db, world):
    """Staff may still cancel a session that has started (it is not over), but the customer is not
    sent a cancellation for it; the trainer's notice goes as usual."""
    booking = book()
    cancel_booking(booking.id, actor=STAFF, now=MON_9 + timedelta(minutes=10))
    assert booking.status == "cancelled"
    cancellations = [(template, to) for template, to in notifications_of(db, booking) if "cancel" in template]
    assert cancellations == [("staff_booking_cancelled", "alex@gym.example")]


def test_cancelling_before_the_start_still_tells_the_customer(db, world):
    booking = book()
    cancel_booking(booking.id, actor=STAFF, now=MON_9 - timedelta(minutes=10))
    cancellations = [(template, to) for template, to in notifications_of(db, booking) if "cancel" in template]
    assert cancellations == [("booking_cancellation", "+447700900123"), ("booking_cancellation", "jane@example.com"),
                             ("staff_booking_cancelled", "alex@gym.example")]


# --- (b) finishing early does not free the rest of the time ----------------------------------------

@pytest.mark.parametrize("action", ["complete", "no_show"])
def test_marking_a_session_finished_early_keeps_the_rest_of_its_time(db, world, action):
    booking = book()
    marked_at = MON_9 + timedelta(minutes=5)
    set_booking_status(booking.id, action=action, actor=STAFF, now=marked_at)
    now = marked_at + timedelta(minutes=1)
    starts = [slot.start for slot in search_slots(link_slug="pt", date_=MONDAY, now=now).slots]
    # 09:30 and 10:00 would overlap the rest of the session or its buffer (until 10:15).
    assert starts[0] == MON_9 + timedelta(minutes=90)
    with pytest.raises(SlotTaken):
        book(start=MON_9 + timedelta(minutes=30), now=now, attendee_email="walk-in@example.com")


def test_a_finished_session_still_counts_towards_the_daily_cap(db, world):
    """The job marks every ended booking completed: that must not reopen a day that was full."""
    world.pt.max_per_day = 1
    db.session.commit()
    booking = book()
    set_booking_status(booking.id, action="complete", actor=STAFF, now=booking.end_at + timedelta(minutes=20))
    now = booking.end_at + timedelta(minutes=30)
    assert search_slots(link_slug="pt", date_=MONDAY, now=now).slots == ()


@pytest.mark.postgres_only
def test_the_database_keeps_the_rest_of_a_session_finished_early(db, world, make_booking):
    """PostgreSQL's exclusion constraint, not only the availability check: a row written past the
    service (a race, a bulk import) cannot take time a session marked completed early still holds."""
    booking = book()
    set_booking_status(booking.id, action="complete", actor=STAFF, now=MON_9 + timedelta(minutes=5))
    with pytest.raises(IntegrityError, match="ex_bookings_no_overlap"):
        make_booking(staff=world.alex, start=MON_9 + timedelta(minutes=30), attendee_email="walk-in@example.com")
    db.session.rollback()
    with pytest.raises(IntegrityError, match="ex_bookings_no_overlap"):  # its buffer after, too
        make_booking(staff=world.alex, start=MON_9 + timedelta(minutes=70), attendee_email="walk-in@example.com")
    db.session.rollback()
    # Marked once its time (buffer included) was over, it holds nothing: that time has passed.
    other = book(start=MON_9 + timedelta(hours=3), attendee_email="later@example.com")
    set_booking_status(other.id, action="complete", actor=STAFF, now=other.end_at + timedelta(minutes=15))
    assert make_booking(staff=world.alex, start=other.start_at + timedelta(minutes=30),
                        attendee_email="history@example.com").status == "confirmed"
