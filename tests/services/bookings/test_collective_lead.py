"""A collective booking is moved on its lead's grid, as its page offers it, whatever order the
database returns the group's rows in (issue 16, item 1: PostgreSQL returns them in heap order,
and an UPDATE moves a row to the end of the heap)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app.models import Booking
from app.services.bookings import Actor, SlotTaken, create_booking, reschedule_booking
from app.services.bookings.change import lead_first
from app.services.scheduling import search_slots

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # Sunday; London is UTC+0 in January
MON = date(2030, 1, 7)
ATTENDEE = Actor("attendee")


@pytest.fixture
def duo(db, make_org, make_trainer, make_appointment_type, make_link):
    """Alex (the lead) works 09:00-17:00, Sam 09:30-17:30: the pair's page offers the hours on
    Alex's grid (10:00, 11:00 ...), never Sam's (10:30, 11:30 ...)."""
    org = make_org(slug="duo-gym", timezone="Europe/London", cancellation_cutoff_minutes=0)
    alex = make_trainer(org=org, name="Alex", email="alex@duo.example",
                        hours={d: [("09:00", "17:00")] for d in range(1, 6)})
    sam = make_trainer(org=org, name="Sam", email="sam@duo.example",
                       hours={d: [("09:30", "17:30")] for d in range(1, 6)})
    pt = make_appointment_type(org=org, name="Duo PT", duration_minutes=60, booking_window_days=None,
                               min_notice_minutes=0)
    link = make_link([alex, sam], [pt], type="collective", slug="duo")
    return type("Duo", (), {"alex": alex, "sam": sam, "link": link})


def offered(booking_id) -> set[datetime]:
    search = search_slots(link_slug="duo", date_=MON, exclude_booking_id=booking_id, now=NOW, use_cache=False)
    return {slot.start for slot in search.slots}


def test_a_collective_booking_moves_to_the_times_its_page_offers_whatever_the_row_order(db, duo):
    result = create_booking(link_slug="duo", start_time=datetime(2030, 1, 7, 10, tzinfo=timezone.utc),
                            attendee_name="Jane Smith", attendee_email="jane@example.com", actor=ATTENDEE, now=NOW)
    lead = result.booking
    # Touch the lead row: on PostgreSQL its new version goes to the end of the heap, so a SELECT
    # without ORDER BY now returns Sam's row first (as after any earlier move).
    db.session.execute(update(Booking).where(Booking.id == lead.id).values(description=Booking.description))
    db.session.commit()
    rows = db.session.scalars(select(Booking).where(Booking.group_id == lead.group_id)).all()
    assert [row.staff_id for row in lead_first(list(rows))] == [duo.alex.id, duo.sam.id]

    starts = offered(lead.id)
    on_alex_grid = datetime(2030, 1, 7, 13, tzinfo=timezone.utc)
    on_sam_grid = datetime(2030, 1, 7, 13, 30, tzinfo=timezone.utc)
    assert on_alex_grid in starts and on_sam_grid not in starts
    with pytest.raises(SlotTaken):  # never offered: refused, from any row of the group
        reschedule_booking(lead.id, start_time=on_sam_grid, actor=ATTENDEE, now=NOW)
    moved = reschedule_booking(lead.id, start_time=on_alex_grid, actor=ATTENDEE, now=NOW)
    assert moved.start_at == on_alex_grid
    # ...and again, once more through the other trainer's row and after another shuffle of the heap.
    db.session.execute(update(Booking).where(Booking.id == lead.id).values(description=Booking.description))
    db.session.commit()
    sams = next(row for row in rows if row.staff_id == duo.sam.id)
    later = on_alex_grid + timedelta(hours=2)
    assert later in offered(lead.id)
    reschedule_booking(sams.id, start_time=later, actor=ATTENDEE, now=NOW)
    db.session.expire_all()
    assert {row.start_at for row in db.session.scalars(select(Booking).where(Booking.group_id == lead.group_id))} \
        == {later}
