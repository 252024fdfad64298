"""The availability cache: reused only while nothing that changes availability has changed."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest
import time_machine

from app.models import AvailabilityOverride, AvailabilityRule, Holiday

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # a Sunday; Monday 2030-01-07 is UTC+0 in London


@pytest.fixture
def org_link(make_org, make_trainer, make_link, make_appointment_type):
    org = make_org(slug="cached", timezone="Europe/London")
    trainer = make_trainer(org=org, name="Cass")
    atype = make_appointment_type(org=org, duration_minutes=60, min_notice_minutes=120, booking_window_days=None)
    link = make_link([trainer], [atype], slug="cached-pt")
    return org, trainer, atype, link


def starts(client, **params):
    response = client.get("/api/booking/availability", query_string={"link": "cached-pt", "date": "2030-01-07",
                                                                      **params})
    assert response.status_code == 200
    return [slot["start"] for slot in response.get_json()["slots"]]


def test_a_repeated_request_is_answered_from_the_cache_in_one_query(client, db, org_link, count_queries):
    with time_machine.travel(NOW, tick=False):
        first = starts(client)
        db.session.expunge_all()
        with count_queries() as statements:
            second = starts(client)
    assert first == second and first
    assert len(statements) == 1  # the schedule version, nothing else


@pytest.mark.parametrize("change", ["booking", "rule", "override", "holiday", "link_staff", "type_duration"])
def test_any_schedule_change_invalidates(client, db, org_link, make_booking, make_trainer, change):
    org, trainer, atype, link = org_link
    with time_machine.travel(NOW, tick=False):
        before = starts(client)
        if change == "booking":
            make_booking(staff=trainer, start=datetime(2030, 1, 7, 9, tzinfo=timezone.utc))
        elif change == "rule":
            db.session.add(AvailabilityRule(organization_id=org.id, user_id=trainer.id, day_of_week=1,
                                            start_time=time(18), end_time=time(20)))
        elif change == "override":
            db.session.add(AvailabilityOverride(organization_id=org.id, user_id=trainer.id, date=date(2030, 1, 7),
                                                type="unavailable", start_time=time(9), end_time=time(12)))
        elif change == "holiday":
            db.session.add(Holiday(organization_id=org.id, name="Closed", date=date(2030, 1, 7)))
        elif change == "link_staff":
            other = make_trainer(org=org, name="Other", hours={1: [("06:00", "08:00")]})
            link.staff = [trainer, other]
            link.type = "round_robin"
        elif change == "type_duration":
            atype.slot_interval_minutes = 30
        db.session.commit()
        after = starts(client)
    assert after != before


def test_a_cached_slot_is_never_served_inside_the_notice(client, org_link):
    with time_machine.travel(NOW, tick=False):
        first = starts(client)
    assert first[0] == "2030-01-07T09:00:00Z"
    # 07:00:30 on Monday: the 09:00 slot is now inside the two-hour notice
    with time_machine.travel(datetime(2030, 1, 7, 7, 0, 30, tzinfo=timezone.utc), tick=False):
        later = starts(client)
    assert later[0] == "2030-01-07T10:00:00Z"


def test_cache_can_be_switched_off(app, client, db, org_link, count_queries):
    app.config["AVAILABILITY_CACHE_SECONDS"] = 0
    with time_machine.travel(NOW, tick=False):
        starts(client)
        db.session.expunge_all()
        with count_queries() as statements:
            starts(client)
    assert len(statements) > 1


def test_versions_rise_only_for_the_changed_organization(db, make_org, make_booking, make_user,
                                                        make_appointment_type):
    from app.models import Organization

    a, b = make_org(), make_org()
    staff = make_user(org=a)
    db.session.expire_all()
    before_a = (a.schedule_version, a.booking_version)
    before_b = (b.schedule_version, b.booking_version)
    make_booking(staff=staff)
    db.session.expire_all()
    after_a = (db.session.get(Organization, a.id).schedule_version, db.session.get(Organization, a.id).booking_version)
    # a booking raises only the booking version: cached rules and link data stay valid
    assert after_a == (before_a[0], before_a[1] + 1)
    make_appointment_type(org=a)
    db.session.expire_all()
    assert db.session.get(Organization, a.id).schedule_version == before_a[0] + 1
    assert (db.session.get(Organization, b.id).schedule_version,
            db.session.get(Organization, b.id).booking_version) == before_b
