"""/booking/manage/<token>: the booking, reschedule through the picker, cancel, and the end states."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.models import Booking, BookingAudit

TUESDAY_10 = datetime(2030, 1, 8, 10, 0, tzinfo=timezone.utc)


def test_the_manage_page_shows_what_who_when_where_and_status(client, booked, pages):
    booking, token = booked()
    response = client.get(f"/booking/manage/{token}")
    assert response.status_code == 200
    page = pages.text(response)
    assert "Personal Training" in page                                    # what
    assert "Alex Morgan" in page                                          # with whom
    assert "Tuesday 8 January 2030, 10:00–11:00 (Europe/London)" in page  # when, zone named
    assert "Main gym floor" in page                                       # where
    assert "Jane Smith" in page and "jane@example.com" in page            # for whom
    assert "Knee is a bit sore." in page
    assert "Confirmed" in page
    assert "You're booked!" not in page  # only straight after booking
    assert "You can reschedule or cancel online until" in page and "Mon 7 Jan, 22:00 (Europe/London)" in page
    assert f"/booking/manage/{token}/reschedule" in page and f"/booking/manage/{token}/cancel" in page
    # a secret in the URL: not cached, not indexed, not sent on as a Referer (e.g. to Google Calendar)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "HX-Request" in response.headers["Vary"]


def test_the_manage_page_in_another_zone(client, booked, pages):
    _, token = booked(attendee_timezone="Asia/Tokyo")
    page = pages.text(client.get(f"/booking/manage/{token}"))
    assert "Tuesday 8 January 2030, 19:00–20:00 (Asia/Tokyo)" in page  # the zone stored on the booking
    assert "Tue 8 Jan, 10:00 (Europe/London) at the gym" in page
    chosen = pages.text(client.get(f"/booking/manage/{token}?tz=America/New_York"))
    assert "Tuesday 8 January 2030, 05:00–06:00 (America/New_York)" in chosen


def test_an_unknown_token_is_a_404_page(client, booked, pages):
    booked()
    for path in ("/booking/manage/not-a-real-token", "/booking/manage/not-a-real-token/reschedule",
                 "/booking/manage/not-a-real-token/cancel", "/booking/manage/not-a-real-token/booking.ics"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "text/html"
    assert "couldn&#39;t find a booking for this link" in pages.text(client.get("/booking/manage/nope"))


def test_the_short_link_leads_to_the_manage_page(client, booked, pages):
    """/m/<token> is what SMS carry (one segment): the same page, by a redirect nobody caches."""
    _, token = booked()
    response = client.get(f"/m/{token}")
    assert response.status_code == 302 and response.headers["Location"] == f"/booking/manage/{token}"
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Robots-Tag"] == "noindex" and response.headers["X-Frame-Options"] == "DENY"
    page = client.get(f"/m/{token}", follow_redirects=True)
    assert page.status_code == 200 and page.request.path == f"/booking/manage/{token}"
    assert "Personal Training" in pages.text(page) and "Jane Smith" in pages.text(page)


def test_a_wrong_short_link_is_the_manage_pages_404(client, booked, pages):
    booked()
    page_404 = client.get("/booking/manage/not-a-real-token")
    for token in ("not-a-real-token", "x" * 22, "x" * 129, "x" * 5000, "..", "%2e%2e"):
        response = client.get(f"/m/{token}")
        assert response.status_code == page_404.status_code == 404, token
        assert response.mimetype == page_404.mimetype == "text/html" and "Location" not in response.headers
        assert "couldn&#39;t find a booking for this link" in pages.text(response)
        assert response.headers.get("Referrer-Policy") == page_404.headers.get("Referrer-Policy")


def test_a_longer_token_made_before_tokens_were_shortened_still_works(client, booked, db):
    """Tokens were 32 characters (192 bits) before SMS needed short links; those links keep working."""
    import secrets

    from app.services.bookings import hash_token

    booking, token = booked()
    assert len(token) == 22
    old = secrets.token_urlsafe(24)
    booking.manage_token_hash = hash_token(old)
    db.session.commit()
    assert client.get(f"/booking/manage/{old}").status_code == 200
    assert client.get(f"/m/{old}", follow_redirects=True).status_code == 200
    assert client.get(f"/m/{token}").status_code == 404  # the booking has the other token now


def test_the_calendar_file_downloads(client, booked):
    booking, token = booked()
    response = client.get(f"/booking/manage/{token}/booking.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert "BEGIN:VCALENDAR" in body and "DTSTART:20300108T100000Z" in body.replace(";VALUE=DATE-TIME", "")


def test_the_actions_fragment_for_htmx(client, booked, pages):
    _, token = booked()
    response = client.get(f"/booking/manage/{token}", headers=pages.hx("booking-actions"))
    part = pages.text(response)
    assert "<html" not in part and "Need to change something?" in part and "Jane Smith" not in part


def test_reschedule_through_the_picker(client, db, booked, pages):
    booking, token = booked()
    base = f"/booking/manage/{token}/reschedule"

    full = client.get(base)
    assert full.status_code == 200
    page = pages.text(full)
    assert "<html" in page and "Choose a new time" in page and "January 2030" in page
    assert "Your booking stays at Tue 8 Jan, 10:00 (Europe/London)" in page
    assert 'id="day-2030-01-09"' in page

    actions = pages.text(client.get(base, headers=pages.hx("booking-actions")))
    assert "<html" not in actions and "Choose a new time" in actions and "Jane Smith" not in actions
    calendar = pages.text(client.get(base + "?month=2030-02", headers=pages.hx("calendar")))
    assert "February 2030" in calendar and "Choose a new time" not in calendar

    day = client.get(base + "?date=2030-01-09", headers=pages.hx("booking-step"))
    part = pages.text(day)
    assert "<html" not in part and "Wednesday 9 January 2030" in part
    slot_link = next(h for h in pages.hrefs(day, r"slot=2030-01-09T14"))
    assert slot_link.startswith(base)

    confirm = client.get(slot_link)
    page = pages.text(confirm)
    assert "Confirm the new time" in page
    assert "Tue 8 Jan, 10:00–11:00 (Europe/London)" in page and "Wed 9 Jan, 14:00–15:00 (Europe/London)" in page
    action, fields = pages.form(confirm, "/reschedule")

    response = client.post(action, data=fields)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/booking/manage/{token}"
    db.session.expire_all()
    moved = db.session.get(Booking, booking.id)
    assert moved.start_at == datetime(2030, 1, 9, 14, 0, tzinfo=timezone.utc) and moved.status == "confirmed"
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.action == "rescheduled")).one()
    assert audit.actor_type == "attendee"

    after = pages.text(client.get(response.headers["Location"]))
    assert "your booking is now Wed 9 Jan, 14:00 (Europe/London)" in after
    assert "Wednesday 9 January 2030, 14:00–15:00 (Europe/London)" in after


def test_reschedule_with_htmx_redirects_on_the_client(client, db, booked, pages):
    _, token = booked()
    confirm = client.get(f"/booking/manage/{token}/reschedule?date=2030-01-09&slot=2030-01-09T09:00:00Z")
    action, fields = pages.form(confirm, "/reschedule")
    response = client.post(action, data=fields, headers=pages.hx("booking-step"))
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/booking/manage/{token}"


def test_reschedule_to_a_time_just_taken_offers_alternatives(client, db, booked, trainer, make_booking, pages):
    booking, token = booked()
    confirm = client.get(f"/booking/manage/{token}/reschedule?date=2030-01-09&slot=2030-01-09T10:00:00Z")
    action, fields = pages.form(confirm, "/reschedule")
    make_booking(staff=trainer, start=datetime(2030, 1, 9, 10, 0, tzinfo=timezone.utc))

    response = client.post(action, data=fields, headers=pages.hx("booking-step"))
    assert response.status_code == 422
    part = pages.text(response)
    assert "<html" not in part and "that time has just been taken" in part
    radios = re.findall(r'type="radio" id="alt-\d+" name="slot" value="([^"]+)"', part)
    assert radios and not any(r.startswith("2030-01-09T10:00:00Z") for r in radios)

    plain = client.post(action, data=fields)
    assert plain.status_code == 422 and "<html" in pages.text(plain)
    _, again = pages.form(plain, "/reschedule")
    assert client.post(action, data=again).status_code == 303
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).start_at != TUESDAY_10


def test_cancel_asks_first_then_cancels_with_a_reason(client, db, booked, pages):
    booking, token = booked()
    ask = client.get(f"/booking/manage/{token}/cancel")
    page = pages.text(ask)
    assert "Cancel this booking?" in page and "This can't be undone" in page
    assert 'for="reason"' in page
    fragment = pages.text(client.get(f"/booking/manage/{token}/cancel", headers=pages.hx("booking-actions")))
    assert "<html" not in fragment and "Cancel this booking?" in fragment

    action, fields = pages.form(ask, "/cancel")
    response = client.post(action, data={**fields, "reason": "Work trip"})
    assert response.status_code == 303 and response.headers["Location"] == f"/booking/manage/{token}"
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "cancelled"

    after = pages.text(client.get(response.headers["Location"]))
    assert "Your booking is cancelled." in after
    assert "This booking is cancelled" in after and "Work trip" in after
    assert 'href="/book/pt"' in after and "Book again" in after
    assert "Download .ics" not in after and "/cancel" not in after


def test_cancel_with_htmx_redirects_on_the_client(client, booked, pages):
    _, token = booked()
    action, fields = pages.form(client.get(f"/booking/manage/{token}/cancel"), "/cancel")
    response = client.post(action, data=fields, headers=pages.hx("booking-actions"))
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/booking/manage/{token}"


def test_a_too_long_reason_is_a_field_error(client, db, booked, pages):
    booking, token = booked()
    action, fields = pages.form(client.get(f"/booking/manage/{token}/cancel"), "/cancel")
    response = client.post(action, data={**fields, "reason": "x" * 501}, headers=pages.hx("booking-actions"))
    assert response.status_code == 422
    part = pages.text(response)
    assert 'id="reason-error"' in part and "x" * 501 in part
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "confirmed"


@pytest.mark.parametrize("path", ["cancel", "reschedule"])
def test_posts_without_the_csrf_token_are_refused(client, db, booked, path):
    booking, token = booked()
    response = client.post(f"/booking/manage/{token}/{path}",
                           data={"reason": "x", "slot": "2030-01-09T09:00:00Z"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "confirmed"
    assert db.session.get(Booking, booking.id).start_at == TUESDAY_10


def test_inside_the_cutoff_the_page_explains_the_policy(client, db, booked, org, pages):
    booking, token = booked()
    booking.created_at -= timedelta(days=3)  # made before its deadline (one made after: test_cutoff_before_booking)
    org.cancellation_cutoff_minutes = 48 * 60  # so Tuesday 10:00 is already inside it
    db.session.commit()
    page = pages.text(client.get(f"/booking/manage/{token}"))
    assert "Online changes have closed" in page
    assert "in the 2 days before a session starts" in page
    assert "hello@atlas.example" in page
    assert f"/booking/manage/{token}/cancel" not in page
    # the reschedule page says the same instead of offering times
    assert "Online changes have closed" in pages.text(client.get(f"/booking/manage/{token}/reschedule"))


def test_a_refusal_from_the_service_is_a_friendly_message(client, db, booked, org, pages):
    """The page offered cancelling, then the policy changed: the service says no, politely."""
    booking, token = booked()
    action, fields = pages.form(client.get(f"/booking/manage/{token}/cancel"), "/cancel")
    org.cancellation_cutoff_minutes = 48 * 60
    db.session.commit()
    response = client.post(action, data=fields)
    assert response.status_code == 303
    page = pages.text(client.get(response.headers["Location"]))
    assert "can&#39;t be cancelled online within 2 days" in page  # said as the page says it
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "confirmed"


def test_a_past_booking_says_it_has_taken_place(client, db, booked, pages):
    import time_machine

    _, token = booked()
    with time_machine.travel(datetime(2030, 1, 9, 12, 0, tzinfo=timezone.utc), tick=False):
        page = pages.text(client.get(f"/booking/manage/{token}"))
    assert "This session has taken place" in page and "Book another session" in page
    assert "Reschedule" not in page


def test_the_confirmation_banner_only_for_an_active_booking(client, db, booked, pages):
    booking, token = booked()
    assert "You're booked!" in pages.text(client.get(f"/booking/manage/{token}?created=1"))
    booking.status = "cancelled"
    db.session.commit()
    assert "You're booked!" not in pages.text(client.get(f"/booking/manage/{token}?created=1"))


def test_the_add_to_google_calendar_link_does_not_carry_the_manage_link(client, booked, pages):
    """Google reads the add-to-calendar address: the manage link (the customer's secret) stays out of it."""
    from urllib.parse import parse_qs, urlsplit

    booking, token = booked()
    [google] = pages.hrefs(client.get(f"/booking/manage/{token}"), r"https://calendar\.google\.com/[^\"]+")
    assert token not in google and "/booking/manage/" not in str(parse_qs(urlsplit(google).query))
