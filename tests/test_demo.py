"""flask seed-demo: the spec's Atlas Fitness example, idempotent."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select

from app.models import (
    AppointmentType,
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    BookingLink,
    Holiday,
    Organization,
    User,
)


def _counts(db) -> dict:
    return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables}


def test_seed_demo_builds_the_spec_example(runner, db):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "owner@atlas-fitness.example" in result.output
    assert "http://localhost/" in result.output

    org = db.session.scalars(select(Organization).filter_by(slug="atlas-fitness")).one()
    assert org.timezone == "Europe/London"
    assert org.phone.startswith("+44") and "London" in org.postal_address and org.contact_email
    trainers = db.session.scalars(select(User).filter_by(organization_id=org.id, role="staff")).all()
    assert len(trainers) >= 3
    for trainer in trainers:
        rules = db.session.scalars(select(AvailabilityRule).filter_by(user_id=trainer.id)).all()
        assert len({r.day_of_week for r in rules}) >= 5  # works most of the week
        assert all(r.start_time < r.end_time for r in rules)
    # Gym hours, not office hours: someone opens up early and someone stays for the evening.
    rules = db.session.scalars(select(AvailabilityRule)).all()
    assert min(r.start_time for r in rules) <= time(7) and max(r.end_time for r in rules) >= time(19)
    owner = db.session.scalars(select(User).filter_by(role="owner")).one()
    assert owner.check_password("atlas-demo") and not owner.check_password("wrong")

    types = {t.name: t for t in db.session.scalars(select(AppointmentType)).all()}
    assert types["Gym Consultation"].duration_minutes == 30
    assert types["Sports Massage"].duration_minutes == 45
    assert all(t.slot_interval_minutes in (15, 30) for t in types.values())
    pt = types["Personal Training Session"]
    assert (pt.duration_minutes, pt.buffer_after_minutes, pt.price_pennies) == (60, 15, 5000)

    links = {link.slug: link for link in db.session.scalars(select(BookingLink)).all()}
    assert links["gym-consultation"].type == "round_robin"
    assert len(links["gym-consultation"].staff) == len(trainers)
    assert links["fitness-assessment"].type == "collective"  # a team service
    assert links["personal-training"].type == "individual"
    assert len(links["personal-training"].staff) == 1
    assert all(link.is_public and link.branding is not None for link in links.values())

    christmas = db.session.scalars(select(Holiday).filter_by(name="Christmas Day")).one()
    assert (christmas.date.month, christmas.date.day) == (12, 25) and christmas.affects_all_staff
    day_off = db.session.scalars(select(AvailabilityOverride)).one()
    assert day_off.type == "unavailable" and day_off.reason == "Personal day off"
    bookings = db.session.scalars(select(Booking)).all()
    assert len(bookings) >= 5
    assert {b.status for b in bookings} >= {"confirmed", "cancelled"}


def test_seed_demo_twice_changes_nothing(runner, db):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    before = _counts(db)
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0
    assert "0 rows created" in result.output
    assert _counts(db) == before


def test_seed_demo_bookings_avoid_weekends_and_overlaps(db):
    from app.services.demo import seed_demo

    seed_demo(today=date(2030, 3, 8))  # a Friday: bookings must land on the next weekdays
    bookings = db.session.scalars(select(Booking).where(Booking.status.in_(["confirmed", "pending"]))).all()
    for b in bookings:
        assert b.start_at.weekday() < 5
    by_staff: dict = {}
    for b in bookings:
        by_staff.setdefault(b.staff_id, []).append((b.start_at, b.end_at))
    for spans in by_staff.values():
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))


def test_seed_demo_fills_a_real_week_around_today(db):
    """Finished sessions (and a no-show) behind today, confirmed ones ahead, on most of the team."""
    from app.services.demo import seed_demo

    now = datetime(2030, 3, 6, 12, 0, tzinfo=timezone.utc)  # a Wednesday lunchtime
    seed_demo(now=now)
    bookings = db.session.scalars(select(Booking)).all()
    past = [b for b in bookings if b.end_at <= now]
    ahead = [b for b in bookings if b.start_at > now]
    assert {b.status for b in past} == {"completed", "no_show"}
    assert {b.status for b in ahead} == {"confirmed", "cancelled"}
    assert len(ahead) >= 20 and len({b.staff_id for b in ahead}) >= 4
    assert any(b.group_id for b in bookings)  # the team service, one row per member of staff
    assert {b.start_at.date() for b in bookings} >= {date(2030, 3, 4), date(2030, 3, 5), date(2030, 3, 7)}


def test_seed_demo_gives_every_trainer_several_bookable_hours_on_a_weekday(db):
    """What the booking pages would offer on an ordinary Tuesday of the seeded fortnight: each trainer
    has hours to book into, and a full hour's session fits into several of them."""
    from app.services.demo import seed_demo
    from app.services.scheduling import search_slots

    now = datetime(2030, 3, 4, 8, 0, tzinfo=timezone.utc)  # a Monday morning; bookings fill the week
    day = date(2030, 3, 5)
    seed_demo(now=now)
    types = {t.name: t for t in db.session.scalars(select(AppointmentType)).all()}
    trainers = db.session.scalars(select(User).filter_by(role="staff")).all()
    for trainer in trainers:
        consult = search_slots(link_slug="gym-consultation", date_=day, staff_id=str(trainer.id),
                               appointment_type_id=str(types["Gym Consultation"].id), now=now, use_cache=False)
        hours = {(s.start.hour, s.start.minute // 60) for s in consult.slots if s.staff_id == str(trainer.id)}
        assert len(hours) >= 3, (trainer.name, hours)
    for slug, atype in (("personal-training-any-coach", "Personal Training Session"),
                        ("sports-massage", "Sports Massage")):
        link = db.session.scalars(select(BookingLink).filter_by(slug=slug)).one()
        for trainer in link.staff:
            found = search_slots(link_slug=slug, date_=day, staff_id=str(trainer.id),
                                 appointment_type_id=str(types[atype].id), now=now, use_cache=False)
            starts = [s.start for s in found.slots if s.staff_id == str(trainer.id)]
            assert len(starts) >= 3, (trainer.name, atype, starts)


# --- classes (issue 18 item 13) ---------------------------------------------------------------------

def _local(instant: datetime):
    from zoneinfo import ZoneInfo

    return instant.astimezone(ZoneInfo("Europe/London"))


def test_seed_demo_has_a_week_of_every_class_with_one_full_and_three_waiting(db):
    """Six classes as the spec describes them, on weekly entries taught by the demo coaches at the
    times a gym runs classes, with sessions of every class this week and over the horizon; the week
    ahead booked, one class full with a waitlist of three — all without a single message. A coach is
    never in a class and a one-to-one session (with its buffers) at once, nor in two classes, and the
    classes keep their local times across the change of clocks (31 March 2030)."""
    from app.models import ClassBooking, ClassSeries, ClassSession, ClassType, Notification
    from app.services import classes
    from app.services.demo import TIMETABLE, seed_demo

    now = datetime(2030, 4, 10, 11, 0, tzinfo=timezone.utc)  # a Wednesday lunchtime; four weeks back is GMT
    org = seed_demo(now=now).org
    types = {t.name: t for t in db.session.scalars(select(ClassType).filter_by(organization_id=org.id))}
    assert {name: (t.duration_minutes, t.capacity) for name, t in types.items()} == {
        "Spin": (45, 20), "HIIT": (30, 16), "Yoga": (60, 24), "Reformer Pilates": (50, 8), "Boxfit": (45, 14),
        "Mobility": (30, 12)}
    trainers = {u.id for u in db.session.scalars(select(User).filter_by(organization_id=org.id, role="staff"))}
    series = db.session.scalars(select(ClassSeries).filter_by(organization_id=org.id)).all()
    assert {s.instructor_id for s in series} == trainers  # every coach teaches
    sessions = db.session.scalars(select(ClassSession).filter_by(organization_id=org.id)).all()
    # This week (Monday 8 to Sunday 14 April, London): every class, before and after now.
    week = [s for s in sessions if date(2030, 4, 8) <= _local(s.start_at).date() <= date(2030, 4, 14)]
    assert {s.class_type_id for s in week} == {t.id for t in types.values()}
    assert any(s.start_at < now for s in week) and any(s.start_at > now for s in week)
    starts = {_local(s.start_at).time() for s in sessions}
    assert min(starts) <= time(6, 30) and max(starts) >= time(19)  # early risers and after work
    assert any(time(12) <= t <= time(13) for t in starts)  # and lunchtimes
    assert all(s.series_id is not None and s.capacity == next(
        t.capacity for t in types.values() if t.id == s.class_type_id) for s in sessions)
    assert max(s.start_at for s in sessions) >= now + timedelta(weeks=11)  # the timetable's horizon
    # At the timetable's wall times in GMT (March) and BST (April) alike.
    planned = {(day, time.fromisoformat(at)) for _, _, days, at in TIMETABLE for day in days}
    assert {(_local(s.start_at).isoweekday() % 7, _local(s.start_at).time()) for s in sessions} <= planned
    assert any(s.start_at < datetime(2030, 3, 31, tzinfo=timezone.utc) for s in sessions)

    # The week ahead is booked: one class full with three people waiting, several nearly full.
    ahead = [s for s in sessions if now < s.start_at < now + timedelta(days=7)]
    full = [s for s in ahead if s.booked_count == s.capacity]
    assert len(full) == 1
    waiting = db.session.scalars(select(ClassBooking).where(
        ClassBooking.session_id == full[0].id, ClassBooking.status == "waitlisted")
        .order_by(ClassBooking.waitlist_seq)).all()
    assert [classes.waitlist_position(spot) for spot in waiting] == [1, 2, 3]
    assert classes.waitlist_open(full[0], org, now)  # people can still join it, and be promoted
    assert len([s for s in ahead if s is not full[0] and s.booked_count >= 0.8 * s.capacity]) >= 3
    # Booked through the service, quietly: no message is waiting to go to a made-up member.
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    held = dict(db.session.execute(select(ClassBooking.session_id, func.count()).where(
        ClassBooking.status.in_(("confirmed", "attended", "no_show"))).group_by(ClassBooking.session_id)).all())
    assert all(s.booked_count == held.get(s.id, 0) for s in sessions)

    # One coach, one place at a time.
    bookings = db.session.scalars(select(Booking).where(Booking.status != "cancelled")).all()
    assert len(bookings) >= 20
    for s in sessions:
        for b in bookings:
            if b.staff_id == s.instructor_id:
                assert not (b.blocked_start_at < s.end_at and s.start_at < b.blocked_end_at), (s.start_at, b.start_at)
    by_coach: dict = {}
    for s in sessions:
        if s.status == "scheduled":
            by_coach.setdefault(s.instructor_id, []).append((s.start_at, s.end_at))
    for spans in by_coach.values():
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))


