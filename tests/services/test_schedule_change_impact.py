"""Schedule changes that respect bookings (services.schedule_changes): the bookings a change would leave
outside working time, judged before saving, and saving it with a decision per booking."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.models import AvailabilityOverride, AvailabilityRule, Booking, BookingAudit, Holiday, Notification
from app.services.bookings import Actor
from app.services.errors import InvalidRequest, NotFound
from app.services.schedule_changes import ScheduleChange, StaleReview, apply_change, change_impact

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # Sunday; London is UTC+0
TODAY = NOW.date()
MONDAY = date(2030, 1, 7)
DST_SUNDAY = date(2030, 3, 31)  # London springs forward at 01:00 UTC: 09:00 local is 08:00 UTC


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=timezone.utc)


@pytest.fixture
def gym(make_org, make_trainer, make_user, make_appointment_type):
    org = make_org(timezone="Europe/London")
    alex = make_trainer(org=org, name="Alex", hours={d: [("09:00", "17:00")] for d in range(6)})
    sam = make_trainer(org=org, name="Sam")
    owner = make_user(org=org, role="owner", name="Olive Owner")
    pt = make_appointment_type(org=org, name="Personal training")
    return SimpleNamespace(org=org, alex=alex, sam=sam, owner=owner, pt=pt)


@pytest.fixture
def book(make_booking, gym):
    def make(staff=None, start=None, **overrides):
        return make_booking(staff=staff or gym.alex, start=start or at(MONDAY, 10), appointment_type_id=gym.pt.id,
                            **overrides)
    return make


def actor(gym) -> Actor:
    return Actor("staff", id=str(gym.owner.id))


def ids(impact) -> set:
    return {b.booking_id for b in impact.bookings}


def day_off(gym, day=MONDAY, **extra) -> ScheduleChange:
    return ScheduleChange("add_override", user_id=gym.alex.id, day=day, kind="day_off", **extra)


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def alex_rule(db, gym, day_of_week: int) -> AvailabilityRule:
    return db.session.scalars(select(AvailabilityRule).where(AvailabilityRule.user_id == gym.alex.id,
                                                             AvailabilityRule.day_of_week == day_of_week)).one()


def test_a_day_off_over_a_confirmed_booking_lists_it_and_saves_nothing(db, gym, book):
    booking = book()
    other_day = book(start=at(MONDAY + timedelta(days=1), 10))
    impact = change_impact(gym.org.id, day_off(gym), today=TODAY, now=NOW)
    assert ids(impact) == {booking.id}
    [listed] = impact.bookings
    assert (listed.attendee_name, listed.service_name, listed.start_at) == ("Ann Attendee", "Personal training",
                                                                           at(MONDAY, 10))
    assert other_day.id not in ids(impact)
    assert count(db, AvailabilityOverride, AvailabilityOverride.user_id == gym.alex.id) == 0


def test_saving_without_the_review_is_refused_with_the_list(db, gym, book):
    booking = book()
    with pytest.raises(StaleReview) as caught:
        apply_change(gym.org.id, day_off(gym), decisions={}, reviewed=None, actor=actor(gym), today=TODAY, now=NOW)
    assert ids(caught.value.impact) == {booking.id}
    assert count(db, AvailabilityOverride, AvailabilityOverride.user_id == gym.alex.id) == 0


def test_keep_saves_the_change_and_the_booking_stays(db, gym, book):
    booking = book()
    impact = change_impact(gym.org.id, day_off(gym), today=TODAY, now=NOW)
    outcome = apply_change(gym.org.id, day_off(gym), decisions={str(booking.id): "keep"},
                           reviewed=impact.fingerprint, actor=actor(gym), today=TODAY, now=NOW)
    assert [b.booking_id for b in outcome.kept] == [booking.id]
    assert count(db, AvailabilityOverride, AvailabilityOverride.user_id == gym.alex.id,
                 AvailabilityOverride.date == MONDAY) == 1
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "confirmed"
    # A kept booking is outside working time now: later changes do not list it again.
    again = change_impact(gym.org.id, ScheduleChange("delete_rule", row_id=alex_rule(db, gym, 1).id), now=NOW)
    assert booking.id not in ids(again)


def test_cancel_with_a_reason_cancels_notifies_and_audits(db, gym, book):
    booking = book()
    impact = change_impact(gym.org.id, day_off(gym), today=TODAY, now=NOW)
    outcome = apply_change(gym.org.id, day_off(gym), decisions={str(booking.id): "cancel"},
                           reasons={str(booking.id): "Trainer off sick"}, reviewed=impact.fingerprint,
                           actor=actor(gym), today=TODAY, now=NOW)
    assert [b.booking_id for b in outcome.cancelled] == [booking.id] and not outcome.failed
    db.session.expire_all()
    row = db.session.get(Booking, booking.id)
    assert (row.status, row.cancellation_reason) == ("cancelled", "Trainer off sick")
    assert count(db, Notification, Notification.booking_id == booking.id,
                 Notification.template == "booking_cancellation", Notification.status == "pending",
                 Notification.recipient == "ann@example.com") == 1
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).all()
    assert [(a.action, a.actor_type, a.actor_id) for a in audit] == [("cancelled", "staff", str(gym.owner.id))]
    assert count(db, AvailabilityOverride, AvailabilityOverride.user_id == gym.alex.id) == 1


def test_move_saves_and_leaves_the_booking_for_the_reschedule_flow(db, gym, book):
    booking = book()
    impact = change_impact(gym.org.id, day_off(gym), today=TODAY, now=NOW)
    outcome = apply_change(gym.org.id, day_off(gym), decisions={str(booking.id): "move"},
                           reviewed=impact.fingerprint, actor=actor(gym), today=TODAY, now=NOW)
    assert [b.booking_id for b in outcome.to_move] == [booking.id]
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "confirmed"


def test_every_booking_needs_a_decision(db, gym, book):
    first, second = book(), book(start=at(MONDAY, 14))
    impact = change_impact(gym.org.id, day_off(gym), today=TODAY, now=NOW)
    with pytest.raises(InvalidRequest) as caught:
        apply_change(gym.org.id, day_off(gym), decisions={str(first.id): "keep", str(second.id): "explode"},
                     reviewed=impact.fingerprint, actor=actor(gym), today=TODAY, now=NOW)
    assert list(caught.value.fields) == [f"decision-{second.id}"]
    assert count(db, AvailabilityOverride, AvailabilityOverride.user_id == gym.alex.id) == 0


def test_a_stale_review_is_refused_with_the_fresh_list(db, gym, book):
    first = book()
    impact = change_impact(gym.org.id, day_off(gym), today=TODAY, now=NOW)
    late = book(start=at(MONDAY, 15))  # booked while the person was reading the list
    with pytest.raises(StaleReview) as caught:
        apply_change(gym.org.id, day_off(gym), decisions={str(first.id): "keep"}, reviewed=impact.fingerprint,
                     actor=actor(gym), today=TODAY, now=NOW)
    assert ids(caught.value.impact) == {first.id, late.id}
    assert caught.value.impact.fingerprint != impact.fingerprint
    assert count(db, AvailabilityOverride, AvailabilityOverride.user_id == gym.alex.id) == 0


def test_no_affected_bookings_saves_directly(db, gym, book):
    book(start=at(MONDAY + timedelta(days=1), 10))
    outcome = apply_change(gym.org.id, day_off(gym), decisions={}, reviewed=None, actor=actor(gym), today=TODAY,
                           now=NOW)
    assert isinstance(outcome.saved, AvailabilityOverride) and outcome.saved.date == MONDAY
    assert not (outcome.cancelled or outcome.kept or outcome.to_move)


def test_partial_block_lists_only_the_bookings_it_covers(db, gym, book):
    inside, touching, outside = book(start=at(MONDAY, 10)), book(start=at(MONDAY, 11)), book(start=at(MONDAY, 14))
    change = ScheduleChange("add_override", user_id=gym.alex.id, day=MONDAY, kind="time_off",
                            start_time=time(10, 30), end_time=time(11, 0))
    impact = change_impact(gym.org.id, change, today=TODAY, now=NOW)
    assert ids(impact) == {inside.id}
    assert touching.id not in ids(impact) and outside.id not in ids(impact)


def test_replacement_hours_that_day_list_what_they_leave_out(db, gym, book):
    early, late = book(start=at(MONDAY, 9)), book(start=at(MONDAY, 15))
    change = ScheduleChange("add_override", user_id=gym.alex.id, day=MONDAY, kind="replace",
                            start_time=time(12), end_time=time(17))
    assert ids(change_impact(gym.org.id, change, today=TODAY, now=NOW)) == {early.id}
    assert late.id  # inside the replacement hours


def test_holiday_covers_every_trainer_of_the_organization(db, gym, book, make_trainer, make_booking, make_org):
    alex_b = book()
    sam_b = book(staff=gym.sam, start=at(MONDAY, 12), status="pending")
    book(staff=gym.sam, start=at(MONDAY, 14), status="cancelled")
    rival = make_trainer(org=make_org(), name="Rival")
    make_booking(staff=rival, start=at(MONDAY, 10))
    change = ScheduleChange("add_holiday", name="Closed", day=MONDAY)
    impact = change_impact(gym.org.id, change, today=TODAY, now=NOW)
    assert ids(impact) == {alex_b.id, sam_b.id}
    decisions = {str(alex_b.id): "keep", str(sam_b.id): "cancel"}
    outcome = apply_change(gym.org.id, change, decisions=decisions, reviewed=impact.fingerprint, actor=actor(gym),
                           today=TODAY, now=NOW)
    assert [b.booking_id for b in outcome.cancelled] == [sam_b.id]
    assert count(db, Holiday, Holiday.organization_id == gym.org.id, Holiday.date == MONDAY) == 1


def test_shortened_weekly_hours_are_judged_in_local_time_on_a_dst_day(db, gym, book):
    # Sunday 31 March 2030: 09:00–17:00 London is 08:00–16:00 UTC.
    last_hour = book(start=at(DST_SUNDAY, 15))    # 16:00–17:00 local
    mid = book(start=at(DST_SUNDAY, 14))          # 15:00–16:00 local
    first_hour = book(start=at(DST_SUNDAY, 8))    # 09:00–10:00 local
    rule = alex_rule(db, gym, 0)
    shorter = ScheduleChange("update_rule", row_id=rule.id, day_of_week=0, start_time=time(9), end_time=time(16))
    assert ids(change_impact(gym.org.id, shorter, now=NOW)) == {last_hour.id}
    later_start = ScheduleChange("update_rule", row_id=rule.id, day_of_week=0, start_time=time(10), end_time=time(17))
    assert ids(change_impact(gym.org.id, later_start, now=NOW)) == {first_hour.id}
    removed = ScheduleChange("delete_rule", row_id=rule.id)
    assert ids(change_impact(gym.org.id, removed, now=NOW)) == {last_hour.id, mid.id, first_hour.id}


def test_changing_weekly_hours_saves_and_cancels(db, gym, book):
    monday = book(start=at(MONDAY, 16))
    next_monday = book(start=at(MONDAY + timedelta(days=7), 16))
    rule = alex_rule(db, gym, 1)
    change = ScheduleChange("update_rule", row_id=rule.id, day_of_week=1, start_time=time(9), end_time=time(16))
    impact = change_impact(gym.org.id, change, now=NOW)
    assert ids(impact) == {monday.id, next_monday.id}
    apply_change(gym.org.id, change, decisions={str(monday.id): "cancel", str(next_monday.id): "keep"},
                 reviewed=impact.fingerprint, actor=actor(gym), now=NOW)
    db.session.expire_all()
    assert db.session.get(AvailabilityRule, rule.id).end_time == time(16)
    assert db.session.get(Booking, monday.id).status == "cancelled"
    assert db.session.get(Booking, next_monday.id).status == "confirmed"


def test_removing_extra_hours_lists_the_bookings_in_them(db, gym, book):
    saturday = MONDAY + timedelta(days=5)
    extra = AvailabilityOverride(organization_id=gym.org.id, user_id=gym.alex.id, date=saturday, type="available",
                                 start_time=time(9), end_time=time(12))
    db.session.add(extra)
    db.session.commit()
    booking = book(start=at(saturday, 10))
    impact = change_impact(gym.org.id, ScheduleChange("delete_override", row_id=extra.id), now=NOW)
    assert ids(impact) == {booking.id}


def test_past_and_cancelled_bookings_are_not_listed(db, gym, book):
    book(start=at(TODAY - timedelta(days=6), 10))  # last Monday, over
    book(start=at(MONDAY, 10), status="cancelled")
    assert change_impact(gym.org.id, ScheduleChange("delete_rule", row_id=alex_rule(db, gym, 1).id),
                         now=NOW).bookings == ()


def test_rows_of_another_organization_are_not_found(db, gym, make_org, make_trainer):
    rival = make_trainer(org=make_org(), name="Rival")
    rule = db.session.scalars(select(AvailabilityRule).where(AvailabilityRule.user_id == rival.id)).first()
    with pytest.raises(NotFound):
        change_impact(gym.org.id, ScheduleChange("delete_rule", row_id=rule.id), now=NOW)
    with pytest.raises(NotFound):
        change_impact(gym.org.id, ScheduleChange("add_override", user_id=rival.id, day=MONDAY, kind="day_off"),
                      now=NOW)
    with pytest.raises(NotFound):
        change_impact(gym.org.id, ScheduleChange("delete_rule", row_id="not-an-id"), now=NOW)


def test_an_invalid_change_is_refused_before_anything_is_judged(db, gym, book):
    book()
    with pytest.raises(InvalidRequest):
        change_impact(gym.org.id, day_off(gym, day=TODAY - timedelta(days=1)), today=TODAY, now=NOW)
    bad = ScheduleChange("add_override", user_id=gym.alex.id, day=MONDAY, kind="time_off",
                         start_time=time(12), end_time=time(11))
    with pytest.raises(InvalidRequest):
        change_impact(gym.org.id, bad, today=TODAY, now=NOW)
