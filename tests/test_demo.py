"""flask seed-demo: the spec's Atlas Fitness example, idempotent."""
from __future__ import annotations

from datetime import date, time

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
    trainers = db.session.scalars(select(User).filter_by(organization_id=org.id, role="staff")).all()
    assert len(trainers) == 3
    for trainer in trainers:
        rules = db.session.scalars(select(AvailabilityRule).filter_by(user_id=trainer.id)).all()
        assert sorted(r.day_of_week for r in rules) == [1, 2, 3, 4, 5]
        assert {(r.start_time, r.end_time) for r in rules} == {(time(9), time(17))}
    owner = db.session.scalars(select(User).filter_by(role="owner")).one()
    assert owner.check_password("atlas-demo") and not owner.check_password("wrong")

    types = {t.name: t for t in db.session.scalars(select(AppointmentType)).all()}
    assert types["Gym Consultation"].duration_minutes == 30
    pt = types["Personal Training Session"]
    assert (pt.duration_minutes, pt.buffer_after_minutes, pt.price_pennies) == (60, 15, 5000)

    links = {link.slug: link for link in db.session.scalars(select(BookingLink)).all()}
    assert links["gym-consultation"].type == "round_robin"
    assert len(links["gym-consultation"].staff) == 3
    assert links["personal-training"].type == "individual"
    assert len(links["personal-training"].staff) == 1
    assert all(link.is_public and link.branding is not None for link in links.values())

    christmas = db.session.scalars(select(Holiday).filter_by(name="Christmas Day")).one()
    assert (christmas.date.month, christmas.date.day) == (12, 25) and christmas.affects_all_staff
    day_off = db.session.scalars(select(AvailabilityOverride)).one()
    assert day_off.type == "unavailable" and day_off.reason == "Personal day off"
    bookings = db.session.scalars(select(Booking)).all()
    assert len(bookings) >= 5
    assert {b.status for b in bookings} >= {"confirmed", "cancelled", "completed"}


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
