"""GET /api/booking/availability: the spec's contract, its errors, and its cost."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import text

from app.models import AvailabilityOverride, Holiday

# A Monday. All times below are Europe/London, which is UTC+0 in January.
MONDAY = date(2030, 1, 7)
NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def org(make_org):
    return make_org(slug="atlas", name="Atlas", timezone="Europe/London")


@pytest.fixture
def pt_type(make_appointment_type, org):
    return make_appointment_type(org=org, name="Personal Training", duration_minutes=60, buffer_after_minutes=15,
                                 booking_window_days=None)


def get(client, **params):
    return client.get("/api/booking/availability", query_string=params)


def starts(body) -> list[str]:
    return [slot["start"] for slot in body["slots"]]


def test_individual_link_returns_the_spec_shape(client, org, make_trainer, make_link, pt_type):
    trainer = make_trainer(org=org, name="John Doe")
    link = make_link([trainer], [pt_type], slug="personal-training")
    response = get(client, link="personal-training", date=MONDAY.isoformat())
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True
    assert body["booking_link"] == {"slug": "personal-training", "name": link.name, "type": "individual"}
    first = body["slots"][0]
    assert first == {
        "start": "2030-01-07T09:00:00Z", "end": "2030-01-07T10:00:00Z", "duration": 60,
        "staff_id": str(trainer.id), "staff_name": "John Doe", "appointment_type_id": str(pt_type.id),
        "staff_ids": [str(trainer.id)], "local_start": "2030-01-07T09:00:00+00:00",
        "local_end": "2030-01-07T10:00:00+00:00",
    }
    # 60 minutes + 15 buffer after, inside 09:00–17:00: the last start is 15:00 (ends 16:15 with buffer)
    assert starts(body)[-1] == "2030-01-07T15:00:00Z"
    assert len(body["slots"]) == 7


def test_client_timezone_changes_the_days_and_labels_not_the_instants(client, org, make_trainer, make_link, pt_type):
    make_link([make_trainer(org=org)], [pt_type], slug="pt")
    london = get(client, link="pt", start_date="2030-01-07", end_date="2030-01-08").get_json()
    tokyo = get(client, link="pt", start_date="2030-01-07", end_date="2030-01-09", timezone="Asia/Tokyo").get_json()
    assert tokyo["timezone"] == "Asia/Tokyo"
    # Monday 09:00 London is Monday 18:00 Tokyo
    assert tokyo["slots"][0]["local_start"] == "2030-01-07T18:00:00+09:00"
    assert set(starts(london)) <= set(starts(tokyo))


def test_existing_booking_blocks_with_its_buffers(client, org, make_trainer, make_link, make_booking, pt_type):
    trainer = make_trainer(org=org)
    make_link([trainer], [pt_type], slug="pt")
    start = datetime(2030, 1, 7, 11, 0, tzinfo=timezone.utc)
    make_booking(staff=trainer, start=start, buffer_after_minutes=15)
    body = get(client, link="pt", date="2030-01-07").get_json()
    offered = starts(body)
    assert "2030-01-07T10:00:00Z" not in offered  # its buffer would run into the booking
    assert "2030-01-07T11:00:00Z" not in offered
    assert "2030-01-07T12:00:00Z" not in offered  # the booking's own 15-minute buffer runs to 12:15
    assert "2030-01-07T09:00:00Z" in offered


def test_holidays_and_days_off_remove_slots(client, db, org, make_trainer, make_link, pt_type):
    trainer = make_trainer(org=org)
    make_link([trainer], [pt_type], slug="pt")
    db.session.add(Holiday(organization_id=org.id, name="Bank holiday", date=date(2030, 1, 8), affects_all_staff=True))
    db.session.add(AvailabilityOverride(organization_id=org.id, user_id=trainer.id, date=date(2030, 1, 9),
                                        type="unavailable", reason="Dentist"))
    db.session.add(AvailabilityOverride(organization_id=org.id, user_id=trainer.id, date=date(2030, 1, 10),
                                        type="unavailable", start_time=time(9), end_time=time(12)))
    db.session.commit()
    body = get(client, link="pt", start_date="2030-01-07", end_date="2030-01-10").get_json()
    days = {s[:10] for s in starts(body)}
    assert days == {"2030-01-07", "2030-01-10"}
    assert min(s for s in starts(body) if s.startswith("2030-01-10")) == "2030-01-10T12:00:00Z"


def test_round_robin_offers_each_time_once_to_the_fairest_trainer(client, org, make_trainer, make_link,
                                                                  make_booking, make_appointment_type):
    consult = make_appointment_type(org=org, name="Consultation", duration_minutes=30, booking_window_days=None)
    busy = make_trainer(org=org, name="Busy Bea")
    free = make_trainer(org=org, name="Free Fay")
    make_link([busy, free], [consult], type="round_robin", slug="consult")
    make_booking(staff=busy, start=datetime(2030, 1, 9, 9, tzinfo=timezone.utc))
    body = get(client, link="consult", date="2030-01-07").get_json()
    assert len(starts(body)) == len(set(starts(body))) == 16
    assert {slot["staff_name"] for slot in body["slots"]} == {"Free Fay"}
    # where Fay is busy, Bea gets the slot
    make_booking(staff=free, start=datetime(2030, 1, 7, 9, tzinfo=timezone.utc), minutes=30)
    make_booking(staff=free, start=datetime(2030, 1, 10, 9, tzinfo=timezone.utc), minutes=30)
    body = get(client, link="consult", date="2030-01-07").get_json()
    by_start = {slot["start"]: slot["staff_name"] for slot in body["slots"]}
    assert by_start["2030-01-07T09:00:00Z"] == "Busy Bea"
    assert by_start["2030-01-07T09:30:00Z"] == "Busy Bea"  # now Fay has more bookings in the period


def test_collective_link_needs_everyone_free(client, org, make_trainer, make_link, make_booking, pt_type):
    a = make_trainer(org=org, name="Ann", hours={1: [("09:00", "13:00")]})
    b = make_trainer(org=org, name="Ben", hours={1: [("11:00", "17:00")]})
    make_link([a, b], [pt_type], type="collective", slug="duo")
    body = get(client, link="duo", date="2030-01-07").get_json()
    assert starts(body) == ["2030-01-07T11:00:00Z"]  # 11:00–12:00 + 15 min buffer fits 11:00–13:00
    assert set(body["slots"][0]["staff_ids"]) == {str(a.id), str(b.id)}


def test_staff_filter_and_org_query(client, org, make_trainer, make_link, pt_type):
    a = make_trainer(org=org, name="Ann")
    b = make_trainer(org=org, name="Ben", hours={2: [("09:00", "12:00")]})
    make_link([a, b], [pt_type], type="round_robin", slug="team")
    only_b = get(client, link="team", start_date="2030-01-07", end_date="2030-01-08", staff_id=str(b.id)).get_json()
    assert {s["staff_name"] for s in only_b["slots"]} == {"Ben"}
    assert {s["start"][:10] for s in only_b["slots"]} == {"2030-01-08"}
    by_org = get(client, org="atlas", date="2030-01-08", duration=60).get_json()
    assert by_org["booking_link"] is None
    assert {s["staff_name"] for s in by_org["slots"]} == {"Ann", "Ben"}


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"date": "2030-02-30"}, 400, "date"),
        ({"date": "tomorrow"}, 400, "date"),
        ({"start_date": "2030-01-09", "end_date": "2030-01-07"}, 400, "end_date"),
        ({"start_date": "2030-01-01", "end_date": "2030-03-15"}, 400, "end_date"),
        ({"date": "2030-01-07", "timezone": "Mars/Olympus"}, 400, "timezone"),
        ({"date": "2030-01-07", "duration": "45"}, 400, "duration"),
        ({"date": "2030-01-07", "duration": "-5"}, 400, "duration"),
        ({"date": "2030-01-07", "staff_id": "00000000-0000-0000-0000-000000000000"}, 400, "staff_id"),
        ({"date": "2030-01-07", "staff_id": "not-a-uuid"}, 400, "staff_id"),
        ({"date": "2030-01-07", "appointment_type_id": "00000000-0000-0000-0000-000000000000"}, 400,
         "appointment_type_id"),
        ({"date": "2030-01-07", "start_date": "2030-01-07"}, 400, "date"),
    ],
)
def test_bad_input_names_the_field(client, org, make_trainer, make_link, pt_type, params, status, field):
    make_link([make_trainer(org=org)], [pt_type], slug="pt")
    response = get(client, link="pt", **params)
    assert response.status_code == status
    body = response.get_json()
    assert body["success"] is False
    assert field in body["error"]["fields"]
    assert body["error"]["message"]


def test_a_place_for_a_zone_gets_the_zone_it_means(client, org, make_trainer, make_link, pt_type):
    """'London' is no IANA name: the 400 says which one was meant, as a member a program can use."""
    make_link([make_trainer(org=org)], [pt_type], slug="pt")
    body = get(client, link="pt", date="2030-01-07", timezone="London").get_json()
    assert body["error"]["suggestion"] == "Europe/London"
    assert "Europe/London" in body["error"]["fields"]["timezone"]


def test_missing_link_and_org_is_a_400(client):
    response = get(client, date="2030-01-07")
    assert response.status_code == 400
    assert "link" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("flag", ["is_public", "is_active"])
def test_unknown_private_or_inactive_link_is_404(client, org, make_trainer, make_link, pt_type, flag):
    make_link([make_trainer(org=org)], [pt_type], slug="hidden", **{flag: False})
    assert get(client, link="hidden", date="2030-01-07").status_code == 404
    assert get(client, link="never-made", date="2030-01-07").status_code == 404
    assert get(client, org="never-made", date="2030-01-07").status_code == 404


def test_query_count_does_not_grow_with_staff_or_days(app, client, db, org, make_trainer, make_link, pt_type,
                                                      count_queries, make_booking):
    few = [make_trainer(org=org) for _ in range(2)]
    many = [make_trainer(org=org) for _ in range(8)]
    for trainer in few + many:
        make_booking(staff=trainer, start=datetime(2030, 1, 7, 13, tzinfo=timezone.utc))
    make_link(few, [pt_type], type="round_robin", slug="few")
    make_link(many, [pt_type], type="round_robin", slug="many")
    counts = []
    for slug, days in (("few", 1), ("many", 1), ("many", 30)):
        db.session.expunge_all()  # a cold session, as in a real request
        app.extensions["slot_cache"].clear()  # and cold caches: the worst case is what must not grow
        with count_queries() as statements:
            response = get(client, link=slug, start_date="2030-01-07",
                           end_date=(MONDAY + timedelta(days=days - 1)).isoformat())
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] == counts[2], counts
    assert counts[0] <= 12


@pytest.mark.skipif("config.getoption('--db') != 'sqlite'")
def test_booking_lookup_uses_the_staff_time_index_on_sqlite(db, make_trainer):
    plan = db.session.execute(text(
        "EXPLAIN QUERY PLAN SELECT start_at FROM bookings WHERE staff_id IN ('a', 'b') "
        "AND status IN ('pending', 'confirmed') AND start_at >= '2030-01-05' AND start_at < '2030-01-09'"
    )).all()
    assert any("ix_bookings_staff_start" in str(row) for row in plan), plan


@pytest.mark.postgres_only
def test_booking_lookup_uses_an_index_on_postgresql(db, make_trainer, make_booking):
    trainer = make_trainer()
    for week in range(300):
        make_booking(staff=trainer, start=datetime(2024, 1, 1, 9, tzinfo=timezone.utc) + timedelta(days=week))
    db.session.execute(text("ANALYZE bookings"))
    plan = "\n".join(row[0] for row in db.session.execute(text(
        "EXPLAIN SELECT start_at FROM bookings WHERE staff_id = :s AND status IN ('pending', 'confirmed') "
        "AND start_at >= '2025-01-05' AND start_at < '2025-01-09'"), {"s": trainer.id}))
    assert "Seq Scan" not in plan, plan


def test_org_query_does_not_reveal_what_only_a_private_page_offers(client, db, org, make_trainer,
                                                                      make_appointment_type, make_link, pt_type):
    """A private VIP page's service and its trainer stay private: the team-wide query offers only what
    some active public page offers, and each service only by the trainers who offer it there."""
    ann = make_trainer(org=org, name="Ann")
    vic = make_trainer(org=org, name="Vic")
    vip = make_appointment_type(org=org, name="VIP", duration_minutes=60)
    make_link([ann], [pt_type], slug="ann")
    make_link([vic], [vip], slug="vip", is_public=False)
    pt = get(client, org="atlas", date="2030-01-08").get_json()
    assert pt["appointment_type"]["id"] == str(pt_type.id) and {s["staff_name"] for s in pt["slots"]} == {"Ann"}
    refused = get(client, org="atlas", date="2030-01-08", appointment_type_id=str(vip.id))
    assert refused.status_code == 400 and "appointment_type_id" in refused.get_json()["error"]["fields"]
    pt_by_vic = get(client, org="atlas", date="2030-01-08", staff_id=str(vic.id))
    assert pt_by_vic.status_code == 400  # Vic offers nothing publicly
