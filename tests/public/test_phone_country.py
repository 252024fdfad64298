"""The phone field of the booking form and its country (issue 15, defect 14): a country select next
to the number, starting at the gym's; a number that is not valid in the chosen country refused on the
field, never read as another country's; the number shown as it will be used — live as it is typed
(htmx), after a refused POST and on the confirmation (without JavaScript)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.models import Booking

SLOT = "/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z"
REFUSED_IN_GB = ("This is not a valid United Kingdom number. Choose the number&#39;s country, or write it with its "
                 "country code (e.g. +1 for the United States).")


def fill(fields: dict, **values) -> dict:
    return {**fields, "name": "Jane Smith", "email": "jane@example.com", "notes": "", **values}


def selected_country(page: str) -> str:
    select = re.search(r'<select[^>]*name="phone_country"[^>]*>(.*?)</select>', page, re.DOTALL).group(1)
    chosen = re.findall(r'<option selected value="([A-Z]{2})">', select)
    assert len(chosen) == 1, chosen
    return chosen[0]


def bookings(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Booking))


def test_the_form_asks_for_the_country_next_to_the_number_starting_with_the_gyms(client, link, pages):
    page = pages.text(client.get(SLOT))
    assert '<legend class="field__label">Phone (optional)</legend>' in page
    assert '<label class="phone-field__label" for="phone_country">Country</label>' in page
    assert '<label class="phone-field__label" for="phone">Number</label>' in page
    assert selected_country(page) == "GB"
    assert '<option selected value="GB">United Kingdom (+44)</option>' in page
    assert '<option value="US">United States (+1)</option>' in page
    assert 'aria-describedby="phone-hint phone-preview"' in page
    assert 'id="phone-preview" aria-live="polite"></p>' in page  # nothing typed, nothing to say yet


def test_a_gym_in_another_country_starts_the_form_with_its_own(client, db, link, org, pages):
    org.settings = {"phone_region": "US"}
    db.session.commit()
    assert selected_country(pages.text(client.get(SLOT))) == "US"


def test_a_us_number_on_the_uk_default_is_refused_on_the_field_and_nothing_is_booked(client, db, link, pages):
    action, fields = pages.form(client.get(SLOT))
    assert fields["phone_country"] == "GB"
    response = client.post(action, data=fill(fields, phone="(781) 234-5678"))
    assert response.status_code == 422
    page = pages.text(response)
    assert f'<p class="field__error" id="phone-error"><span class="sr-only">Error: </span>{REFUSED_IN_GB}</p>' in page
    assert f'<a href="#phone">{REFUSED_IN_GB}</a>' in page  # in the summary above the form too
    assert 'value="(781) 234-5678"' in page and selected_country(page) == "GB"
    assert bookings(db) == 0


def test_with_its_country_chosen_it_is_booked_in_e164_and_shown_internationally(client, db, link, pages):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, phone="(781) 234-5678", phone_country="US"))
    assert response.status_code == 303
    assert db.session.scalars(select(Booking)).one().attendee_phone == "+17812345678"
    confirmation = pages.text(client.get(response.headers["Location"]))
    assert "You're booked!" in confirmation
    assert 'Texts to <span class="nowrap">+1 781-234-5678</span>' in confirmation


@pytest.mark.parametrize("country", ["GB", "US", "JP"])
def test_a_number_with_its_country_code_is_that_countrys_whatever_is_chosen(client, db, link, pages, country):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, phone="+1 781 234 5678", phone_country=country))
    assert response.status_code == 303
    assert db.session.scalars(select(Booking)).one().attendee_phone == "+17812345678"


def test_a_uk_mobile_on_the_uk_default_is_booked(client, db, link, pages):
    action, fields = pages.form(client.get(SLOT))
    assert client.post(action, data=fill(fields, phone="07700 900123")).status_code == 303
    assert db.session.scalars(select(Booking)).one().attendee_phone == "+447700900123"


def test_after_another_mistake_the_chosen_country_is_kept_and_the_number_shown(client, db, link, pages):
    """Without JavaScript: the re-rendered form keeps the country and says what will be texted."""
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, email="", phone="(781) 234-5678", phone_country="US"))
    assert response.status_code == 422
    page = pages.text(response)
    assert "We need an email address" in page and 'id="phone-error"' not in page
    assert selected_country(page) == "US"
    assert "We will text <strong>+1 781-234-5678</strong>." in page
    _, again = pages.form(response)
    assert again["phone_country"] == "US" and again["phone"] == "(781) 234-5678"
    assert bookings(db) == 0


def test_a_refused_number_is_shown_with_the_other_mistakes_at_once(client, db, link, pages):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, name="", phone="(781) 234-5678"), headers=pages.hx("booking-step"))
    assert response.status_code == 422
    part = pages.text(response)
    assert "<html" not in part
    assert 'id="name-error"' in part and REFUSED_IN_GB in part and selected_country(part) == "GB"


@pytest.mark.parametrize("country", ["ZZ", "gbr", "<b>", "G" * 500])
def test_a_country_that_is_not_one_is_refused_on_its_field_without_a_server_error(client, db, link, pages, country):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, phone="07700 900123", phone_country=country))
    assert response.status_code == 422
    page = pages.text(response)
    assert 'id="phone-error"' in page and "is not a country we know" in page
    assert 'aria-invalid="true"' in page and "<b>" not in page.split('id="phone-error"')[1][:300]
    assert selected_country(page) == "GB"  # the gym's again, under the error
    assert bookings(db) == 0


@pytest.mark.parametrize("phone", ["9" * 40, "+" * 40, "ext. 5", "+1", "0" * 41])
def test_junk_numbers_are_refused_without_a_server_error(client, db, link, pages, phone):
    action, fields = pages.form(client.get(SLOT))
    response = client.post(action, data=fill(fields, phone=phone))
    assert response.status_code == 422
    assert 'id="phone-error"' in pages.text(response)
    assert bookings(db) == 0


def test_a_nul_in_the_number_is_refused_at_the_door(client, db, link, pages):
    action, fields = pages.form(client.get(SLOT))
    assert client.post(action, data=fill(fields, phone="07700\x00900123")).status_code == 400
    assert bookings(db) == 0


# --- the live hint (htmx) ----------------------------------------------------------------------

def hint(client, pages, **values):
    _, fields = pages.form(client.get(SLOT))
    return client.post("/book/pt/phone", data={"csrf_token": fields["csrf_token"], **values},
                       headers=pages.hx("phone-preview"))


def test_the_form_asks_for_the_hint_as_the_number_or_the_country_changes(client, link, pages):
    page = pages.text(client.get(SLOT))
    row = re.search(r'<div class="phone-field__row"[^>]*>', page).group(0)
    assert 'hx-post="/book/pt/phone"' in row and 'hx-trigger="change"' in row and 'hx-target="#phone-preview"' in row
    assert 'hx-params="phone,phone_country,csrf_token"' in row
    number = re.search(r'<input[^>]*id="phone"[^>]*>', page).group(0)
    assert 'hx-trigger="input changed delay:500ms"' in number and "typing" in number


def test_the_hint_shows_the_number_as_it_will_be_used(client, link, pages):
    response = hint(client, pages, phone="(781) 234-5678", phone_country="US", typing="1")
    assert response.status_code == 200
    assert pages.text(response) == "We will text <strong>+1 781-234-5678</strong>."
    assert response.headers["Cache-Control"] == "no-store"
    assert pages.text(hint(client, pages, phone="+44 7700 900123", phone_country="US")) == \
        "We will text <strong>+44 7700 900123</strong>."


def test_the_hint_says_what_is_wrong_once_the_number_is_whole_or_the_field_is_left(client, link, pages):
    # Half typed: no mistake yet. Whole (or the field left): said, so a late preview of the typing
    # never hides what leaving the field showed.
    assert pages.text(hint(client, pages, phone="(781) 234-56", phone_country="GB", typing="1")) == ""
    assert pages.text(hint(client, pages, phone="(781) 234-5678", phone_country="GB", typing="1")) == REFUSED_IN_GB
    left = pages.text(hint(client, pages, phone="(781) 234-5678", phone_country="GB"))
    assert left == REFUSED_IN_GB
    assert pages.text(hint(client, pages, phone="", phone_country="GB")) == ""


def test_the_hint_without_a_country_uses_the_gyms(client, db, link, org, pages):
    org.settings = {"phone_region": "US"}
    db.session.commit()
    assert pages.text(hint(client, pages, phone="781 234 5678")) == "We will text <strong>+1 781-234-5678</strong>."


@pytest.mark.parametrize("values", [{"phone": "9" * 5000, "phone_country": "GB"}, {"phone": "0770", "phone_country": "ZZ"},
                                    {"phone_country": "x" * 300}, {}])
def test_the_hint_never_fails_on_junk(client, link, pages, values):
    assert hint(client, pages, **values).status_code == 200


def test_the_hint_needs_the_forms_token_and_a_real_page(client, link, pages):
    assert client.post("/book/pt/phone", data={"phone": "07700 900123"}).status_code == 400
    _, fields = pages.form(client.get(SLOT))
    assert client.post("/book/nowhere/phone", data={"csrf_token": fields["csrf_token"]}).status_code == 404
