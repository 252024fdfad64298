"""PUT /api/booking/manage after the booking page is taken down (deactivated, or deleted): 409
`link_inactive`, as on the manage page and in the AI tools; GET says it can't be moved; DELETE still
cancels (issue 16, item 9)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import time_machine
from sqlalchemy import delete, select

from app.models import Booking, BookingLink
from app.services import catalog

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def token(client, world):
    response = client.post("/api/booking/create", json={
        "link_slug": "pt", "start_time": "2030-01-07T09:00:00Z", "attendee_name": "Jane Smith",
        "attendee_email": "jane@example.com"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["manage_token"]


def take_down(db, how: str) -> None:
    link = db.session.scalars(select(BookingLink).where(BookingLink.slug == "pt")).one()
    if how == "deactivated":
        catalog.set_booking_link_active(link.organization_id, link.id, False)
    else:
        db.session.execute(delete(BookingLink).where(BookingLink.id == link.id))
        db.session.commit()
        db.session.expire_all()


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
def test_a_move_after_the_page_is_taken_down_is_a_409_and_cancel_still_works(client, db, token, how):
    take_down(db, how)
    response = client.put("/api/booking/manage", json={"token": token, "start_time": "2030-01-07T13:00:00Z"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "link_inactive" and "can't be moved online" in error["message"]
    db.session.expire_all()
    assert db.session.scalars(select(Booking.start_at)).one() == datetime(2030, 1, 7, 9, tzinfo=timezone.utc)

    cancelled = client.delete("/api/booking/manage", json={"token": token})
    assert cancelled.status_code == 200 and cancelled.get_json()["booking"]["status"] == "cancelled"


def test_get_says_whether_the_booking_can_still_be_moved(client, db, token):
    assert client.get(f"/api/booking/manage?token={token}").get_json()["can_reschedule"] is True
    take_down(db, "deactivated")
    got = client.get(f"/api/booking/manage?token={token}").get_json()
    assert got["can_reschedule"] is False and got["booking"]["status"] == "confirmed"
