"""The outbox rows a booking change writes, in the booking's own transaction."""
from __future__ import annotations

from datetime import timedelta

import pytest
from notification_helpers import START
from sqlalchemy import func, select

from app.models import Booking, Notification
from app.services.bookings import Actor, SlotTaken, cancel_booking, reschedule_booking
from app.services.notifications.opt_outs import unseal


def summary(rows) -> list[tuple]:
    return [(r.template, r.channel, r.status) for r in rows]


def test_a_new_booking_writes_confirmation_trainer_notice_and_reminders(book, rows, world):
    result = book(phone="+44 7700 900123")
    written = rows()
    assert {(r.template, r.channel) for r in written} == {
        ("booking_confirmation", "email"), ("booking_confirmation", "sms"), ("staff_booking_created", "email"),
        ("booking_reminder", "email"), ("booking_reminder", "sms"),
    }
    assert all(r.status == "pending" and r.booking_id == result.booking.id for r in written)
    assert all(r.organization_id == world.org.id for r in written)
    confirmation = rows(template="booking_confirmation", channel="email")[0]
    assert confirmation.recipient == "ann@example.com"
    assert rows(template="booking_confirmation", channel="sms")[0].recipient == "+447700900123"
    assert rows(template="staff_booking_created")[0].recipient == world.trainer.email
    # Reminders at the organization's default offsets (24 h and 2 h), one per channel.
    reminder_times = sorted({r.send_at for r in rows(template="booking_reminder")})
    assert reminder_times == [START - timedelta(hours=24), START - timedelta(hours=2)]
    assert len(rows(template="booking_reminder")) == 4


def test_the_manage_token_is_kept_encrypted_not_in_clear(book, rows):
    result = book()
    stored = rows(template="booking_confirmation")[0].context["manage"]
    assert result.manage_token not in stored
    assert unseal(stored) == result.manage_token


def test_without_a_phone_no_sms_rows(book, rows):
    book()
    assert {r.channel for r in rows()} == {"email"}


def test_reminder_offsets_come_from_the_organization(db, book, rows, world):
    world.org.reminder_offsets_minutes = [60 * 48, 30]
    db.session.commit()
    book()
    assert sorted({r.send_at for r in rows(template="booking_reminder")}) == [START - timedelta(days=2),
                                                                             START - timedelta(minutes=30)]


def test_reminders_already_in_the_past_are_not_written(book, rows):
    # Booked 3 hours ahead: the 24-hour reminder would be late; the 2-hour one is still to come.
    book(now=START - timedelta(hours=3))
    assert [r.send_at for r in rows(template="booking_reminder")] == [START - timedelta(hours=2)]


@pytest.mark.parametrize("ahead, expected", [
    (timedelta(hours=2, minutes=1), []),  # the 2-hour reminder would follow the confirmation by a minute
    (timedelta(hours=2, minutes=29), []),
    (timedelta(hours=2, minutes=30), [START - timedelta(hours=2)]),
    (timedelta(hours=24, minutes=10), [START - timedelta(hours=2)]),
])
def test_a_reminder_just_after_the_confirmation_is_not_written(book, rows, ahead, expected):
    """Issue 15, defect 15."""
    book(now=START - ahead)
    assert sorted({r.send_at for r in rows(template="booking_reminder")}) == expected


def test_a_refused_booking_writes_nothing(book, db):
    book()
    before = db.session.scalar(select(func.count()).select_from(Notification))
    with pytest.raises(SlotTaken):
        book(email="bob@example.com")  # the same slot: refused inside the transaction
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == before


def test_reschedule_moves_pending_reminders_and_writes_the_update(book, rows):
    result = book(phone="+447700900123")
    new_start = START + timedelta(days=1)
    reschedule_booking(result.booking.id, start_time=new_start, actor=Actor("staff"))
    old = [r for r in rows(template="booking_reminder") if r.booking_sequence == 0]
    new = [r for r in rows(template="booking_reminder") if r.booking_sequence == 1]
    assert {r.status for r in old} == {"cancelled"}
    assert all("rescheduled" in r.last_error for r in old)
    assert {r.status for r in new} == {"pending"}
    assert sorted({r.send_at for r in new}) == [new_start - timedelta(hours=24), new_start - timedelta(hours=2)]
    updates = rows(template="booking_update")
    assert summary(updates) == [("booking_update", "email", "pending"), ("booking_update", "sms", "pending")]
    assert all(u.booking_sequence == 1 for u in updates)
    # The update carries the old time, and the manage link from the confirmation (still sealed).
    assert updates[0].context["start_at"] == START.isoformat()
    assert unseal(updates[0].context["manage"]) == result.manage_token
    assert summary(rows(template="staff_booking_rescheduled")) == [("staff_booking_rescheduled", "email", "pending")]


def test_cancel_cancels_pending_reminders_and_writes_the_cancellation(book, rows):
    result = book(phone="+447700900123")
    cancel_booking(result.booking.id, actor=Actor("staff"), reason="Trainer is ill")
    assert {r.status for r in rows(template="booking_reminder")} == {"cancelled"}
    assert summary(rows(template="booking_cancellation")) == [("booking_cancellation", "email", "pending"),
                                                              ("booking_cancellation", "sms", "pending")]
    assert rows(template="booking_cancellation")[0].booking_sequence == 1
    assert len(rows(template="staff_booking_cancelled")) == 1


