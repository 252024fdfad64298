"""A booking whose booking page was taken down (deactivated, or deleted: booking_link_id becomes NULL)
or no longer offers its service: customers and agents can't move it online any more — 409
`link_inactive` / `type_not_offered` from the service, for every way in — while they can still
cancel it, and staff (and the trainer's own calendar) can still move it (issue 16, item 9)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import delete

from app.models import Booking, BookingLink
from app.services import bookings, catalog
from app.services.bookings import Actor, cancel_booking, create_booking, reschedule_booking
from app.services.errors import Conflict

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # Sunday; London is UTC+0 in January
MON_9 = datetime(2030, 1, 7, 9, tzinfo=timezone.utc)
MON_13 = datetime(2030, 1, 7, 13, tzinfo=timezone.utc)


@pytest.fixture
def gym(make_org, make_trainer, make_appointment_type, make_link):
    org = make_org(slug="gym", timezone="Europe/London", cancellation_cutoff_minutes=12 * 60)
    alex = make_trainer(org=org, name="Alex")
    sam = make_trainer(org=org, name="Sam")
    pt = make_appointment_type(org=org, name="PT", duration_minutes=60, booking_window_days=None)
    stretch = make_appointment_type(org=org, name="Stretch", duration_minutes=60, booking_window_days=None)
    page = make_link([alex], [pt, stretch], slug="pt")
    duo = make_link([alex, sam], [pt], type="collective", slug="duo")
    return type("Gym", (), dict(org=org, alex=alex, sam=sam, pt=pt, stretch=stretch, page=page, duo=duo))


def book(link="pt", **kw):
    return create_booking(link_slug=link, start_time=MON_9, attendee_name="Jane Smith",
                          attendee_email="jane@example.com", actor=Actor("attendee"), now=NOW, **kw).booking


def take_down(db, gym, link: BookingLink, how: str) -> None:
    if how == "deactivated":
        catalog.set_booking_link_active(gym.org.id, link.id, False)
    else:  # deleted: the booking stays, without a page (ON DELETE SET NULL)
        db.session.execute(delete(BookingLink).where(BookingLink.id == link.id))
        db.session.commit()
        db.session.expire_all()


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
@pytest.mark.parametrize("actor", [Actor("attendee"), Actor("ai", id="key")], ids=["customer", "agent"])
def test_customers_and_agents_cannot_move_a_booking_whose_page_was_taken_down(db, gym, how, actor):
    booking = book()
    take_down(db, gym, gym.page, how)
    assert (booking.booking_link_id is None) == (how == "deleted")
    with pytest.raises(Conflict) as caught:
        reschedule_booking(booking.id, start_time=MON_13, actor=actor, now=NOW)
    assert caught.value.code == "link_inactive" and "can't be moved online" in caught.value.message
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).start_at == MON_9
    # The booking stands, so it can still be cancelled.
    assert cancel_booking(booking.id, actor=actor, now=NOW).status == "cancelled"


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
def test_staff_and_the_trainers_calendar_can_still_move_it(db, gym, how):
    booking = book()
    take_down(db, gym, gym.page, how)
    assert reschedule_booking(booking.id, start_time=MON_13, actor=Actor("staff", id="s"), now=NOW).start_at == MON_13
    later = MON_13.replace(hour=15)
    assert reschedule_booking(booking.id, start_time=later, actor=Actor("calendar"), now=NOW).start_at == later


def test_a_collective_booking_on_a_page_taken_down_is_refused_from_any_row(db, gym):
    lead = book("duo")
    catalog.set_booking_link_active(gym.org.id, gym.duo.id, False)
    other = next(row for row in db.session.query(Booking).filter_by(group_id=lead.group_id) if row.id != lead.id)
    for row in (lead, other):
        with pytest.raises(Conflict) as caught:
            reschedule_booking(row.id, start_time=MON_13, actor=Actor("attendee"), now=NOW)
        assert caught.value.code == "link_inactive"


@pytest.mark.parametrize("change", ["removed from the page", "deactivated"])
def test_a_service_the_page_no_longer_offers_cannot_be_moved_online(db, gym, change):
    booking = book(appointment_type_id=str(gym.stretch.id))
    if change == "deactivated":
        catalog.set_appointment_type_active(gym.org.id, gym.stretch.id, False)
    else:
        gym.page.appointment_types = [gym.pt]
        db.session.commit()
    with pytest.raises(Conflict) as caught:
        reschedule_booking(booking.id, start_time=MON_13, actor=Actor("attendee"), now=NOW)
    assert caught.value.code == "type_not_offered"
    assert reschedule_booking(booking.id, start_time=MON_13, actor=Actor("staff", id="s"), now=NOW).start_at == MON_13


def test_a_page_put_back_online_takes_moves_again(db, gym):
    booking = book()
    catalog.set_booking_link_active(gym.org.id, gym.page.id, False)
    assert bookings.online_move_refusal(booking).code == "link_inactive"
    catalog.set_booking_link_active(gym.org.id, gym.page.id, True)
    assert bookings.online_move_refusal(booking) is None
    assert reschedule_booking(booking.id, start_time=MON_13, actor=Actor("attendee"), now=NOW).start_at == MON_13
