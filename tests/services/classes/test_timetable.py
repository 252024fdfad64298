"""The timetable: series materialised at local wall time across DST, instructor clashes, series edits
that ask before touching booked sessions, single-session changes, and classes as busy time."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.models import AvailabilityOverride, ClassBooking, ClassSeries, ClassSession, Holiday, Notification, Organization
from app.services import classes
from app.services.bookings import Actor
from app.services.errors import Conflict, InvalidRequest

LONDON = ZoneInfo("Europe/London")
STAFF = Actor("staff", id="owner")
CUSTOMER = Actor("attendee")
# Thursday 2030-03-21; the clocks go forward on Sunday 2030-03-31 in London.
NOW = datetime(2030, 3, 21, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def gym(make_org, make_user, make_class_type):
    org = make_org(timezone="Europe/London")
    sam = make_user(org=org, name="Sam")
    spin = make_class_type(org=org, name="Spin", duration_minutes=45, capacity=3)
    return org, sam, spin


def series(gym, **kw):
    org, sam, spin = gym
    values = dict(actor=STAFF, class_type_id=spin.id, instructor_id=sam.id, weekdays=[1, 3], start_time=time(7, 0),
                  first_date=date(2030, 3, 21), now=NOW)
    values.update(kw)
    return classes.create_series(org.id, **values)


def sessions_of(db, entry):
    db.session.expire_all()
    return list(db.session.scalars(select(ClassSession).where(ClassSession.series_id == entry.id)
                                   .order_by(ClassSession.start_at)))


def test_a_0700_class_stays_at_0700_local_across_the_change_of_clocks(db, gym):
    entry = series(gym)
    rows = sessions_of(db, entry)
    # Mondays and Wednesdays for 12 weeks from 21 March: 24 sessions (the first Monday is 25 March).
    assert len(rows) == 24
    assert {r.start_at.astimezone(LONDON).time() for r in rows} == {time(7, 0)}
    before = next(r for r in rows if r.occurrence_date == date(2030, 3, 27))
    after = next(r for r in rows if r.occurrence_date == date(2030, 4, 1))
    assert before.start_at == datetime(2030, 3, 27, 7, 0, tzinfo=timezone.utc)  # GMT
    assert after.start_at == datetime(2030, 4, 1, 6, 0, tzinfo=timezone.utc)    # BST
    assert all(r.end_at - r.start_at == timedelta(minutes=45) for r in rows)
    assert all(r.capacity == 3 and r.status == "scheduled" for r in rows)


def test_a_class_in_the_spring_forward_gap_starts_when_the_gap_ends(db, gym):
    entry = series(gym, weekdays=[0], start_time=time(1, 30))  # Sundays 01:30
    gap_day = next(r for r in sessions_of(db, entry) if r.occurrence_date == date(2030, 3, 31))
    assert gap_day.start_at.astimezone(LONDON).time() == time(2, 0)  # 01:30 does not exist that night


def test_making_sessions_again_makes_none_twice(db, gym):
    entry = series(gym)
    assert classes.extend_timetables(now=NOW) == 0
    assert classes.extend_timetables(now=NOW + timedelta(days=7)) == 2  # the horizon rolled a week
    assert len(sessions_of(db, entry)) == 26


def test_a_series_over_the_instructors_bookings_and_time_off_is_refused_with_the_clashes(db, gym, make_booking):
    org, sam, _ = gym
    make_booking(staff=sam, start=datetime(2030, 3, 25, 7, 30, tzinfo=timezone.utc), minutes=60)
    db.session.add(AvailabilityOverride(organization_id=org.id, user_id=sam.id, date=date(2030, 4, 3),
                                        type="unavailable", reason="Dentist"))
    db.session.add(Holiday(organization_id=org.id, name="Easter Monday", date=date(2030, 4, 22)))
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        series(gym)
    assert refused.value.code == "instructor_busy"
    kinds = {(c["what"], c["session_start"][:10]) for c in refused.value.details["clashes"]}
    assert kinds == {("booking", "2030-03-25"), ("time off", "2030-04-03"), ("holiday", "2030-04-22")}
    assert db.session.scalar(select(func.count()).select_from(ClassSeries)) == 0
    entry = series(gym, skip_clashes=True)
    assert len(sessions_of(db, entry)) == 21
    assert sorted(s["date"] for s in entry.skipped) == ["2030-03-25", "2030-04-03", "2030-04-22"]


def test_a_class_is_busy_time_for_its_instructor(db, gym, make_appointment_type):
    from app.services.scheduling import load_schedules

    org, sam, _ = gym
    series(gym)
    schedules = load_schedules([sam], datetime(2030, 3, 25, tzinfo=timezone.utc), datetime(2030, 3, 26, tzinfo=timezone.utc),
                               now=NOW)
    held = [(b.start, b.end) for b in schedules[0].bookings]
    assert (datetime(2030, 3, 25, 7, 0, tzinfo=timezone.utc), datetime(2030, 3, 25, 7, 45, tzinfo=timezone.utc)) in held


def test_a_new_class_raises_the_booking_version(db, gym):
    org = gym[0]
    version = db.session.get(Organization, org.id).booking_version
    series(gym)
    db.session.expire_all()
    assert db.session.get(Organization, org.id).booking_version > version


def test_editing_a_series_asks_before_touching_booked_sessions(db, gym):
    org, sam, spin = gym
    entry = series(gym)
    first = sessions_of(db, entry)[0]
    classes.book_class(session_id=first.id, attendee_name="Ann", attendee_email="ann@example.com", actor=CUSTOMER,
                       now=NOW)
    edit = dict(actor=STAFF, class_type_id=spin.id, instructor_id=sam.id, weekdays=[1, 3], start_time=time(8, 0),
                first_date=date(2030, 3, 21), now=NOW)
    with pytest.raises(Conflict) as asked:
        classes.update_series(org.id, entry.id, **edit)
    assert asked.value.code == "sessions_booked"
    assert [s["id"] for s in asked.value.details["sessions"]] == [str(first.id)]
    classes.update_series(org.id, entry.id, booked="keep", **edit)
    rows = sessions_of(db, entry)
    kept = next(r for r in rows if r.id == first.id)
    assert kept.start_at.astimezone(LONDON).time() == time(7, 0) and kept.detached
    assert {r.start_at.astimezone(LONDON).time() for r in rows if r.id != first.id} == {time(8, 0)}
    # the kept session is left alone by later edits too, and nobody was told anything
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.template == "class_session_changed")) == 0


def test_changing_booked_sessions_tells_everyone_in_them(db, gym):
    org, sam, spin = gym
    entry = series(gym)
    first = sessions_of(db, entry)[0]
    spot = classes.book_class(session_id=first.id, attendee_name="Ann", attendee_email="ann@example.com",
                              actor=CUSTOMER, now=NOW).spot
    classes.update_series(org.id, entry.id, actor=STAFF, class_type_id=spin.id, instructor_id=sam.id, weekdays=[1, 3],
                          start_time=time(8, 0), first_date=date(2030, 3, 21), booked="change", now=NOW)
    db.session.expire_all()
    moved = db.session.get(ClassSession, first.id)
    assert moved.start_at.astimezone(LONDON).time() == time(8, 0) and moved.sequence == 1
    sent = db.session.scalars(select(Notification.template).where(Notification.class_booking_id == spot.id)).all()
    assert "class_session_changed" in sent


def test_ending_a_series_removes_empty_sessions_and_asks_about_booked_ones(db, gym):
    org, _, _ = gym
    entry = series(gym)
    first = sessions_of(db, entry)[0]
    classes.book_class(session_id=first.id, attendee_name="Ann", attendee_email="ann@example.com", actor=CUSTOMER,
                       now=NOW)
    with pytest.raises(Conflict):
        classes.end_series(org.id, entry.id, actor=STAFF, now=NOW)
    classes.end_series(org.id, entry.id, actor=STAFF, booked="change", now=NOW)
    rows = sessions_of(db, entry)
    assert [(r.id, r.status) for r in rows] == [(first.id, "cancelled")]
    assert db.session.get(ClassBooking, db.session.scalars(select(ClassBooking.id)).one()).cancel_kind == \
        "session_cancelled"


def test_one_session_changed_on_its_own(db, gym, make_user):
    org, sam, _ = gym
    entry = series(gym)
    target = sessions_of(db, entry)[0]
    people = [classes.book_class(session_id=target.id, attendee_name=f"P{i}", attendee_email=f"p{i}@example.com",
                                 actor=CUSTOMER, join_waitlist=True, now=NOW) for i in range(5)]
    assert [p.spot.status for p in people].count("waitlisted") == 2
    with pytest.raises(InvalidRequest):
        classes.change_session(org.id, target.id, actor=STAFF, capacity=2, now=NOW)
    alex = make_user(org=org, name="Alex")
    changed = classes.change_session(org.id, target.id, actor=STAFF, instructor_id=alex.id, capacity=4, now=NOW)
    assert changed.instructor_id == alex.id and changed.detached and changed.booked_count == 4
    db.session.expire_all()
    waiting = db.session.scalars(select(ClassBooking).where(ClassBooking.status == "waitlisted")).all()
    assert [w.attendee_email for w in waiting] == ["p4@example.com"]  # p3 was promoted into the new place
    # the others in the series still have Sam
    assert {r.instructor_id for r in sessions_of(db, entry) if r.id != target.id} == {sam.id}


def test_a_substitute_must_be_free(db, gym, make_user, make_booking):
    org, _, _ = gym
    entry = series(gym)
    target = sessions_of(db, entry)[0]
    alex = make_user(org=org, name="Alex")
    make_booking(staff=alex, start=target.start_at, minutes=30)
    with pytest.raises(Conflict) as busy:
        classes.change_session(org.id, target.id, actor=STAFF, instructor_id=alex.id, now=NOW)
    assert busy.value.code == "instructor_busy" and busy.value.details["clashes"][0]["what"] == "booking"


def test_cancelling_a_session_tells_everyone_booked_or_waiting(db, gym):
    org, _, _ = gym
    entry = series(gym)
    target = sessions_of(db, entry)[0]
    spots = [classes.book_class(session_id=target.id, attendee_name=f"P{i}", attendee_email=f"p{i}@example.com",
                                actor=CUSTOMER, join_waitlist=True, now=NOW).spot for i in range(4)]
    classes.cancel_session(org.id, target.id, actor=STAFF, reason="Instructor ill", now=NOW)
    db.session.expire_all()
    session = db.session.get(ClassSession, target.id)
    assert session.status == "cancelled" and session.booked_count == 0
    assert {db.session.get(ClassBooking, s.id).cancel_kind for s in spots} == {"session_cancelled"}
    told = db.session.scalars(select(Notification.class_booking_id).where(
        Notification.template == "class_session_cancelled", Notification.channel == "email")).all()
    assert sorted(map(str, told)) == sorted(str(s.id) for s in spots)
    pending_reminders = db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.template == "class_reminder", Notification.status == "pending"))
    assert pending_reminders == 0
    with pytest.raises(Conflict):
        classes.book_class(session_id=target.id, attendee_name="Z", attendee_email="z@example.com", actor=CUSTOMER,
                           now=NOW)


def test_sessions_between_counts_waitlists(db, gym):
    org, _, _ = gym
    entry = series(gym)
    target = sessions_of(db, entry)[0]
    for i in range(5):
        classes.book_class(session_id=target.id, attendee_name=f"P{i}", attendee_email=f"p{i}@example.com",
                           actor=CUSTOMER, join_waitlist=True, now=NOW)
    start, end = classes.local_week(db.session.get(Organization, org.id), date(2030, 3, 25))
    rows = classes.sessions_between(org.id, start, end)
    assert [r.session.occurrence_date for r in rows] == [date(2030, 3, 25), date(2030, 3, 27)]
    assert (rows[0].session.booked_count, rows[0].waitlist_length, rows[0].spots_left) == (3, 2, 0)
    assert classes.sessions_between(_other_org(db), start, end) == []


def _other_org(db):
    other = Organization(slug="other-gym", name="Other")
    db.session.add(other)
    db.session.commit()
    return other.id
