"""The schedules service called directly: weekly rules, date overrides, holidays and the slot preview.

Each writing function validates (naming the field at fault), writes and commits, raises the
organization's schedule version, and answers NotFound for another organization's rows. Time is
injected (`today=`, `now=`); nothing here reads the clock.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timezone

import pytest
from sqlalchemy import func, select

from app.models import AvailabilityOverride, AvailabilityRule, Holiday, Organization
from app.services.errors import InvalidRequest, NotFound
from app.services.scheduling import schedules

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # Sunday; London is UTC+0 in January
TODAY = date(2030, 1, 6)
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY = (date(2030, 1, d) for d in range(7, 13))
SUN, MON, TUE, WED, THU, FRI, SAT = range(7)


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    """The user factory hashes with scrypt (deliberately slow); these tests never sign in."""
    from werkzeug.security import generate_password_hash

    import app.models.staff as staff

    monkeypatch.setattr(staff, "generate_password_hash",
                        lambda password, method=None: generate_password_hash(password, method="pbkdf2:sha256:1000"))


@pytest.fixture
def gym(make_org, make_trainer, make_appointment_type):
    """Acme (Alex: Mon–Fri 09:00–17:00; Sam: no hours) and Rival, whose rows Acme never sees."""
    org = make_org(slug="acme", name="Acme", timezone="Europe/London")
    alex = make_trainer(org=org, name="Alex")
    sam = make_trainer(org=org, name="Sam", hours={})
    pt = make_appointment_type(org=org, name="PT", duration_minutes=60, min_notice_minutes=0)
    rival = make_org(slug="rival", name="Rival", timezone="Europe/London")
    rival_kim = make_trainer(org=rival, name="Kim")
    rival_pt = make_appointment_type(org=rival, name="Rival PT", duration_minutes=60, min_notice_minutes=0)
    return type("Gym", (), dict(org=org, alex=alex, sam=sam, pt=pt, rival=rival, rival_kim=rival_kim,
                                rival_pt=rival_pt))


def version(db, org) -> int:
    """The schedule version as stored now (the raise is an UPDATE the ORM object does not see)."""
    return db.session.scalar(select(Organization.schedule_version).where(Organization.id == org.id))


def rules_of(db, user) -> list[tuple[int, time, time]]:
    db.session.expire_all()
    rows = db.session.scalars(select(AvailabilityRule).where(AvailabilityRule.user_id == user.id)).all()
    return sorted((r.day_of_week, r.start_time, r.end_time) for r in rows)


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def refused(call, field: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        call()
    assert field in caught.value.fields, caught.value.fields
    return caught.value


# --- lookups and scoping ---------------------------------------------------------------------------

def test_lookups_answer_rows_of_the_organization(db, gym):
    rule = db.session.scalars(select(AvailabilityRule).where(AvailabilityRule.user_id == gym.alex.id)).first()
    assert schedules.get_staff_member(gym.org.id, gym.alex.id).id == gym.alex.id
    assert schedules.get_staff_member(gym.org.id, str(gym.alex.id)).id == gym.alex.id  # ids arrive as text too
    assert schedules.get_rule(gym.org.id, rule.id).id == rule.id


@pytest.mark.parametrize("bad_id", [None, "", "not-a-uuid", "12", uuid.uuid4()])
def test_unknown_or_malformed_ids_are_not_found(gym, bad_id):
    for lookup in (schedules.get_staff_member, schedules.get_rule, schedules.get_override, schedules.get_holiday):
        with pytest.raises(NotFound):
            lookup(gym.org.id, bad_id)


def test_another_organizations_rows_are_not_found(db, gym):
    kim_rule = db.session.scalars(select(AvailabilityRule).where(AvailabilityRule.user_id == gym.rival_kim.id)).first()
    kim_off = schedules.add_override(gym.rival.id, gym.rival_kim.id, day=THURSDAY, kind="day_off", today=TODAY)
    rival_holiday = schedules.add_holiday(gym.rival.id, name="Rival closed", day=THURSDAY, today=TODAY)
    ours = gym.org.id
    calls = [
        lambda: schedules.get_staff_member(ours, gym.rival_kim.id),
        lambda: schedules.get_rule(ours, kim_rule.id),
        lambda: schedules.get_override(ours, kim_off.id),
        lambda: schedules.get_holiday(ours, rival_holiday.id),
        lambda: schedules.weekly_rules(ours, gym.rival_kim.id),
        lambda: schedules.upcoming_overrides(ours, gym.rival_kim.id, TODAY),
        lambda: schedules.add_rule(ours, gym.rival_kim.id, SAT, time(8), time(12)),
        lambda: schedules.update_rule(ours, kim_rule.id, SAT, time(8), time(12)),
        lambda: schedules.delete_rule(ours, kim_rule.id),
        lambda: schedules.add_override(ours, gym.rival_kim.id, day=FRIDAY, kind="day_off", today=TODAY),
        lambda: schedules.delete_override(ours, kim_off.id),
        lambda: schedules.delete_holiday(ours, rival_holiday.id),
        lambda: schedules.preview_slots(ours, gym.rival_kim.id, gym.pt.id, now=NOW),
        lambda: schedules.preview_slots(ours, gym.alex.id, gym.rival_pt.id, now=NOW),
    ]
    before = (rules_of(db, gym.rival_kim), count(db, AvailabilityOverride), count(db, Holiday), version(db, gym.rival),
              version(db, gym.org))
    for call in calls:
        with pytest.raises(NotFound):
            call()
    # Nothing of Rival's was changed, moved or deleted, and neither version moved.
    assert (rules_of(db, gym.rival_kim), count(db, AvailabilityOverride), count(db, Holiday), version(db, gym.rival),
            version(db, gym.org)) == before
    assert db.session.get(AvailabilityRule, kim_rule.id).day_of_week == kim_rule.day_of_week



def test_upcoming_holidays_are_only_the_organizations_own(gym):
    schedules.add_holiday(gym.org.id, name="Ours", day=THURSDAY, today=TODAY)
    schedules.add_holiday(gym.rival.id, name="Theirs", day=THURSDAY, today=TODAY)
    assert [h.name for h in schedules.upcoming_holidays(gym.org.id, TODAY)] == ["Ours"]


# --- weekly rules ----------------------------------------------------------------------------------

def test_add_rule_stores_and_returns_the_interval(db, gym):
    before = version(db, gym.org)
    rule = schedules.add_rule(gym.org.id, gym.alex.id, SAT, time(8), time(12))
    assert (rule.organization_id, rule.user_id, rule.day_of_week, rule.start_time, rule.end_time) == (
        gym.org.id, gym.alex.id, SAT, time(8), time(12))
    assert (SAT, time(8), time(12)) in rules_of(db, gym.alex)
    assert version(db, gym.org) > before


def test_day_of_week_given_as_text_is_stored_as_a_number(db, gym):
    rule = schedules.add_rule(gym.org.id, gym.sam.id, "6", time(8), time(12))
    assert rule.day_of_week == SAT and rules_of(db, gym.sam) == [(SAT, time(8), time(12))]


def test_weekly_rules_are_listed_monday_first_then_by_start(gym):
    schedules.add_rule(gym.org.id, gym.sam.id, SUN, time(10), time(12))
    schedules.add_rule(gym.org.id, gym.sam.id, MON, time(14), time(16))
    schedules.add_rule(gym.org.id, gym.sam.id, MON, time(8), time(10))
    schedules.add_rule(gym.org.id, gym.sam.id, SAT, time(9), time(11))
    listed = [(r.day_of_week, r.start_time) for r in schedules.weekly_rules(gym.org.id, gym.sam.id)]
    assert listed == [(MON, time(8)), (MON, time(14)), (SAT, time(9)), (SUN, time(10))]


@pytest.mark.parametrize("day", [7, -1, "Monday", None, ""])
def test_a_bad_weekday_is_refused(db, gym, day):
    before = (rules_of(db, gym.sam), version(db, gym.org))
    error = refused(lambda: schedules.add_rule(gym.org.id, gym.sam.id, day, time(8), time(12)), "day_of_week")
    assert error.fields == {"day_of_week": "choose a day"}
    assert (rules_of(db, gym.sam), version(db, gym.org)) == before


@pytest.mark.parametrize(("start", "end", "field"), [
    (None, time(12), "start_time"),
    (time(8), None, "end_time"),
    (time(12), time(8), "end_time"),  # end before start
    (time(9), time(9), "end_time"),  # empty
    (time(22), time(2), "end_time"),  # past midnight: refused (only 00:00 may end a day)
    (time(23, 30), time(0, 15), "end_time"),
])
def test_an_interval_must_end_after_it_starts_on_the_same_day(db, gym, start, end, field):
    before = (rules_of(db, gym.sam), version(db, gym.org))
    refused(lambda: schedules.add_rule(gym.org.id, gym.sam.id, SAT, start, end), field)
    assert (rules_of(db, gym.sam), version(db, gym.org)) == before


def test_missing_times_name_both_fields(gym):
    error = refused(lambda: schedules.add_rule(gym.org.id, gym.sam.id, SAT, None, None), "start_time")
    assert error.fields == {"start_time": "required", "end_time": "required"}


def test_midnight_ends_the_day(db, gym):
    rule = schedules.add_rule(gym.org.id, gym.sam.id, SAT, time(18), time(0))
    assert (rule.start_time, rule.end_time) == (time(18), time(0))
    # …and an interval ending at midnight still clashes with a later one on that day.
    error = refused(lambda: schedules.add_rule(gym.org.id, gym.sam.id, SAT, time(23), time(0)), "start_time")
    assert error.fields["start_time"] == "overlaps 18:00–00:00"


def test_midnight_to_midnight_is_refused_or_stored_never_a_database_error(db, gym):
    try:
        rule = schedules.add_rule(gym.org.id, gym.sam.id, SAT, time(0), time(0))
    except InvalidRequest as error:
        assert "end_time" in error.fields
    else:
        assert rules_of(db, gym.sam) == [(SAT, rule.start_time, rule.end_time)]


@pytest.mark.parametrize("kind", ["time_off", "extra", "replace"])
def test_midnight_to_midnight_override_is_refused_or_stored_never_a_database_error(db, gym, kind):
    try:
        override = schedules.add_override(gym.org.id, gym.alex.id, day=THURSDAY, kind=kind, start_time=time(0),
                                          end_time=time(0), today=TODAY)
    except InvalidRequest as error:
        assert "end_time" in error.fields
    else:
        assert schedules.override_kind(override) == kind


def test_intervals_on_one_day_may_not_overlap(db, gym):
    before = (rules_of(db, gym.alex), version(db, gym.org))
    error = refused(lambda: schedules.add_rule(gym.org.id, gym.alex.id, MON, time(16), time(19)), "start_time")
    assert error.fields == {"start_time": "overlaps 09:00–17:00"}
    assert "Monday" in error.message
    refused(lambda: schedules.add_rule(gym.org.id, gym.alex.id, MON, time(10), time(11)), "start_time")  # inside
    refused(lambda: schedules.add_rule(gym.org.id, gym.alex.id, MON, time(6), time(20)), "start_time")  # around
    assert (rules_of(db, gym.alex), version(db, gym.org)) == before


def test_touching_intervals_and_other_days_and_other_trainers_do_not_overlap(db, gym):
    schedules.add_rule(gym.org.id, gym.alex.id, MON, time(17), time(19))  # touches 09:00–17:00
    schedules.add_rule(gym.org.id, gym.alex.id, MON, time(7), time(9))
    schedules.add_rule(gym.org.id, gym.alex.id, SAT, time(9), time(17))  # another day
    schedules.add_rule(gym.org.id, gym.sam.id, MON, time(9), time(17))  # another trainer
    assert [(s, e) for d, s, e in rules_of(db, gym.alex) if d == MON] == [
        (time(7), time(9)), (time(9), time(17)), (time(17), time(19))]
    assert rules_of(db, gym.sam) == [(MON, time(9), time(17))]


def test_update_rule_changes_it_in_place(db, gym):
    rule = schedules.add_rule(gym.org.id, gym.sam.id, MON, time(9), time(12))
    before = version(db, gym.org)
    updated = schedules.update_rule(gym.org.id, rule.id, TUE, time(10), time(15))
    assert updated.id == rule.id
    assert rules_of(db, gym.sam) == [(TUE, time(10), time(15))]
    assert version(db, gym.org) > before


def test_update_rule_ignores_itself_but_not_the_others(db, gym):
    rule = schedules.add_rule(gym.org.id, gym.sam.id, MON, time(9), time(12))
    schedules.add_rule(gym.org.id, gym.sam.id, TUE, time(9), time(17))
    schedules.update_rule(gym.org.id, rule.id, MON, time(8), time(13))  # overlaps only its old self
    before = (rules_of(db, gym.sam), version(db, gym.org))
    error = refused(lambda: schedules.update_rule(gym.org.id, rule.id, TUE, time(10), time(11)), "start_time")
    assert "Tuesday" in error.message
    refused(lambda: schedules.update_rule(gym.org.id, rule.id, 9, time(8), time(13)), "day_of_week")
    refused(lambda: schedules.update_rule(gym.org.id, rule.id, MON, time(13), time(8)), "end_time")
    db.session.expire_all()
    assert (rules_of(db, gym.sam), version(db, gym.org)) == before
    assert before[0] == [(MON, time(8), time(13)), (TUE, time(9), time(17))]


def test_delete_rule_removes_it_and_answers_the_trainer(db, gym):
    rule = schedules.add_rule(gym.org.id, gym.sam.id, MON, time(9), time(12))
    before = version(db, gym.org)
    assert schedules.delete_rule(gym.org.id, rule.id) == gym.sam.id
    assert rules_of(db, gym.sam) == []
    assert version(db, gym.org) > before
    with pytest.raises(NotFound):
        schedules.delete_rule(gym.org.id, rule.id)


# --- date overrides --------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "start", "end", "stored"), [
    ("day_off", None, None, ("unavailable", None, None, False)),
    ("time_off", time(9), time(12), ("unavailable", time(9), time(12), False)),
    ("extra", time(18), time(20), ("available", time(18), time(20), False)),
    ("replace", time(10), time(14), ("available", time(10), time(14), True)),
])
def test_each_kind_of_override_is_stored_as_the_engine_reads_it(db, gym, kind, start, end, stored):
    before = version(db, gym.org)
    override = schedules.add_override(gym.org.id, gym.alex.id, day=THURSDAY, kind=kind, start_time=start,
                                      end_time=end, reason="  Course \n day  ", today=TODAY)
    db.session.expire_all()
    row = db.session.get(AvailabilityOverride, override.id)
    assert (row.type, row.start_time, row.end_time, row.replace_rules) == stored
    assert (row.organization_id, row.user_id, row.date, row.reason) == (gym.org.id, gym.alex.id, THURSDAY, "Course day")
    assert schedules.override_kind(row) == kind  # round trip
    assert version(db, gym.org) > before


def test_a_whole_day_off_drops_any_times_given(db, gym):
    override = schedules.add_override(gym.org.id, gym.alex.id, day=THURSDAY, kind="day_off", start_time=time(9),
                                      end_time=time(12), today=TODAY)
    assert (override.start_time, override.end_time) == (None, None)
    assert schedules.override_kind(override) == "day_off"


def test_reason_is_optional_and_at_most_200_characters(gym):
    blank = schedules.add_override(gym.org.id, gym.alex.id, day=THURSDAY, kind="day_off", reason="   ", today=TODAY)
    long = schedules.add_override(gym.org.id, gym.alex.id, day=FRIDAY, kind="day_off", reason="x" * 500,
                                  today=TODAY)
    assert blank.reason is None and long.reason == "x" * 200


@pytest.mark.parametrize(("changes", "field"), [
    ({"kind": "holiday"}, "kind"),
    ({"kind": ""}, "kind"),
    ({"day": None}, "date"),
    ({"day": date(2030, 1, 5)}, "date"),  # yesterday
    ({"kind": "time_off", "start_time": None, "end_time": time(12)}, "start_time"),
    ({"kind": "time_off", "start_time": time(9), "end_time": None}, "end_time"),
    ({"kind": "extra", "start_time": None, "end_time": None}, "start_time"),
    ({"kind": "replace", "start_time": None, "end_time": None}, "end_time"),
    ({"kind": "extra", "start_time": time(12), "end_time": time(9)}, "end_time"),
    ({"kind": "time_off", "start_time": time(22), "end_time": time(1)}, "end_time"),  # past midnight
])
def test_override_validation_names_the_field(db, gym, changes, field):
    values = {"day": THURSDAY, "kind": "day_off", "today": TODAY}
    values.update(changes)
    before = (count(db, AvailabilityOverride), version(db, gym.org))
    refused(lambda: schedules.add_override(gym.org.id, gym.alex.id, **values), field)
    assert (count(db, AvailabilityOverride), version(db, gym.org)) == before


def test_today_itself_is_allowed_and_the_past_check_needs_today(gym):
    assert schedules.add_override(gym.org.id, gym.alex.id, day=TODAY, kind="day_off", today=TODAY).date == TODAY
    # Without `today` the caller has opted out of the past check (e.g. an import).
    past = schedules.add_override(gym.org.id, gym.alex.id, day=date(2029, 12, 1), kind="day_off")
    assert past.date == date(2029, 12, 1)


def test_one_day_off_per_date(db, gym):
    schedules.add_override(gym.org.id, gym.alex.id, day=THURSDAY, kind="day_off", today=TODAY)
    before = (count(db, AvailabilityOverride), version(db, gym.org))
    error = refused(lambda: schedules.add_override(gym.org.id, gym.alex.id, day=THURSDAY, kind="day_off",
                                                   today=TODAY), "date")
    assert error.fields == {"date": "already a day off"}
    assert (count(db, AvailabilityOverride), version(db, gym.org)) == before
    # Another trainer, or another date, is free to take the same day off.
    schedules.add_override(gym.org.id, gym.sam.id, day=THURSDAY, kind="day_off", today=TODAY)
    schedules.add_override(gym.org.id, gym.alex.id, day=FRIDAY, kind="day_off", today=TODAY)
    assert count(db, AvailabilityOverride) == before[0] + 2


def test_added_hours_on_one_date_may_not_overlap_each_other(db, gym):
    schedules.add_override(gym.org.id, gym.alex.id, day=SATURDAY, kind="extra", start_time=time(10),
                           end_time=time(12), today=TODAY)
    before = count(db, AvailabilityOverride)
    for kind in ("extra", "replace"):
        error = refused(lambda kind=kind: schedules.add_override(gym.org.id, gym.alex.id, day=SATURDAY, kind=kind,
                                                                 start_time=time(11), end_time=time(13),
                                                                 today=TODAY), "start_time")
        assert error.fields["start_time"] == "overlaps 10:00–12:00"
    assert count(db, AvailabilityOverride) == before
    # Touching hours, time off inside them, and hours on another date are all fine.
    schedules.add_override(gym.org.id, gym.alex.id, day=SATURDAY, kind="extra", start_time=time(12),
                           end_time=time(14), today=TODAY)
    schedules.add_override(gym.org.id, gym.alex.id, day=SATURDAY, kind="time_off", start_time=time(10),
                           end_time=time(11), today=TODAY)
    schedules.add_override(gym.org.id, gym.alex.id, day=FRIDAY, kind="extra", start_time=time(10),
                           end_time=time(12), today=TODAY)
    assert count(db, AvailabilityOverride) == before + 3


def test_upcoming_overrides_are_from_today_by_date_and_time(gym):
    add = schedules.add_override
    add(gym.org.id, gym.alex.id, day=date(2030, 1, 1), kind="day_off")  # past: not listed
    add(gym.org.id, gym.alex.id, day=FRIDAY, kind="extra", start_time=time(18), end_time=time(20))
    add(gym.org.id, gym.alex.id, day=FRIDAY, kind="time_off", start_time=time(9), end_time=time(10))
    add(gym.org.id, gym.alex.id, day=THURSDAY, kind="day_off")
    add(gym.org.id, gym.sam.id, day=THURSDAY, kind="day_off")  # someone else's
    listed = [(o.date, o.start_time) for o in schedules.upcoming_overrides(gym.org.id, gym.alex.id, TODAY)]
    assert listed == [(THURSDAY, None), (FRIDAY, time(9)), (FRIDAY, time(18))]


def test_delete_override_removes_it_and_answers_the_trainer(db, gym):
    override = schedules.add_override(gym.org.id, gym.alex.id, day=THURSDAY, kind="day_off", today=TODAY)
    before = version(db, gym.org)
    assert schedules.delete_override(gym.org.id, override.id) == gym.alex.id
    db.session.expire_all()
    assert db.session.get(AvailabilityOverride, override.id) is None
    assert version(db, gym.org) > before


# --- holidays --------------------------------------------------------------------------------------

def test_add_holiday_stores_an_organization_wide_day(db, gym):
    before = version(db, gym.org)
    holiday = schedules.add_holiday(gym.org.id, name="  Boiler \t repair ", day=THURSDAY, today=TODAY)
    db.session.expire_all()
    row = db.session.get(Holiday, holiday.id)
    assert (row.organization_id, row.name, row.date, row.affects_all_staff) == (gym.org.id, "Boiler repair", THURSDAY,
                                                                                True)
    assert version(db, gym.org) > before


@pytest.mark.parametrize(("name", "day", "fields"), [
    ("", THURSDAY, {"name": "required"}),
    ("   ", THURSDAY, {"name": "required"}),
    (None, THURSDAY, {"name": "required"}),
    ("x" * 201, THURSDAY, {"name": "at most 200 characters"}),
    ("Closed", None, {"date": "required"}),
    ("Closed", date(2030, 1, 5), {"date": "must be today or later"}),
    ("", None, {"name": "required", "date": "required"}),
])
def test_holiday_validation_names_the_fields(db, gym, name, day, fields):
    before = (count(db, Holiday), version(db, gym.org))
    with pytest.raises(InvalidRequest) as caught:
        schedules.add_holiday(gym.org.id, name=name, day=day, today=TODAY)
    assert caught.value.fields == fields
    assert (count(db, Holiday), version(db, gym.org)) == before


def test_holiday_name_limit_counts_after_collapsing_spaces(gym):
    assert schedules.add_holiday(gym.org.id, name="x" * 200, day=THURSDAY, today=TODAY).name == "x" * 200
    assert schedules.add_holiday(gym.org.id, name=" a   b ", day=TODAY, today=TODAY).name == "a b"  # today is allowed


def test_one_holiday_per_date_per_organization(db, gym):
    schedules.add_holiday(gym.org.id, name="Closed", day=THURSDAY, today=TODAY)
    before = (count(db, Holiday), version(db, gym.org))
    error = refused(lambda: schedules.add_holiday(gym.org.id, name="Again", day=THURSDAY, today=TODAY), "date")
    assert error.fields == {"date": "already a holiday"} and "Closed" in error.message
    assert (count(db, Holiday), version(db, gym.org)) == before
    # Another organization's holiday on that date is no clash.
    assert schedules.add_holiday(gym.rival.id, name="Rival closed", day=THURSDAY, today=TODAY).date == THURSDAY


def test_upcoming_holidays_are_from_today_in_date_order(gym):
    schedules.add_holiday(gym.org.id, name="Later", day=FRIDAY)
    schedules.add_holiday(gym.org.id, name="Past", day=date(2030, 1, 1))
    schedules.add_holiday(gym.org.id, name="Sooner", day=THURSDAY)
    assert [h.name for h in schedules.upcoming_holidays(gym.org.id, TODAY)] == ["Sooner", "Later"]


def test_delete_holiday_removes_it(db, gym):
    holiday = schedules.add_holiday(gym.org.id, name="Closed", day=THURSDAY, today=TODAY)
    before = version(db, gym.org)
    schedules.delete_holiday(gym.org.id, holiday.id)
    db.session.expire_all()
    assert db.session.get(Holiday, holiday.id) is None
    assert version(db, gym.org) > before
    with pytest.raises(NotFound):
        schedules.delete_holiday(gym.org.id, holiday.id)


# --- preview ---------------------------------------------------------------------------------------

def counts(preview) -> dict[date, int]:
    return {day.date: len(day.slots) for day in preview.days}


def test_preview_shows_the_next_seven_local_days(gym):
    preview = schedules.preview_slots(gym.org.id, gym.alex.id, gym.pt.id, now=NOW)
    assert (preview.staff_id, preview.staff_name, preview.staff_active) == (gym.alex.id, "Alex", True)
    assert (preview.appointment_type_id, preview.appointment_type_name, preview.timezone) == (
        gym.pt.id, "PT", "Europe/London")
    assert counts(preview) == {TODAY: 0, MONDAY: 8, TUESDAY: 8, WEDNESDAY: 8, THURSDAY: 8, FRIDAY: 8,
                               SATURDAY: 0}
    assert preview.total == 40
    monday = preview.days[1]
    assert monday.slots[0].start == datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)
    assert monday.slots[-1].start == datetime(2030, 1, 7, 16, 0, tzinfo=timezone.utc)
    assert all(day.off_reason is None for day in preview.days)


def test_preview_length_follows_days(gym):
    preview = schedules.preview_slots(gym.org.id, gym.alex.id, gym.pt.id, now=NOW, days=3)
    assert [day.date for day in preview.days] == [TODAY, MONDAY, TUESDAY]


def test_preview_follows_rules_overrides_and_holidays(gym):
    org, alex = gym.org.id, gym.alex.id
    schedules.add_override(org, alex, day=WEDNESDAY, kind="day_off", today=TODAY)
    schedules.add_override(org, alex, day=TUESDAY, kind="time_off", start_time=time(9), end_time=time(12),
                           today=TODAY)
    schedules.add_override(org, alex, day=SATURDAY, kind="extra", start_time=time(10), end_time=time(12),
                           today=TODAY)
    schedules.add_override(org, alex, day=FRIDAY, kind="replace", start_time=time(13), end_time=time(16),
                           today=TODAY)
    schedules.add_holiday(org, name="Closed", day=THURSDAY, today=TODAY)
    schedules.add_rule(org, alex, MON, time(17), time(19))
    preview = schedules.preview_slots(org, alex, gym.pt.id, now=NOW)
    assert counts(preview) == {TODAY: 0, MONDAY: 10, TUESDAY: 5, WEDNESDAY: 0, THURSDAY: 0, FRIDAY: 3,
                               SATURDAY: 2}
    reasons = {day.date: day.off_reason for day in preview.days}
    assert reasons[WEDNESDAY] == "Day off"
    assert reasons[THURSDAY].startswith("Holiday")
    assert reasons[TUESDAY] is None  # time off is not a day off


def test_an_inactive_trainer_offers_nothing(db, gym):
    gym.alex.active = False
    db.session.commit()
    preview = schedules.preview_slots(gym.org.id, gym.alex.id, gym.pt.id, now=NOW)
    assert preview.staff_active is False and preview.total == 0 and len(preview.days) == 7
