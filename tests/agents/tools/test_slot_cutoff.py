"""find_availability says of each slot whether a booking made now could still be changed or cancelled
online (the gym's change cutoff, issue 17 item 4), before an agent books it."""
from __future__ import annotations

from ai_helpers import MONDAY

from app.agents.tools import tool_definitions


def test_each_slot_says_whether_it_could_be_changed_online(ai, gym, db):
    # Frozen on Sunday 12:00: with a 24-hour cutoff, Monday's 09:00–11:00 starts are inside it;
    # 12:00's deadline is now itself, which is still allowed (as the service allows it).
    gym.org.cancellation_cutoff_minutes = 24 * 60
    db.session.commit()
    data = ai("find_availability", date=MONDAY, staffId=str(gym.alex.id), appointmentTypeId=str(gym.pt.id)).get_json()
    by_start = {slot["startTime"][11:16]: slot for slot in data["slots"]}
    for hour in ("09:00", "10:00", "11:00"):
        assert by_start[hour]["changeableOnline"] is False and by_start[hour]["canChangeOnlineUntil"] is None
    assert by_start["12:00"]["changeableOnline"] is True
    assert by_start["12:00"]["canChangeOnlineUntil"] == "2030-01-06T12:00:00Z"
    assert by_start["15:00"]["canChangeOnlineUntil"] == "2030-01-06T15:00:00Z"


def test_the_tool_description_names_the_fields():
    [definition] = [d for d in tool_definitions() if d["name"] == "find_availability"]
    assert "changeableOnline" in definition["description"] and "canChangeOnlineUntil" in definition["description"]
