"""The customer-facing fixes of a walk-through (issue 17, item 7): every mistake on the booking form
reported at once, numbers valid for their country (not only possible), loading feedback, when bookings
open past the booking window, a staff sign-in link, and where the confirmation was emailed."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.models import Booking, Notification

SLOT = "/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z"
REFUSED_IN_GB = ("This is not a valid United Kingdom number. Choose the number&#39;s country, or write it with its "
                 "country code (e.g. +1 for the United States).")


def fill(fields: dict, **values) -> dict:
    return {**fields, "name": "Jane Smith", "email": "jane@example.com", "phone": "", "notes": "", **values}


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- 1. every mistake at once ---------------------------------------------------------------------

@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_every_field_mistake_is_reported_in_one_answer_with_the_values_kept(client, db, link, pages, htmx):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, name="", email="jane@", phone="(781) 234-5678",
                                             notes="n" * 2001),
                           headers=pages.hx("booking-step") if htmx else {})
    assert response.status_code == 422
    page = pages.text(response)
    assert ("<html" in page) is not htmx
    for field in ("name", "email", "phone", "notes"):
        assert f'id="{field}-error"' in page, field
    assert "Please tell us your name." in page
    assert "doesn&#39;t look like an email address" in page
    assert REFUSED_IN_GB in page
    # All of them in the summary above the form, each linking to its field.
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert all(f'href="#{field}"' in summary for field in ("name", "email", "phone", "notes"))
    _, again = pages.form(response)
    assert again["email"] == "jane@" and again["phone"] == "(781) 234-5678" and again["notes"] == "n" * 2001
    assert again["phone_country"] == "GB" and again["slot"] == fields["slot"]
    assert count(db, Booking) == 0


def test_a_country_that_is_not_one_is_reported_with_the_other_mistakes(client, db, link, pages):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, name="", phone="07700 900123", phone_country="ZZ"))
    assert response.status_code == 422
    page = pages.text(response)
    assert 'id="name-error"' in page and 'id="phone-error"' in page and "is not a country we know" in page
    assert count(db, Booking) == 0


def test_the_names_rule_is_the_services_whitespace_folded_first(client, db, link, pages):
    """Not a copy of the rule: a name padded past 200 characters with spaces is the service's short name."""
    action, fields = pages.form(client.get(SLOT))
    assert client.post(action, data=fill(fields, name="Jane" + " " * 300 + "Smith")).status_code == 303
    assert db.session.scalars(select(Booking)).one().attendee_name == "Jane Smith"


def test_a_name_too_long_is_refused_with_the_other_mistakes(client, db, link, pages):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, name="J" * 201, email="no-at-sign"))
    assert response.status_code == 422
    page = pages.text(response)
    assert "The name is longer than 200 characters." in page and 'id="email-error"' in page


@pytest.mark.parametrize("values", [{"name": "\x7f" * 50}, {"email": "a@" + "b" * 300 + ".com"}, {"email": "@@"},
                                    {"phone": "+" + "9" * 5000}, {"phone_country": "\u00e9" * 40}, {"notes": "x" * 100_000},
                                    {"name": " ", "email": " ", "phone": " ", "phone_country": " "}])
def test_junk_in_any_field_is_a_422_not_a_server_error(client, db, link, pages, values):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, **values), headers=pages.hx("booking-step"))
    assert response.status_code == 422 or "HX-Redirect" in response.headers
    if response.status_code == 422:
        assert 'class="error-summary"' in pages.text(response)


def test_the_cancel_form_reports_its_mistake_without_losing_the_reason(client, db, booked, pages):
    _, token = booked()
    action, fields = pages.form(client.get(f"/booking/manage/{token}/cancel"), "/cancel")
    response = client.post(action, data={**fields, "reason": "r" * 501})
    assert response.status_code == 422
    assert 'id="reason-error"' in pages.text(response) and "r" * 501 in pages.text(response)


# --- 2. valid for its country, not only possible --------------------------------------------------

@pytest.mark.parametrize("phone, country", [("+44 7700 900", "GB"), ("+44 7700 900", "US"), ("07700 900", "GB"),
                                            ("+1 555 0100", "GB")])
def test_a_possible_but_invalid_number_is_refused_and_nothing_is_queued(client, db, link, pages, phone, country):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, phone=phone, phone_country=country))
    assert response.status_code == 422
    assert 'id="phone-error"' in pages.text(response)
    assert count(db, Booking) == 0 and count(db, Notification) == 0


def test_the_api_refuses_a_possible_but_invalid_number_too(client, db, link):
    response = client.post("/api/booking/create", json={
        "link_slug": "pt", "start_time": "2030-01-07T09:00:00Z", "attendee_name": "Jane Smith",
        "attendee_email": "jane@example.com", "attendee_phone": "+44 7700 900"})
    assert response.status_code == 400
    assert set(response.get_json()["error"]["fields"]) == {"attendee_phone"}
    assert count(db, Booking) == 0 and count(db, Notification) == 0


# --- 3. loading feedback ---------------------------------------------------------------------------

LOADING = '<div class="step-loading" id="step-loading" role="status">'


