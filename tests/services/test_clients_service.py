"""Clients (app/services/clients.py): made by the first booking, found again by normalised email on
every later one, one per organization, race-safe; searched, shown and noted within one organization."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.models import Booking, Client
from app.services import clients
from app.services.bookings import Actor, SlotTaken, cancel_booking, create_booking, set_booking_status
from app.services.errors import InvalidRequest, NotFound

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # Sunday; London is UTC+0 in January
MON_9 = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)
ATTENDEE = Actor("attendee", ip="203.0.113.5", user_agent="pytest")
STAFF = Actor("staff", id="owner")


@pytest.fixture
def world(make_org, make_trainer, make_appointment_type, make_link):
    org = make_org(slug="gym", timezone="Europe/London")
    alex = make_trainer(org=org, name="Alex", hours={day: [("06:00", "22:00")] for day in range(7)})
    sam = make_trainer(org=org, name="Sam", hours={day: [("06:00", "22:00")] for day in range(7)})
    pt = make_appointment_type(org=org, name="PT", duration_minutes=60, booking_window_days=None, min_notice_minutes=0)
    make_link([alex], [pt], slug="pt")
    make_link([sam], [pt], slug="sam")
    make_link([alex, sam], [pt], type="collective", slug="duo")
    rival = make_org(slug="rival", timezone="Europe/London")
    rival_alex = make_trainer(org=rival, name="Rival Alex", hours={day: [("06:00", "22:00")] for day in range(7)})
    rival_pt = make_appointment_type(org=rival, name="PT", duration_minutes=60, booking_window_days=None,
                                     min_notice_minutes=0)
    make_link([rival_alex], [rival_pt], slug="rival-pt")
    return type("World", (), dict(org=org, alex=alex, sam=sam, rival=rival))


def book(link="pt", start=MON_9, **kw):
    values = dict(link_slug=link, start_time=start, attendee_name="Jane Smith", attendee_email="jane@example.com",
                  actor=ATTENDEE, now=NOW)
    values.update(kw)
    return create_booking(**values).booking


def all_clients(db) -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.email)))


def test_the_first_booking_makes_the_client_and_later_ones_find_it_by_normalised_email(db, world):
    first = book(attendee_name="Jane Smith", attendee_email="Jane@Example.COM", attendee_phone="07700 900123")
    second = book(start=MON_9 + timedelta(hours=2), attendee_name="Jane S", attendee_email="  jane@example.com ")
    third = book(link="sam", start=MON_9 + timedelta(days=1), attendee_name="Janey", attendee_email="JANE@example.com",
                 attendee_phone="+44 7700 900456")
    [client] = all_clients(db)
    assert client.organization_id == world.org.id
    assert client.email == "jane@example.com"  # the key: letter case aside
    assert first.client_id == second.client_id == third.client_id == client.id
    assert first.attendee_email == "Jane@example.com"  # each booking keeps the address as it was given
    # The latest booking names the client; one without a phone keeps the phone the client had.
    assert (client.name, client.phone) == ("Janey", "+447700900456")
    db.session.expire_all()
    assert db.session.get(Client, client.id).name == "Janey"


def test_the_name_and_phone_of_the_latest_booking_stay_when_it_gives_no_phone(db, world):
    book(attendee_phone="07700 900123")
    book(start=MON_9 + timedelta(hours=2), attendee_name="Jane Q Smith")
    [client] = all_clients(db)
    assert (client.name, client.phone) == ("Jane Q Smith", "+447700900123")


def test_another_organization_has_its_own_client_for_the_same_address(db, world):
    ours = book()
    theirs = book(link="rival-pt")
    assert ours.client_id != theirs.client_id
    assert {(c.organization_id, c.email) for c in all_clients(db)} == {(world.org.id, "jane@example.com"),
                                                                      (world.rival.id, "jane@example.com")}


def test_a_booking_that_fails_leaves_no_client_behind(db, world):
    book()
    with pytest.raises(SlotTaken):
        book(attendee_email="new@example.com")
    with pytest.raises(InvalidRequest):
        book(start=MON_9 + timedelta(hours=3), attendee_email="other@example.com", attendee_phone="12")
    assert [c.email for c in all_clients(db)] == ["jane@example.com"]


def test_a_collective_booking_is_one_booking_of_one_client(db, world):
    lead = book(link="duo")
    rows = db.session.scalars(select(Booking).where(Booking.group_id == lead.group_id)).all()
    assert len(rows) == 2 and {row.client_id for row in rows} == {lead.client_id}
    [row] = clients.search_clients(world.org.id, now=NOW).rows
    assert row.bookings == 1 and row.upcoming == 1  # once for the gym
    for trainer in (world.alex, world.sam):  # and once in each trainer's own view
        assert clients.search_clients(world.org.id, staff_id=trainer.id, now=NOW).rows[0].bookings == 1


def test_search_by_name_email_or_phone_within_the_organization(db, world):
    book(attendee_name="Jane Smith", attendee_phone="07700 900123")
    book(start=MON_9 + timedelta(hours=2), attendee_name="Bob Jones", attendee_email="bob@gym.example")
    book(link="rival-pt", attendee_name="Jane Rival", attendee_email="jane.rival@example.com")

    def names(q, **kw):
        return [row.client.name for row in clients.search_clients(world.org.id, q, now=NOW, **kw).rows]

    assert names(None) == ["Bob Jones", "Jane Smith"]  # by name; never the rival gym's Jane
    assert names("JANE") == ["Jane Smith"]
    assert names("gym.example") == ["Bob Jones"]
    assert names("07700 900123") == names("+44 7700 900123") == names("900 123") == ["Jane Smith"]
    assert names("%") == [] and names("_") == []  # LIKE's wildcards are letters here
    with pytest.raises(InvalidRequest):
        names("x" * 101)


def test_a_trainer_sees_only_the_clients_they_have_bookings_with(db, world):
    book(attendee_name="Jane Smith")  # with Alex
    book(link="sam", attendee_name="Bob Jones", attendee_email="bob@example.com")
    cancelled = book(link="sam", start=MON_9 + timedelta(hours=3), attendee_name="Cat", attendee_email="cat@example.com")
    cancel_booking(cancelled.id, actor=STAFF, now=NOW)
    assert [r.client.name for r in clients.search_clients(world.org.id, staff_id=world.alex.id, now=NOW).rows] == \
        ["Jane Smith"]
    assert [r.client.name for r in clients.search_clients(world.org.id, staff_id=world.sam.id, now=NOW).rows] == \
        ["Bob Jones", "Cat"]  # a cancelled booking is still theirs to look up
    jane = clients.search_clients(world.org.id, "jane", now=NOW).rows[0].client
    assert clients.has_bookings_with(world.org.id, jane.id, world.alex.id)
    assert not clients.has_bookings_with(world.org.id, jane.id, world.sam.id)


def test_a_clients_page_splits_upcoming_from_past_and_counts_no_shows_and_cancellations(db, world):
    gone = book(start=MON_9)
    missed = book(start=MON_9 + timedelta(hours=2))
    dropped = book(start=MON_9 + timedelta(days=2))
    soon = book(link="sam", start=MON_9 + timedelta(days=3))
    set_booking_status(gone.id, action="complete", actor=STAFF, now=MON_9 + timedelta(hours=1))
    set_booking_status(missed.id, action="no_show", actor=STAFF, now=MON_9 + timedelta(hours=3))
    cancel_booking(dropped.id, actor=STAFF, reason="Injured", now=MON_9 + timedelta(hours=3))
    later = MON_9 + timedelta(hours=4)

    detail = clients.client_detail(world.org.id, gone.client_id, now=later)
    assert [b.id for b in detail.upcoming] == [soon.id]
    assert [b.id for b in detail.past] == [dropped.id, missed.id, gone.id]  # newest first
    assert (detail.stats.bookings, detail.stats.no_shows, detail.stats.cancellations) == (4, 1, 1)
    assert detail.stats.next_at == soon.start_at and detail.stats.last_at == missed.start_at
    mine = clients.client_detail(world.org.id, gone.client_id, staff_id=world.sam.id, now=later)
    assert [b.id for b in mine.upcoming] == [soon.id] and mine.past == [] and mine.stats.bookings == 1


def test_notes_and_opt_outs_are_saved_within_the_organization(db, world):
    client_id = book().client_id
    rival_id = book(link="rival-pt").client_id
    saved = clients.update_client(world.org.id, client_id, notes="  Knee injury.\r\nNo squats.  ",
                                  marketing_email_opt_out=True, marketing_sms_opt_out=False)
    db.session.expire_all()
    client = db.session.get(Client, client_id)
    assert saved.id == client_id and client.notes == "Knee injury.\nNo squats."
    assert (client.marketing_email_opt_out, client.marketing_sms_opt_out) == (True, False)
    for other in (rival_id, "not-an-id", None):
        with pytest.raises(NotFound):
            clients.update_client(world.org.id, other, notes="x", marketing_email_opt_out=False,
                                  marketing_sms_opt_out=False)
        with pytest.raises(NotFound):
            clients.client_detail(world.org.id, other)
    with pytest.raises(InvalidRequest):
        clients.update_client(world.org.id, client_id, notes="x" * 5001, marketing_email_opt_out=False,
                              marketing_sms_opt_out=False)
    assert db.session.get(Client, rival_id).notes is None


def test_twenty_first_bookings_at_once_by_one_new_address_make_one_client(app, db, world):
    """Twenty requests for twenty different times, released together, all by one address the gym has
    never seen: every booking is made, and all belong to one client (PostgreSQL: INSERT … ON CONFLICT
    waits for the first and finds its row; SQLite: booking transactions are serialised)."""
    starts = [MON_9 + timedelta(days=day, hours=hour) for day in range(4) for hour in range(5)]
    barrier = threading.Barrier(len(starts))
    outcomes: list = [None] * len(starts)

    def attempt(i):
        with app.app_context():
            barrier.wait()
            try:
                outcomes[i] = book(start=starts[i], attendee_email="New.Member@example.com" if i % 2 else
                                   "new.member@example.com").id
            except Exception as exc:  # noqa: BLE001  (the assertion below names it)
                outcomes[i] = exc
            finally:
                from app.extensions import db as thread_db

                thread_db.session.remove()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(starts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [o for o in outcomes if o is None or isinstance(o, Exception)] == [], outcomes  # no error, none stuck
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == len(starts)
    [client] = all_clients(db)
    assert client.email == "new.member@example.com"
    assert set(db.session.scalars(select(Booking.client_id))) == {client.id}


def test_a_trainer_sees_the_clients_of_the_classes_they_teach(db, world, make_class_type, make_class_session):
    from app.services import classes as class_service

    spin = make_class_type(org=world.org)
    session = make_class_session(ctype=spin, instructor=world.sam, start=MON_9 + timedelta(days=1))
    class_service.book_class(session_id=session.id, attendee_name="Dee Class", attendee_email="dee@example.com",
                             actor=ATTENDEE, now=NOW)
    dee = clients.search_clients(world.org.id, "dee", now=NOW).rows[0].client
    assert [r.client.name for r in clients.search_clients(world.org.id, staff_id=world.sam.id, now=NOW).rows] == \
        ["Dee Class"]
    assert clients.has_bookings_with(world.org.id, dee.id, world.sam.id)
    assert not clients.has_bookings_with(world.org.id, dee.id, world.alex.id)
    assert clients.search_clients(world.org.id, staff_id=world.alex.id, now=NOW).rows == []
