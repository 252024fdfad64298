"""Staff actions that can't be undone ask first (issue 17, item 6): cancelling and moving a booking show
the question — a page without JavaScript, a <dialog> for htmx — and only a POST carrying confirm=yes
acts; and messages replace each other in one live region instead of stacking.

Time is frozen on Sunday 2030-01-06 12:00 UTC; the fixture booking is Alex's, Monday 10:00–11:00."""
from __future__ import annotations

import re

from dashboard_helpers import MONDAY, at, is_fragment, text

from app.models import Booking

QUESTION = "Cancel Ann of Acme's Acme Personal Training with Alex of Acme on Mon 07 Jan, 10:00?"


def status_of(db, booking):
    db.session.expire_all()
    row = db.session.get(Booking, booking.id)
    return row.status, row.start_at, row.staff_id


def test_the_booking_page_links_to_the_question_instead_of_cancelling(owner, gym):
    page = text(owner.get(f"/dashboard/bookings/{gym.booking.id}"))
    cancel = f"/dashboard/bookings/{gym.booking.id}/cancel"
    assert re.search(rf'<a [^>]*href="{cancel}" hx-get="{cancel}" hx-target="#dialog-slot"', page)
    assert f'action="{cancel}"' not in page  # no form on the page cancels straight away
    assert '<div id="dialog-slot"></div>' in page


def test_without_javascript_the_question_is_a_page_and_only_yes_cancels(owner, gym, db):
    before = status_of(db, gym.booking)
    question = owner.get(f"/dashboard/bookings/{gym.booking.id}/cancel")
    page = text(question)
    assert question.status_code == 200 and "<html" in page
    assert QUESTION in page
    assert 'name="reason"' in page and 'name="confirm" value="yes"' in page
    assert "Yes, cancel it" in page and f'href="/dashboard/bookings/{gym.booking.id}" data-dialog-close>Keep it' in page
    assert "<dialog" not in page
    assert status_of(db, gym.booking) == before

    response = owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {"reason": "Trainer ill", "confirm": "yes"})
    assert response.status_code == 303
    assert status_of(db, gym.booking)[0] == "cancelled"


def test_a_post_without_the_confirmation_asks_and_changes_nothing(owner, gym, db):
    """A stray POST (an old form, a bookmarklet) is answered with the question, the reason kept."""
    before = status_of(db, gym.booking)
    for headers in ({}, {"target": "booking-detail"}):
        response = owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {"reason": "Trainer ill"}, **headers)
        assert response.status_code == 200
        assert QUESTION in text(response) and "Trainer ill</textarea>" in text(response)
        assert status_of(db, gym.booking) == before
    assert owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {"confirm": "no"}).status_code == 200
    assert status_of(db, gym.booking) == before


def test_the_confirmed_post_still_needs_the_csrf_token(owner, gym, db):
    before = status_of(db, gym.booking)
    response = owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {"confirm": "yes"}, csrf=False)
    assert response.status_code == 400
    assert status_of(db, gym.booking) == before


def test_htmx_gets_the_question_as_a_dialog(owner, gym, db):
    response = owner.get(f"/dashboard/bookings/{gym.booking.id}/cancel", target="dialog-slot")
    body = text(response)
    assert response.status_code == 200 and is_fragment(response)
    assert re.search(r'<dialog class="confirm confirm-dialog" id="confirm-dialog" aria-labelledby="confirm-title" '
                     r'aria-describedby="confirm-what" data-confirm-dialog>', body)
    assert QUESTION in body
    # The dialog's form answers htmx with the refreshed booking; "Keep it" closes it (a link without JS).
    assert f'hx-post="/dashboard/bookings/{gym.booking.id}/cancel" hx-target="#booking-detail"' in body
    assert "data-dialog-close>Keep it" in body
    # A stray htmx POST gets the dialog too, wherever it meant to go.
    stray = owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {}, target="booking-detail")
    assert "<dialog" in text(stray)
    assert stray.headers["HX-Retarget"] == "#dialog-slot" and stray.headers["HX-Reswap"] == "innerHTML"
    # A reason too long comes back in the dialog, with its error.
    long = owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {"reason": "x" * 501, "confirm": "yes"},
                      target="booking-detail")
    assert long.status_code == 422 and "<dialog" in text(long) and 'aria-invalid="true"' in text(long)
    assert status_of(db, gym.booking)[0] == "confirmed"