def test_days_show_a_spinner_in_the_step_panel_while_their_times_load(client, link, pages):
    page = pages.text(client.get("/book/pt"))
    day = re.search(r'<a class="day day--free[^>]*id="day-2030-01-07"[^>]*>', page).group(0)
    assert 'hx-indicator="#step-loading"' in day and 'hx-target="#booking-step"' in day
    assert 'href="/book/pt?date=2030-01-07#booking-step"' in day  # still a plain link without JavaScript
    step = page.split('id="booking-step"')[1]
    assert LOADING in step and '<span class="step-loading__text sr-only">Loading times…</span>' in step
    # Every rendering of the panel brings its indicator: the day's fragment and the calendar's links.
    part = pages.text(client.get("/book/pt?date=2030-01-07", headers=pages.hx("booking-step")))
    assert "<html" not in part and LOADING in part
    calendar = pages.text(client.get("/book/pt?month=2030-02", headers=pages.hx("calendar")))
    assert "<html" not in calendar and 'hx-indicator="#step-loading"' in calendar


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_the_submit_button_says_booking_while_in_flight(client, link, pages, htmx):
    page = pages.text(client.get(SLOT, headers=pages.hx("booking-step") if htmx else {}))
    button = re.search(r'<button type="submit"[^>]*data-busy-label[^>]*>([^<]*)</button>', page)
    assert 'data-busy-label="Booking…"' in button.group(0) and button.group(1) == "Confirm booking"
    assert "hx-disabled-elt" in page.split('class="details-form"')[1].split(">")[0]


def test_the_reschedule_and_cancel_buttons_say_what_they_do_too(client, booked, pages):
    _, token = booked()
    cancel = pages.text(client.get(f"/booking/manage/{token}/cancel", headers=pages.hx("booking-actions")))
    assert 'data-busy-label="Cancelling…"' in cancel
    move = pages.text(client.get(f"/booking/manage/{token}/reschedule?date=2030-01-07&slot=2030-01-07T11:00:00Z"))
    assert 'data-busy-label="Moving…"' in move and LOADING in move


# --- 4. past the booking window ---------------------------------------------------------------------

@pytest.fixture
def windowed(db, link, pt_type):
    pt_type.booking_window_days = 10  # from Sunday 6 January: up to Wednesday 16 January
    db.session.commit()
    return pt_type


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_a_month_past_the_window_says_when_its_bookings_open(client, windowed, pages, htmx):
    response = client.get("/book/pt?month=2030-02", headers=pages.hx("calendar") if htmx else {})
    assert response.status_code == 200
    page = pages.text(response)
    assert ("<html" in page) is not htmx
    assert "Bookings for February open on Tuesday 22 January 2030." in page
    assert "Bookings open up to 10 days ahead." in page
    assert 'href="/book/pt?month=2030-01"' in page  # back to what can be booked now
    assert "Nothing free in February" not in page
    assert "Friday 1 February 2030, not open for booking yet" in page


def test_the_month_where_the_window_ends_says_which_day_is_the_last(client, windowed, pages):
    page = pages.text(client.get("/book/pt"))
    assert "Bookings open up to 10 days ahead. The last day you can book today is Wednesday 16 January 2030" in page
    assert 'id="day-2030-01-16"' in page and 'id="day-2030-01-17"' not in page
    assert "Thursday 17 January 2030, not open for booking yet" in page
    assert "Wednesday 16 January 2030, not open for booking yet" not in page


def test_without_a_window_nothing_is_said_about_one(client, link, pages):
    page = pages.text(client.get("/book/pt?month=2030-03"))
    assert 'id="calendar-window"' not in page and "not open for booking yet" not in page


def test_the_reschedule_picker_says_when_bookings_open_too(client, windowed, booked, pages):
    _, token = booked()
    page = pages.text(client.get(f"/booking/manage/{token}/reschedule?month=2030-02"))
    assert "Bookings for February open on Tuesday 22 January 2030." in page


def test_the_minimum_notice_is_said_before_a_day_is_chosen(client, db, link, pt_type, booked, pages):
    assert "Book at least" not in pages.text(client.get("/book/pt"))  # no notice, nothing said
    pt_type.min_notice_minutes = 120
    db.session.commit()
    assert '<span id="notice-period">Book at least 2 hours ahead.</span>' in pages.text(client.get("/book/pt"))
    _, token = booked(start=datetime(2030, 1, 9, 10, 0, tzinfo=timezone.utc))
    assert "Book at least 2 hours ahead." in pages.text(client.get(f"/booking/manage/{token}/reschedule"))


# --- 5. staff sign-in ------------------------------------------------------------------------------

def test_the_public_footer_links_to_staff_sign_in(client, link, booked, pages):
    _, token = booked()
    for url in ("/", "/book/pt", f"/booking/manage/{token}"):
        footer = pages.text(client.get(url)).split('<footer class="site-footer')[1]
        assert '<a class="site-footer__staff" href="/auth/login">Staff sign in</a>' in footer
    assert client.get("/auth/login").status_code == 200


# --- 6. where the confirmation went ----------------------------------------------------------------

def test_the_confirmation_says_which_address_the_email_went_to(client, db, link, pages):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, email="Jane.Smith@Example.com"))
    assert response.status_code == 303 and "created=1" in response.headers["Location"]
    page = pages.text(client.get(response.headers["Location"]))
    assert "You're booked!" in page
    sent = re.search(r'<p class="confirmation__sent" id="confirmation-sent">(.*?)</p>', page).group(1)
    assert sent == "We've sent the details to <strong class=\"confirmation__email\">Jane.Smith@example.com</strong>."
    # Seen again later through the same link, it is the booking, not a fresh confirmation.
    later = pages.text(client.get(response.headers["Location"].replace("created=1", "")))
    assert "We've sent the details" not in later
