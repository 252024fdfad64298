"""Spots in a class: capacity, the waitlist and its promotions, cancelling, attendance (services)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from app.models import ClassAudit, ClassBooking, ClassSession, Client, Notification, Organization
from app.services import classes
from app.services.bookings import Actor
from app.services.errors import Conflict, InvalidRequest

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)
CUSTOMER = Actor("attendee")
STAFF = Actor("staff", id="staff-1")


def book(session, n, **kw):
    return classes.book_class(session_id=session.id, attendee_name=f"Person {n}",
                              attendee_email=f"person{n}@example.com", actor=CUSTOMER, now=kw.pop("now", NOW), **kw)


@pytest.fixture
def session(make_class_session, make_class_type):
    return make_class_session(ctype=make_class_type(capacity=3))


def statuses(db, session):
    db.session.expire_all()
    return dict(db.session.execute(select(ClassBooking.attendee_email, ClassBooking.status)
                                   .where(ClassBooking.session_id == session.id)).all())


def test_books_until_full_then_refuses_or_waitlists_in_order(db, session):
    results = [book(session, i) for i in range(3)]
    assert [r.spot.status for r in results] == ["confirmed"] * 3
    assert all(r.manage_token and r.waitlist_position is None for r in results)
    with pytest.raises(Conflict) as full:
        book(session, 3)
    assert full.value.code == "class_full"
    waiting = [book(session, i, join_waitlist=True) for i in range(3, 6)]
    assert [r.waitlist_position for r in waiting] == [1, 2, 3]
    assert [r.spot.status for r in waiting] == ["waitlisted"] * 3
    db.session.expire_all()
    assert db.session.get(ClassSession, session.id).booked_count == 3
    # one client per person, linked
    assert db.session.scalar(select(func.count()).select_from(Client)) == 6
    assert classes.waitlist_position(db.session.get(ClassBooking, waiting[2].spot.id)) == 3


def test_same_person_twice_is_already_booked_whatever_the_case(db, session):
    book(session, 1)
    with pytest.raises(Conflict) as again:
        classes.book_class(session_id=session.id, attendee_name="P", attendee_email="PERSON1@Example.com",
                           actor=CUSTOMER, now=NOW)
    assert again.value.code == "already_booked"


def test_a_freed_place_goes_to_the_first_person_waiting_in_the_same_transaction(db, session):
    booked = [book(session, i) for i in range(3)]
    first, second = book(session, 3, join_waitlist=True), book(session, 4, join_waitlist=True)
    classes.cancel_spot(booked[0].spot.id, actor=CUSTOMER, now=NOW)
    state = statuses(db, session)
    assert state["person0@example.com"] == "cancelled"
    assert state["person3@example.com"] == "confirmed"
    assert state["person4@example.com"] == "waitlisted"
    promoted = db.session.get(ClassBooking, first.spot.id)
    assert promoted.promoted_at is not None and promoted.waitlist_seq is None
    assert classes.waitlist_position(db.session.get(ClassBooking, second.spot.id)) == 1
    assert db.session.get(ClassSession, session.id).booked_count == 3
    templates = set(db.session.scalars(select(Notification.template).where(
        Notification.class_booking_id == first.spot.id)))
    assert {"class_waitlisted", "class_promoted", "class_reminder"} <= templates
    assert db.session.scalar(select(func.count()).select_from(ClassAudit).where(
        ClassAudit.class_booking_id == first.spot.id, ClassAudit.action == "promoted")) == 1


def test_nobody_is_promoted_inside_the_waitlist_cutoff(db, session):
    [book(session, i) for i in range(3)]
    book(session, 3, join_waitlist=True)
    late = session.start_at - timedelta(minutes=119)  # default cutoff: 2 hours
    spot = db.session.scalars(select(ClassBooking).where(ClassBooking.attendee_email == "person0@example.com")).one()
    classes.cancel_spot(spot.id, actor=CUSTOMER, now=late)
    state = statuses(db, session)
    assert state["person3@example.com"] == "waitlisted"
    assert db.session.get(ClassSession, session.id).booked_count == 2  # the place stays open
    cancelled = db.session.get(ClassBooking, spot.id)
    assert cancelled.cancel_kind == "late"  # inside the 12-hour late-cancel window
    assert book(session, 9, now=late).spot.status == "confirmed"  # the open place is anyone's who books it
    with pytest.raises(Conflict) as closed:
        book(session, 10, join_waitlist=True, now=late)  # full again, and the waitlist has closed
    assert closed.value.code == "class_full" and closed.value.details["waitlist_open"] is False


def test_the_database_refuses_more_places_than_the_capacity(db, session):
    with pytest.raises(IntegrityError):
        db.session.execute(update(ClassSession).where(ClassSession.id == session.id)
                           .values(booked_count=ClassSession.capacity + 1))
        db.session.flush()
    db.session.rollback()


def test_one_live_spot_per_person_is_held_by_the_database(db, session):
    book(session, 1)
    db.session.add(ClassBooking(organization_id=session.organization_id, session_id=session.id, status="waitlisted",
                                waitlist_seq=99, attendee_name="X", attendee_email="person1@example.com",
                                email_key="person1@example.com"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
