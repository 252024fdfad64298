"""flask seed-demo: the spec's Atlas Fitness example, idempotent."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

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
