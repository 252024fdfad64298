"""The manage page after the booking page is taken down (deactivated, or deleted): the booking can be
cancelled but not moved online — not even by a reschedule form opened before the page went down —
by the same rule as the JSON API and the AI tools (issue 16, item 9)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import delete

from app.models import Booking, BookingLink
from app.services import catalog

TUESDAY_10 = datetime(2030, 1, 8, 10, 0, tzinfo=timezone.utc)


def take_down(db, link, how: str) -> None:
    if how == "deactivated":
        catalog.set_booking_link_active(link.organization_id, link.id, False)
    else:
        db.session.execute(delete(BookingLink).where(BookingLink.id == link.id))
        db.session.commit()
        db.session.expire_all()


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
def test_a_move_confirmed_after_the_page_went_down_is_refused_and_cancel_still_works(
        client, db, booked, link, pages, how):
    booking, token = booked()
    confirm = client.get(f"/booking/manage/{token}/reschedule?date=2030-01-09&slot=2030-01-09T14:00:00Z")
    action, fields = pages.form(confirm, "/reschedule")
    take_down(db, link, how)

    response = client.post(action, data=fields)
    assert response.status_code == 303 and response.headers["Location"] == f"/booking/manage/{token}"
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).start_at == TUESDAY_10
    after = pages.text(client.get(response.headers["Location"]))
    assert "can&#39;t be moved online" in after
    assert f"/booking/manage/{token}/reschedule" not in after  # nothing offers a new time
    assert "Choose a new time" not in pages.text(client.get(f"/booking/manage/{token}/reschedule"))

    action, fields = pages.form(client.get(f"/booking/manage/{token}/cancel"), "/cancel")
    assert client.post(action, data=fields).status_code == 303
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "cancelled"
