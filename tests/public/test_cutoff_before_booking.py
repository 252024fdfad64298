"""The change cutoff, said before booking: a time inside the gym's cutoff is booked knowing it can't be
changed or cancelled online (issue 17, item 4), and the confirmation words it for a booking made so.

Time is frozen on Sunday 2030-01-06 12:00 UTC; with a 22-hour cutoff Monday 09:00 (21 hours ahead)
is inside it, and Monday 11:00 (23 hours ahead) is not.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

NOTICE = "This session starts within 22 hours:"


@pytest.fixture(autouse=True)
def cutoff_22_hours(org, db):
    org.cancellation_cutoff_minutes = 22 * 60
    db.session.commit()


def details(client, pages, hour: int, **headers):
    return client.get(f"/book/pt?date=2030-01-07&slot=2030-01-07T{hour:02d}:00:00Z", headers=headers)


def fill(fields: dict) -> dict:
    return {**fields, "name": "Jane Smith", "email": "jane@example.com", "notes": "First session"}


def test_the_form_says_a_time_inside_the_cutoff_cant_be_changed_online(client, link, pages):
    for response in (details(client, pages, 9), details(client, pages, 9, **pages.hx("booking-step"))):
        page = pages.text(response)
        assert "Your details" in page
        assert NOTICE in page
        assert "once booked, it can't be changed or cancelled online" in page
        assert "hello@atlas.example" in page
        # Read out with the button that confirms.
        assert re.search(r'<button type="submit"[^>]*aria-describedby="cutoff-notice"[^>]*>Confirm booking', page)
        assert "You'll get a link to change or cancel your booking" not in page


def test_a_time_outside_the_cutoff_says_nothing_of_it(client, link, pages):
    page = pages.text(details(client, pages, 11))
    assert "Your details" in page
    assert NOTICE not in page and 'id="cutoff-notice"' not in page
    assert "You'll get a link to change or cancel your booking on the next page." in page


def test_the_notice_stays_when_the_form_comes_back_with_errors(client, link, pages):
    action, fields = pages.form(details(client, pages, 9))
    response = client.post(action, data={**fill(fields), "email": "not-an-email"})
    assert response.status_code == 422
    assert NOTICE in pages.text(response)


def test_the_confirmation_of_a_booking_made_inside_the_cutoff_says_why_not_that_changes_have_closed(
        client, link, pages):
    action, fields = pages.form(details(client, pages, 9))
    response = client.post(action, data=fill(fields))
    assert response.status_code == 303
    page = pages.text(client.get(response.headers["Location"]))
    assert "You're booked!" in page
    assert "Online changes have closed" not in page
    assert "To change this booking, contact Atlas Fitness" in page
    assert "It was booked within 22 hours of the start" in page
    assert "hello@atlas.example" in page
    assert "its link is how you change or cancel" not in page


def test_a_booking_made_before_its_cutoff_still_says_changes_have_closed(client, db, booked, org, pages):
    booking, token = booked()  # Tuesday 10:00
    booking.created_at -= timedelta(days=3)  # booked while it could still be changed online
    org.cancellation_cutoff_minutes = 48 * 60
    db.session.commit()
    page = pages.text(client.get(f"/booking/manage/{token}"))
    assert "Online changes have closed" in page and "To change this booking, contact" not in page


def test_moving_a_booking_into_the_cutoff_says_so_before_confirming(client, booked, pages):
    _, token = booked(start=datetime(2030, 1, 8, 10, 0, tzinfo=timezone.utc))
    base = f"/booking/manage/{token}/reschedule"
    inside = pages.text(client.get(base + "?date=2030-01-07&slot=2030-01-07T09:00:00Z"))
    assert "Confirm the new time" in inside
    assert NOTICE in inside and "once moved, it can't be changed or cancelled online" in inside
    outside = pages.text(client.get(base + "?date=2030-01-07&slot=2030-01-07T11:00:00Z"))
    assert "Confirm the new time" in outside and NOTICE not in outside
