"""The AI tools on a booking that is over (issue 16, item 9): booking_finished with its hint, not the
cutoff's "contact the gym" — a session that has taken place can't be changed by anyone."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from ai_helpers import MONDAY, book_body

AFTER = datetime(2030, 1, 7, 10, 30, tzinfo=timezone.utc)  # Monday's 09:00–10:00 session has ended


@pytest.mark.parametrize(("action", "fields"), [("cancel_booking", {}),
                                                ("reschedule_booking", {"startTime": "2030-01-08T09:00:00Z"})])
def test_an_agent_cannot_change_a_booking_that_has_ended(ai, gym, key, action, fields):
    from app.agents import ToolError, principal_for_key, run_tool

    booked = ai("book_slot", **book_body(gym)).get_json()
    assert booked["booking"]["startTime"] == f"{MONDAY}T09:00:00Z"
    with pytest.raises(ToolError) as caught:
        run_tool(action, {"bookingId": booked["booking"]["id"], **fields}, principal_for_key(key[1]), now=AFTER)
    assert (caught.value.code, caught.value.status) == ("booking_finished", 409)
    assert "already taken place" in caught.value.message and "already taken place" in caught.value.hint
