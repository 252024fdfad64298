"""A booking that is over, in the dashboard (issue 16, item 9): only completed / no-show can still be
set — also to put right what the job marked —, and a cancel or a move is refused with the service's
message instead of cancelling last week's session and emailing the customer.

Time is frozen on Sunday 2030-01-06 12:00 UTC (conftest.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dashboard_helpers import MONDAY, at, is_fragment, text
from sqlalchemy import func, select

from app.models import Booking, Notification

SUNDAY_9 = datetime(2030, 1, 6, 9, 0, tzinfo=timezone.utc)  # ended at 10:00, two hours before "now"


def test_an_ended_booking_can_be_marked_but_not_moved_or_cancelled(owner, gym, make_booking, db):
    ended = make_booking(staff=gym.alex, start=SUNDAY_9, appointment_type_id=gym.pt.id, booking_link_id=gym.link.id,
                         attendee_name="Last Session")
    page = text(owner.get(f"/dashboard/bookings/{ended.id}"))
    assert "This booking has ended: it can't be moved or cancelled." in page
    assert "Mark completed" in page and "Mark no-show" in page
    assert "Cancel booking" not in page and f"/bookings/{ended.id}/reschedule" not in page

    refused = owner.post(f"/dashboard/bookings/{ended.id}/cancel", {"reason": "Tidying up"}, target="booking-detail")
    assert refused.status_code == 409 and is_fragment(refused)
    assert "already taken place, so it can&#39;t be cancelled" in text(refused)
    plain = owner.post(f"/dashboard/bookings/{ended.id}/cancel", {})
    assert plain.status_code == 303
    assert "already taken place" in text(owner.get(plain.headers["Location"]))

    reschedule = text(owner.get(f"/dashboard/bookings/{ended.id}/reschedule"))
    assert "already taken place, so it can&#39;t be moved" in reschedule and 'name="start"' not in reschedule
    moved = owner.post(f"/dashboard/bookings/{ended.id}/reschedule",
                       {"start": at(MONDAY, 15).isoformat(), "staff_id": str(gym.alex.id)})
    assert moved.status_code == 409 and "already taken place, so it can&#39;t be moved" in text(moved)

    db.session.expire_all()
    row = db.session.get(Booking, ended.id)
    assert (row.status, row.start_at) == ("confirmed", SUNDAY_9)
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0  # nobody was emailed


def test_a_completed_booking_can_be_put_right_as_a_no_show(owner, gym, make_booking, db):
    done = make_booking(staff=gym.alex, start=SUNDAY_9 - timedelta(days=2), status="completed",
                        appointment_type_id=gym.pt.id, attendee_name="Did Not Come")
    page = text(owner.get(f"/dashboard/bookings/{done.id}"))
    assert "This booking is completed: it can't be moved or cancelled." in page
    assert "Mark no-show" in page and "Mark completed" not in page
    response = owner.post(f"/dashboard/bookings/{done.id}/status", {"action": "no_show"}, target="booking-detail")
    assert response.status_code == 200 and "marked as a no-show" in text(response)
    assert "Mark completed" in text(response)  # and back, if that was the mistake
    db.session.expire_all()
    assert db.session.get(Booking, done.id).status == "no_show"
