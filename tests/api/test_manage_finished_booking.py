"""/api/booking/manage on a booking that is over (issue 16, item 9): 409 `booking_finished` with a
message saying so — not `outside_cutoff` ("within 12 hours") as if it were still to come."""
from __future__ import annotations

from datetime import datetime, timezone

import time_machine

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)
AFTER = datetime(2030, 1, 7, 10, 30, tzinfo=timezone.utc)  # the 09:00–10:00 session has ended


def test_moving_or_cancelling_an_ended_booking_is_a_booking_finished_409(client, world):
    with time_machine.travel(NOW, tick=False):
        created = client.post("/api/booking/create", json={
            "link_slug": "pt", "start_time": "2030-01-07T09:00:00Z", "attendee_name": "Jane Smith",
            "attendee_email": "jane@example.com"})
    token = created.get_json()["manage_token"]
    with time_machine.travel(AFTER, tick=False):
        cancelled = client.delete("/api/booking/manage", json={"token": token})
        moved = client.put("/api/booking/manage", json={"token": token, "start_time": "2030-01-08T09:00:00Z"})
        still = client.get("/api/booking/manage", query_string={"token": token})
    for response, verb in ((cancelled, "cancelled"), (moved, "moved")):
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "booking_finished"
        assert error["message"] == f"This booking has already taken place, so it can't be {verb}."
    assert still.get_json()["booking"]["status"] == "confirmed"
