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


def test_cancelling_in_time_is_not_late_and_late_inside_the_window(db, session):
    early, late = book(session, 1), book(session, 2)
    classes.cancel_spot(early.spot.id, actor=CUSTOMER, now=session.start_at - timedelta(hours=13))
    classes.cancel_spot(late.spot.id, actor=CUSTOMER, now=session.start_at - timedelta(hours=11))
    db.session.expire_all()
    assert db.session.get(ClassBooking, early.spot.id).cancel_kind == "customer"
    assert db.session.get(ClassBooking, late.spot.id).cancel_kind == "late"
    with pytest.raises(Conflict) as twice:
        classes.cancel_spot(late.spot.id, actor=CUSTOMER, now=NOW)
    assert twice.value.code == "booking_cancelled"


def test_leaving_the_waitlist_closes_the_gap_in_positions(db, session):
    [book(session, i) for i in range(3)]
    waiting = [book(session, i, join_waitlist=True) for i in range(3, 6)]
    classes.cancel_spot(waiting[0].spot.id, actor=CUSTOMER, now=NOW)
    db.session.expire_all()
    left = db.session.get(ClassBooking, waiting[0].spot.id)
    assert (left.status, left.cancel_kind, left.waitlist_seq) == ("cancelled", "left_waitlist", None)
    assert [classes.waitlist_position(db.session.get(ClassBooking, w.spot.id)) for w in waiting[1:]] == [1, 2]
    assert db.session.get(ClassSession, session.id).booked_count == 3
    # leaving the list yourself is not news to send you
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.class_booking_id == left.id, Notification.template == "class_spot_cancelled")) == 0


def test_customers_cannot_cancel_once_the_class_has_started_staff_can_remove_until_it_ends(db, session):
    a, b = book(session, 1), book(session, 2)
    with pytest.raises(Conflict) as started:
        classes.cancel_spot(a.spot.id, actor=CUSTOMER, now=session.start_at + timedelta(minutes=1))
    assert started.value.code == "session_started"
    classes.cancel_spot(b.spot.id, actor=STAFF, removed=True, now=session.start_at + timedelta(minutes=1))
    db.session.expire_all()
    assert db.session.get(ClassBooking, b.spot.id).cancel_kind == "removed"


def test_attendance_from_two_hours_before_and_the_place_stays_held(db, session):
    spot = book(session, 1).spot
    with pytest.raises(Conflict) as early:
        classes.set_attendance(session.organization_id, spot.id, "attended", actor=STAFF, now=NOW)
    assert early.value.code == "too_early"
    at = session.start_at + timedelta(minutes=5)
    marked = classes.set_attendance(session.organization_id, spot.id, "no_show", actor=STAFF, now=at)
    assert marked.status == "no_show"
    marked = classes.set_attendance(session.organization_id, spot.id, "attended", actor=STAFF, now=at)
    assert marked.status == "attended" and marked.checked_in_at == at
    db.session.expire_all()
    assert db.session.get(ClassSession, session.id).booked_count == 1
    with pytest.raises(InvalidRequest):
        classes.set_attendance(session.organization_id, spot.id, "cancelled", actor=STAFF, now=at)


def test_the_backstop_promotes_into_free_places_and_closes_started_waitlists(db, session, make_class_session):
    [book(session, i) for i in range(3)]
    waiting = book(session, 3, join_waitlist=True).spot
    # a place freed behind the services' back (as if a promotion had been impossible when it freed)
    db.session.execute(update(ClassSession).where(ClassSession.id == session.id).values(capacity=4))
    db.session.commit()
    assert classes.promote_waitlists(now=NOW) == {"promoted": 1, "waitlists_closed": 0}
    assert classes.promote_waitlists(now=NOW) == {"promoted": 0, "waitlists_closed": 0}  # never twice
    db.session.expire_all()
    assert db.session.get(ClassBooking, waiting.id).status == "confirmed"
    other = make_class_session(ctype=session.class_type, capacity=1,
                               start=session.start_at + timedelta(days=1))
    book(other, 7)
    still = book(other, 8, join_waitlist=True).spot
    result = classes.promote_waitlists(now=other.start_at + timedelta(minutes=1))
    assert result["waitlists_closed"] == 1
    db.session.expire_all()
    assert db.session.get(ClassBooking, still.id).cancel_kind == "waitlist_closed"


def test_bad_input_is_refused_clearly(db, session):
    with pytest.raises(InvalidRequest):
        classes.book_class(session_id="not-a-uuid", attendee_name="A", attendee_email="a@example.com", actor=CUSTOMER,
                           now=NOW)
    with pytest.raises(InvalidRequest):
        classes.book_class(session_id=session.id, attendee_name="\x00\x01", attendee_email="a@example.com",
                           actor=CUSTOMER, now=NOW)
    with pytest.raises(InvalidRequest):
        classes.book_class(session_id=session.id, attendee_name="Ann", attendee_email="nope", actor=CUSTOMER, now=NOW)
    assert db.session.scalar(select(func.count()).select_from(ClassBooking)) == 0


def test_another_organizations_session_is_not_found(db, session, make_org):
    from app.services.errors import NotFound

    with pytest.raises(NotFound):
        classes.book_class(session_id=session.id, attendee_name="A", attendee_email="a@example.com", actor=CUSTOMER,
                           org_id=make_org().id, now=NOW)


@pytest.mark.postgres_only
def test_concurrent_bookings_never_exceed_the_capacity(app, db, make_class_session, make_class_type):
    """Forty threads, each with its own connection, at a session of five places."""
    from concurrent.futures import ThreadPoolExecutor

    target = make_class_session(ctype=make_class_type(capacity=5))

    def one(i):
        with app.app_context():
            try:
                result = classes.book_class(session_id=target.id, attendee_name=f"R{i}",
                                            attendee_email=f"r{i}@example.com", actor=CUSTOMER, join_waitlist=True,
                                            now=NOW)
                return result.spot.status, result.waitlist_position
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(40)))
    assert sum(1 for status, _ in results if status == "confirmed") == 5
    assert sorted(p for status, p in results if status == "waitlisted") == list(range(1, 36))
    db.session.expire_all()
    assert db.session.get(ClassSession, target.id).booked_count == 5