def test_moving_asks_first_then_moves_only_when_confirmed(owner, gym, db):
    page = text(owner.get(f"/dashboard/bookings/{gym.booking.id}/reschedule?date=2030-01-07&trainer={gym.sam.id}"))
    # Each free time is a link to the question, not a form that moves the booking.
    link = re.search(r'<a class="slot" href="([^"]+)" hx-get="[^"]+" hx-target="#dialog-slot"[^>]*'
                     r'data-start="2030-01-07T14:00:00\+00:00"', page)
    assert link and 'name="start"' not in page
    url = link.group(1).replace("&amp;", "&")
    before = status_of(db, gym.booking)

    question = owner.get(url)
    page = text(question)
    assert question.status_code == 200 and "<html" in page
    assert ("Move Ann of Acme's Acme Personal Training with Alex of Acme to Mon 07 Jan, 14:00 with Sam of Acme?"
            in page)
    assert "Yes, move it" in page and 'name="confirm" value="yes"' in page
    dialog = text(owner.get(url, target="dialog-slot"))
    assert "<dialog" in dialog and 'hx-target="#reschedule-slots"' in dialog
    assert status_of(db, gym.booking) == before

    data = {"start": at(MONDAY, 14).isoformat(), "staff_id": str(gym.sam.id)}
    stray = owner.post(f"/dashboard/bookings/{gym.booking.id}/reschedule", data)
    assert stray.status_code == 200 and "Yes, move it" in text(stray)
    assert status_of(db, gym.booking) == before

    moved = owner.post(f"/dashboard/bookings/{gym.booking.id}/reschedule", {**data, "confirm": "yes"})
    assert moved.status_code == 303
    assert status_of(db, gym.booking)[1:] == (at(MONDAY, 14), gym.sam.id)


def test_there_is_one_message_region_and_an_htmx_answer_replaces_its_message(owner, gym, make_booking):
    pending = make_booking(staff=gym.alex, start=at(MONDAY, 14), status="pending", attendee_name="Penny")
    # A page load shows the flashed message in the one live region.
    done = owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {"confirm": "yes"})
    page = text(owner.get(done.headers["Location"]))
    region = re.search(r'<div id="messages" class="flashes" role="status" aria-live="polite">(.*?)</div>', page, re.S)
    assert region and "Booking cancelled" in region.group(1)
    assert page.count('role="status"') == 1  # the message is not also repeated inside the booking
    # An htmx action sends its message to replace that one (out of band), not to sit beside it.
    response = owner.post(f"/dashboard/bookings/{pending.id}/status", {"action": "confirm"}, target="booking-detail")
    body = text(response)
    oob = re.search(r'<div id="messages" hx-swap-oob="innerHTML">(.*?)</div>', body, re.S)
    assert oob, body[-500:]
    assert re.findall(r'<p class="flash[^"]*">([^<]+)</p>', oob.group(1)) == ["Booking confirmed."]
    assert body.count("Booking confirmed.") == 1
    # And it is not shown again on the next page.
    assert "Booking confirmed." not in text(owner.get(f"/dashboard/bookings/{pending.id}"))


def test_the_message_region_is_there_and_empty_without_messages(owner, gym):
    page = text(owner.get(f"/dashboard/bookings/{gym.booking.id}"))
    assert '<div id="messages" class="flashes" role="status" aria-live="polite"></div>' in page
