"""Staff bookings through create_booking: "don't notify", the owners' override of working hours (never
over another booking — on PostgreSQL the database refuses it too), and the page staff.py books on."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.models import AvailabilityOverride, Booking, BookingAudit, Notification
from app.services.bookings import (
    Actor,
    SlotTaken,
    booking_page_for,
    create_booking,
    staff_booking_services,
    staff_free_times,
)
from app.services.bookings import create as create_module
from app.services.errors import Conflict, InvalidRequest

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # Sunday; London is UTC+0 in January
MONDAY = date(2030, 1, 7)
MON_9 = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)
ATTENDEE = Actor("attendee", ip="203.0.113.5")


@pytest.fixture
def world(db, make_org, make_trainer, make_appointment_type, make_link):
    org = make_org(slug="gym", timezone="Europe/London")
    alex = make_trainer(org=org, name="Alex")
    sam = make_trainer(org=org, name="Sam")
    pt = make_appointment_type(org=org, name="PT", duration_minutes=60, buffer_after_minutes=15,
                               booking_window_days=7, min_notice_minutes=60)
    make_link([alex], [pt], slug="pt")
    make_link([alex, sam], [pt], type="round_robin", slug="team")
    make_link([alex, sam], [pt], type="collective", slug="duo")
    staff = Actor("staff", id=str(alex.id))
    return type("World", (), dict(org=org, alex=alex, sam=sam, pt=pt, staff=staff))


def book(world, start=MON_9, link="pt", **kw):
    values = dict(link_slug=link, start_time=start, attendee_name="Jane Smith", attendee_email="jane@example.com",
                  attendee_phone="07700 900123", actor=world.staff, staff_id=str(world.alex.id), source="dashboard",
                  now=NOW)
    values.update(kw)
    return create_booking(**values)


def notifications(db, booking) -> set[tuple[str, str]]:
    return {(n.template, n.channel) for n in db.session.scalars(
        select(Notification).where(Notification.booking_id == booking.id))}


def audit_after(db, booking) -> dict:
    return db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).one().after


def test_notify_sends_confirmation_and_reminders(db, world):
    booking = book(world).booking
    sent = notifications(db, booking)
    assert {("booking_confirmation", "email"), ("booking_confirmation", "sms"),
            ("staff_booking_created", "email")} <= sent
    assert ("booking_reminder", "email") in sent
    assert "client_notified" not in audit_after(db, booking)


def test_dont_notify_skips_the_client_but_not_the_trainer(db, world):
    booking = book(world, notify=False).booking
    assert notifications(db, booking) == {("staff_booking_created", "email")}
    after = audit_after(db, booking)
    assert after["client_notified"] is False and "outside_hours" not in after


def test_override_outside_hours_is_booked_and_audited(db, world):
    evening = MON_9.replace(hour=19, minute=10)  # Alex works 09:00–17:00; off the hourly grid too
    with pytest.raises(SlotTaken):
        book(world, start=evening)
    booking = book(world, start=evening, outside_hours=True).booking
    assert (booking.start_at, booking.staff_id) == (evening, world.alex.id)
    after = audit_after(db, booking)
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).one()
    assert after["outside_hours"] is True and (audit.actor_type, audit.actor_id) == ("staff", str(world.alex.id))


def test_override_waives_notice_window_days_off_and_holidays(db, world):
    soon = NOW + timedelta(minutes=10)  # inside the hour's notice, on a Sunday
    with pytest.raises(Conflict):
        book(world, start=soon)
    assert book(world, start=soon, outside_hours=True).booking.start_at == soon
    far = MON_9 + timedelta(days=21)  # past the 7-day window
    assert book(world, start=far, outside_hours=True, attendee_email="far@example.com").booking.start_at == far
    db.session.add(AvailabilityOverride(organization_id=world.org.id, user_id=world.alex.id, date=MONDAY,
                                        type="unavailable", reason="Off"))
    db.session.commit()
    day_off = MON_9.replace(hour=13)
    with pytest.raises(SlotTaken):
        book(world, start=day_off, attendee_email="off@example.com")
    assert book(world, start=day_off, outside_hours=True, attendee_email="off@example.com").created


def test_override_never_books_the_past_or_over_another_booking(db, world):
    first = book(world).booking  # 09:00–10:00, 15 minutes' buffer after
    for start in (MON_9 + timedelta(minutes=30), MON_9 + timedelta(minutes=70), MON_9 - timedelta(minutes=45)):
        with pytest.raises(SlotTaken):
            book(world, start=start, outside_hours=True, attendee_email="late@example.com")
    with pytest.raises(Conflict):
        book(world, start=NOW - timedelta(hours=1), outside_hours=True, attendee_email="late@example.com")
    assert db.session.scalars(select(Booking.id)).all() == [first.id]
    # Just clear of the buffer: fine.
    assert book(world, start=MON_9 + timedelta(minutes=75), outside_hours=True, attendee_email="late@example.com").created


@pytest.mark.postgres_only
def test_the_database_refuses_an_override_over_another_booking(db, world, monkeypatch):
    """Were the check in Python wrong (or raced), PostgreSQL's exclusion constraint still refuses it."""
    book(world)
    real = create_module.engine.find_slot_at

    def blind(schedules, spec, start, *, now, mode):  # sees no bookings at all
        from dataclasses import replace
        return real([replace(s, bookings=()) for s in schedules], spec, start, now=now, mode=mode)

    monkeypatch.setattr(create_module.engine, "find_slot_at", blind)
    with pytest.raises(SlotTaken):
        book(world, start=MON_9 + timedelta(minutes=30), outside_hours=True, attendee_email="late@example.com")
    assert len(db.session.scalars(select(Booking.id)).all()) == 1


def test_only_staff_override_and_only_for_a_named_trainer(db, world):
    evening = MON_9.replace(hour=19)
    with pytest.raises(InvalidRequest) as refused:
        book(world, start=evening, outside_hours=True, actor=ATTENDEE)
    assert "outside_hours" in refused.value.fields
    with pytest.raises(InvalidRequest) as unnamed:
        book(world, link="team", start=evening, outside_hours=True, staff_id=None)
    assert "staff_id" in unnamed.value.fields
    with pytest.raises(InvalidRequest):
        book(world, link="duo", start=evening, outside_hours=True)


def test_the_page_staff_book_on(db, world, make_org, make_appointment_type):
    [choice] = staff_booking_services(world.org.id)
    assert choice.name == "PT" and choice.team and {name for _, name in choice.trainers} == {"Alex", "Sam"}
    assert booking_page_for(world.org.id, world.pt.id, world.alex.id) == "pt"  # one-trainer page first
    assert booking_page_for(world.org.id, world.pt.id, world.sam.id) == "team"
    assert booking_page_for(world.org.id, world.pt.id, None) == "team"
    elsewhere = make_appointment_type(org=make_org(), name="Theirs")
    with pytest.raises(InvalidRequest) as exc:
        booking_page_for(world.org.id, elsewhere.id, None)
    assert "service" in exc.value.fields
    with pytest.raises(InvalidRequest):
        booking_page_for(world.org.id, world.pt.id, elsewhere.organization_id)  # not a trainer here


def test_whoever_is_free_takes_the_free_trainer(db, world):
    book(world)  # Alex at 09:00
    times = staff_free_times(world.org.id, world.pt.id, None, MONDAY, now=NOW)
    assert MON_9 in {slot.start for slot in times.slots}
    result = book(world, link=booking_page_for(world.org.id, world.pt.id, None), staff_id=None,
                  attendee_email="bob@example.com")
    assert result.booking.staff_id == world.sam.id