def test_seed_demo_classes_that_ran_have_attendance_and_the_report_has_every_fact(db):
    """The four weeks behind today: attendance marked (a few no-shows), late cancellations, people
    promoted off waitlists and left waiting — so the dashboard's class report has every number."""
    from app.models import ClassBooking, ClassSession
    from app.services import reports
    from app.services.demo import seed_demo

    now = datetime(2030, 3, 6, 12, 0, tzinfo=timezone.utc)
    org = seed_demo(now=now).org
    past = db.session.scalars(select(ClassBooking).join(ClassSession).where(ClassSession.start_at <= now)).all()
    assert {s.status for s in past} == {"attended", "no_show", "cancelled"}  # nobody left "booked" or waiting
    assert {s.cancel_kind for s in past if s.status == "cancelled"} == {"customer", "late", "waitlist_closed"}
    assert all(s.checked_in_at for s in past if s.status == "attended")
    assert all(s.promoted_at > s.waitlisted_at for s in past if s.promoted_at)
    report = reports.class_report(org.id, date(2030, 2, 7), date(2030, 3, 6), "Europe/London")
    assert len(report.by_type) == 6 and len(report.by_instructor) == 4
    total = report.total
    assert total.promoted and total.waitlist_closed and total.late_cancels and total.no_shows
    assert 50 <= total.percent <= 95
