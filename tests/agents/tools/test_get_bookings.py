"""get_bookings: `startDate` alone lists from that date on, and a collective booking (one row per
trainer) is listed and counted once, with all its trainers (issue 16, item 9)."""
from __future__ import annotations

from ai_helpers import MONDAY, book_body


def test_start_date_alone_lists_from_that_date_onwards(ai, gym):
    for day, email in (("2030-01-07", "mon@example.com"), ("2030-01-08", "tue@example.com"),
                       ("2030-02-04", "feb@example.com")):
        booked = ai("book_slot", **book_body(gym, startTime=f"{day}T09:00:00Z", endTime=f"{day}T10:00:00Z",
                                             attendeeEmail=email))
        assert booked.status_code == 201, booked.get_json()
    data = ai("get_bookings", startDate="2030-01-08").get_json()
    assert [b["attendee"]["email"] for b in data["bookings"]] == ["tue@example.com", "feb@example.com"]
    assert data["total"] == 2
    # endDate alone: up to and including that date.
    data = ai("get_bookings", endDate="2030-01-08").get_json()
    assert [b["attendee"]["email"] for b in data["bookings"]] == ["mon@example.com", "tue@example.com"]
    # Both: the range, as before.
    data = ai("get_bookings", startDate="2030-01-08", endDate="2030-01-08").get_json()
    assert [b["attendee"]["email"] for b in data["bookings"]] == ["tue@example.com"]


def test_a_collective_booking_is_listed_and_counted_once_with_all_its_trainers(ai, gym, make_link):
    make_link([gym.alex, gym.sam], [gym.pt], type="collective", slug="duo", name="Train with both")
    duo_body = {k: v for k, v in book_body(gym, bookingLinkSlug="duo", attendeeName="Pat Pair",
                                           attendeeEmail="pat@example.com").items() if k != "staffId"}
    pair = ai("book_slot", **duo_body)
    assert pair.status_code == 201, pair.get_json()
    solo = ai("book_slot", **book_body(gym, startTime=f"{MONDAY}T13:00:00Z", endTime=f"{MONDAY}T14:00:00Z",
                                       attendeeName="Sol Solo", attendeeEmail="sol@example.com"))
    assert solo.status_code == 201, solo.get_json()

    data = ai("get_bookings").get_json()
    assert data["total"] == 2 and data["pages"] == 1
    assert [b["attendee"]["name"] for b in data["bookings"]] == ["Pat Pair", "Sol Solo"]
    together, alone = data["bookings"]
    assert together["id"] == pair.get_json()["booking"]["id"]  # the lead, which the manage link names
    assert [t["name"] for t in together["trainers"]] == ["Alex Trainer", "Sam Trainer"]
    assert [t["id"] for t in together["trainers"]] == [str(gym.alex.id), str(gym.sam.id)]
    assert alone["trainers"] == [{"id": str(gym.alex.id), "name": "Alex Trainer"}]
    assert ai("get_bookings", status="confirmed").get_json()["total"] == 2

    # One trainer's view: their own part of it, once, still naming both.
    sams = ai("get_bookings", staffId=str(gym.sam.id)).get_json()
    assert sams["total"] == 1 and sams["bookings"][0]["staff"]["id"] == str(gym.sam.id)
    assert [t["name"] for t in sams["bookings"][0]["trainers"]] == ["Alex Trainer", "Sam Trainer"]
