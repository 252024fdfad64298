"""reschedule_booking after the booking page is taken down (deactivated, or deleted): 409
`link_inactive` with a hint, as on the manage page and in the JSON API; get_booking says so before
an agent tries; cancel_booking still works (issue 16, item 9)."""
from __future__ import annotations

import uuid

import pytest
from ai_helpers import MONDAY, book_body, error_of
from sqlalchemy import delete

from app.models import Booking, BookingLink
from app.services import catalog


def take_down(db, gym, how: str) -> None:
    if how == "deactivated":
        catalog.set_booking_link_active(gym.org.id, gym.alex_page.id, False)
    else:
        db.session.execute(delete(BookingLink).where(BookingLink.id == gym.alex_page.id))
        db.session.commit()
        db.session.expire_all()


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
def test_an_agent_cannot_move_a_booking_whose_page_was_taken_down(ai, db, gym, how):
    booked = ai("book_slot", **book_body(gym)).get_json()
    booking_id = booked["booking"]["id"]
    assert booked["bookingLinkSlug"] == "alex"
    take_down(db, gym, how)

    response = ai("reschedule_booking", bookingId=booking_id, startTime=f"{MONDAY}T13:00:00Z")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "link_inactive" and "cancel" in error["hint"]
    db.session.expire_all()
    assert db.session.get(Booking, uuid.UUID(booking_id)).start_at.isoformat() == f"{MONDAY}T09:00:00+00:00"
    assert ai("cancel_booking", manageToken=booked["manageToken"]).get_json()["booking"]["status"] == "cancelled"


def test_get_booking_says_whether_the_booking_can_still_be_moved(ai, db, gym):
    booked = ai("book_slot", **book_body(gym)).get_json()
    got = ai("get_booking", bookingId=booked["booking"]["id"]).get_json()
    assert got["canRescheduleOnline"] is True
    take_down(db, gym, "deactivated")
    got = ai("get_booking", manageToken=booked["manageToken"]).get_json()
    assert got["canRescheduleOnline"] is False and got["canChangeOnline"] is True  # cancelling still is
