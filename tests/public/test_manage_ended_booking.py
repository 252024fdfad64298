"""The manage page's forms posted after the session ended (a tab left open): the service refuses, and
the page says the session has taken place — not "within 12 hours" (issue 16, item 9)."""
from __future__ import annotations

from datetime import datetime, timezone

import time_machine

from app.models import Booking

AFTER = datetime(2030, 1, 8, 11, 30, tzinfo=timezone.utc)  # the Tuesday 10:00–11:00 session has ended


def test_cancelling_or_moving_after_the_end_says_it_has_taken_place(client, db, booked, pages):
    booking, token = booked()
    cancel_action, cancel_fields = pages.form(client.get(f"/booking/manage/{token}/cancel"), "/cancel")
    with time_machine.travel(AFTER, tick=False):
        cancelled = client.post(cancel_action, data=cancel_fields)
        assert cancelled.status_code == 303
        page = pages.text(client.get(cancelled.headers["Location"]))
        assert "already taken place, so it can&#39;t be cancelled" in page and "within" not in page
        moved = client.post(f"/booking/manage/{token}/reschedule", data={
            "csrf_token": cancel_fields["csrf_token"], "slot": "2030-01-09T09:00:00Z"})
        assert moved.status_code == 303
        assert "already taken place, so it can&#39;t be moved" in pages.text(client.get(moved.headers["Location"]))
    db.session.expire_all()
    row = db.session.get(Booking, booking.id)
    assert (row.status, row.start_at) == ("confirmed", datetime(2030, 1, 8, 10, 0, tzinfo=timezone.utc))