def test_idempotency_keys_are_unique_per_message(book, rows, db):
    result = book(phone="+447700900123")
    reschedule_booking(result.booking.id, start_time=START + timedelta(days=1), actor=Actor("staff"))
    keys = [r.idempotency_key for r in rows()]
    assert len(keys) == len(set(keys))
    # Writing the same message twice is refused by the database, not only by the code.
    first = rows(template="booking_confirmation")[0]
    db.session.add(Notification(organization_id=first.organization_id, booking_id=first.booking_id, channel="email",
                                template=first.template, recipient=first.recipient, send_at=first.send_at,
                                idempotency_key=first.idempotency_key, context={}))
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        db.session.commit()
    db.session.rollback()


def test_collective_bookings_notify_every_trainer_once_and_the_attendee_once(db, make_trainer, world, make_link, rows):
    from app.services.bookings import create_booking

    second = make_trainer(org=world.org, name="Sam Second", email="sam@atlas.example")
    link = make_link([world.trainer, second], [world.atype], type="collective")
    result = create_booking(link_slug=link.slug, start_time=START, attendee_name="Ann Attendee",
                            attendee_email="ann@example.com", actor=Actor("attendee"))
    group = db.session.scalars(select(Booking).where(Booking.group_id == result.booking.group_id)).all()
    assert len(group) == 2
    assert sorted(r.recipient for r in rows(template="staff_booking_created")) == sorted(
        [world.trainer.email, "sam@atlas.example"])
    assert len(rows(template="booking_confirmation")) == 1
    cancel_booking(group[1].id, actor=Actor("staff"))  # cancelling through the other row of the group
    assert len(rows(template="booking_cancellation")) == 1
    assert {r.status for r in rows(template="booking_reminder")} == {"cancelled"}


def test_a_reassignment_tells_the_old_trainer_it_is_gone_and_the_new_one_it_is_theirs(
        db, make_trainer, world, make_link, rows, smtp):
    """Issue 15, defect 7: the first trainer was never told, and the new one got "Booking moved" for
    a booking they never had."""
    from app.services import notifications
    from app.services.bookings import create_booking

    second = make_trainer(org=world.org, name="Sam Second", email="sam@atlas.example")
    team = make_link([world.trainer, second], [world.atype], type="round_robin")
    result = create_booking(link_slug=team.slug, start_time=START, attendee_name="Ann Attendee",
                            attendee_email="ann@example.com", actor=Actor("attendee"), staff_id=str(world.trainer.id))
    assert result.booking.staff_id == world.trainer.id
    notifications.process_due()
    reschedule_booking(result.booking.id, start_time=START + timedelta(hours=2), staff_id=str(second.id),
                       actor=Actor("staff"))
    notices = {(r.template, r.recipient) for r in rows() if r.template.startswith("staff_") and r.status == "pending"}
    assert notices == {("staff_booking_unassigned", world.trainer.email), ("staff_booking_assigned", second.email)}
    notifications.process_due()
    [gone] = smtp.inbox.to(world.trainer.email)[-1:]
    [theirs] = smtp.inbox.to(second.email)
    assert gone["Subject"].startswith("Booking moved to Sam Second: Ann Attendee")
    assert "no longer with you" in gone.get_body(("plain",)).get_content()
    assert theirs["Subject"].startswith("Booking moved to you: Ann Attendee")
    assert "which was with Terry Trainer, is now with you" in theirs.get_body(("plain",)).get_content()


def test_changing_the_reminder_settings_changes_the_reminders_already_scheduled(db, book, rows, world):
    """Issue 15, defect 9: turning reminders off or changing the offsets left the old rows to go out."""
    from app.services import team

    def pending():
        return sorted({(r.send_at, r.channel) for r in rows(template="booking_reminder", status="pending")})

    def settings(offsets):
        team.update_settings(world.org.id, name=world.org.name, timezone_name=world.org.timezone,
                             cancellation_cutoff_minutes=world.org.cancellation_cutoff_minutes or 0,
                             reminder_offsets_minutes=offsets)

    book(phone="+447700900123")
    day, two_hours = START - timedelta(hours=24), START - timedelta(hours=2)
    assert pending() == [(day, "email"), (day, "sms"), (two_hours, "email"), (two_hours, "sms")]
    settings([48 * 60, 120])  # the day-before reminder becomes two days before
    two_days = START - timedelta(hours=48)
    assert pending() == [(two_days, "email"), (two_days, "sms"), (two_hours, "email"), (two_hours, "sms")]
    settings([24 * 60])  # back to the day before (its cancelled rows come back), no 2-hour one
    assert pending() == [(day, "email"), (day, "sms")]
    settings([])  # reminders off
    assert pending() == []
    keys = [r.idempotency_key for r in rows()]
    assert len(keys) == len(set(keys))
