"""What the dashboard and the agents are told about bookings (app/services/reports.py): a lone "from"
date lists from that date on, and a collective booking — one row per trainer, sharing a group id —
is one booking in the list, its total and the bookings-per-day counts; per trainer (a trainer's
list, utilisation) each trainer's own row counts (issue 16, item 9)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.services import reports
from app.services.bookings import Actor, create_booking
from app.services.errors import InvalidRequest

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # Sunday; London is UTC+0 in January
MON = date(2030, 1, 7)
TZ = "Europe/London"


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


@pytest.fixture
def gym(make_org, make_trainer, make_appointment_type, make_link):
    org = make_org(slug="gym", timezone=TZ)
    alex = make_trainer(org=org, name="Alex")
    sam = make_trainer(org=org, name="Sam")
    pt = make_appointment_type(org=org, name="PT", duration_minutes=60, booking_window_days=None)
    make_link([alex], [pt], slug="alex")
    make_link([alex, sam], [pt], type="collective", slug="duo")
    return type("Gym", (), dict(org=org, alex=alex, sam=sam, pt=pt))


def book(link: str, start: datetime, name: str):
    return create_booking(link_slug=link, start_time=start, attendee_name=name,
                          attendee_email=f"{name.split()[0].lower()}@example.com", actor=Actor("attendee"),
                          now=NOW).booking


def listed(gym, **filters) -> reports.BookingPage:
    return reports.list_bookings(gym.org.id, TZ, reports.BookingFilter(**filters), now=NOW)


def test_a_from_date_alone_lists_from_that_date_onwards(db, gym):
    for day, name in ((MON, "Mon Day"), (MON + timedelta(days=1), "Tue Day"), (MON + timedelta(days=400), "Far Off")):
        book("alex", at(day, 9), name)
    assert [b.attendee_name for b in listed(gym, date_from=MON + timedelta(days=1)).bookings] == ["Tue Day", "Far Off"]
    assert [b.attendee_name for b in listed(gym, date_to=MON + timedelta(days=1)).bookings] == ["Mon Day", "Tue Day"]
    assert [b.attendee_name for b in listed(gym, date_from=MON, date_to=MON).bookings] == ["Mon Day"]
    with pytest.raises(InvalidRequest):  # a range of both dates is still at most a year
        listed(gym, date_from=MON, date_to=MON + timedelta(days=400))
    with pytest.raises(InvalidRequest):  # and a date far outside the calendar is a field error, not an overflow
        listed(gym, date_from=date(9999, 12, 31))


def test_a_collective_booking_is_listed_and_counted_once_naming_every_trainer(db, gym):
    pair = book("duo", at(MON, 9), "Pat Pair")
    solo = book("alex", at(MON, 13), "Sol Solo")
    page = listed(gym, when="all")
    assert [b.id for b in page.bookings] == [pair.id, solo.id] and page.total == 2
    assert [m.name for m in page.staff_of(pair)] == ["Alex", "Sam"]
    assert [m.name for m in page.staff_of(solo)] == ["Alex"]
    assert listed(gym, status="confirmed").total == 2
    assert listed(gym, q="pat").total == 1

    # A trainer's own list: their part of the pair, once.
    sams = listed(gym, staff_id=gym.sam.id)
    assert [(b.staff_id, b.group_id) for b in sams.bookings] == [(gym.sam.id, pair.group_id)]
    assert [m.name for m in sams.staff_of(sams.bookings[0])] == ["Alex", "Sam"]
    assert listed(gym, staff_id=gym.alex.id).total == 2


def test_bookings_per_day_counts_a_collective_booking_once_and_once_per_trainer(db, gym):
    book("duo", at(MON, 9), "Pat Pair")
    book("alex", at(MON, 13), "Sol Solo")
    assert reports.bookings_per_day(gym.org.id, MON, 2, TZ) == [(MON, 2), (MON + timedelta(days=1), 0)]
    # Each trainer's own count: the pair's session is in both trainers' days.
    assert reports.bookings_per_day(gym.org.id, MON, 1, TZ, staff_id=gym.sam.id) == [(MON, 1)]
    assert reports.bookings_per_day(gym.org.id, MON, 1, TZ, staff_id=gym.alex.id) == [(MON, 2)]
    # Utilisation is each trainer's hours: the pair's hour is booked time for both of them.
    booked = {u.name: u.booked_minutes for u in reports.utilisation(gym.org.id, MON, 1, TZ, now=NOW)}
    assert booked == {"Alex": 120, "Sam": 60}


def test_the_list_costs_the_same_queries_whatever_the_collective_bookings(db, gym, count_queries):
    book("duo", at(MON, 9), "Pat Pair")
    book("alex", at(MON, 13), "Sol Solo")
    db.session.expire_all()
    with count_queries() as few:
        listed(gym)
    for hour in (10, 11, 12):
        book("duo", at(MON + timedelta(days=1), hour), f"Duo{hour} Pair")
    db.session.expire_all()
    with count_queries() as more:
        page = listed(gym)
    assert page.total == 5 and len(more) == len(few)
