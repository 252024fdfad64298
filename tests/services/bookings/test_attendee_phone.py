"""A customer's phone number and its country (issue 15, defect 14): a number written without its
country code is read in the chosen country (the gym's by default) and refused unless valid there —
never silently turned into another country's number, which would send the manage link to a stranger."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.models import Booking
from app.services.bookings import Actor, create_booking, normalise_phone
from app.services.errors import InvalidRequest
from app.services.phones import international, organization_region, region_choices, region_name

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)  # Sunday
MON_9 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("typed", "country", "stored"), [
    ("(781) 234-5678", "US", "+17812345678"),
    ("781-234-5678", "us", "+17812345678"),  # the code in any case
    ("+1 781 234 5678", "GB", "+17812345678"),  # its own country code wins, whatever the country
    ("+1 781 234 5678", "FR", "+17812345678"),
    ("001 781 234 5678", "GB", "+17812345678"),  # 00: the international prefix
    ("0044 7911 123456", "US", "+447911123456"),  # even where it is not the local one (the US dials 011)
    ("011 44 7911 123456", "US", "+447911123456"),
    ("07700 900123", "GB", "+447700900123"),  # the spec's example: a UK number kept for drama
    ("07911 123456", "GB", "+447911123456"),
    ("07781 123456", "GB", "+447781123456"),  # a Guernsey mobile: +44 like the UK's, dialled the same
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("98765 43210", "IN", "+919876543210"),  # India: the national prefix is optional
])
def test_numbers_valid_in_their_country_are_stored_in_e164(typed, country, stored):
    assert normalise_phone(typed, country) == stored


@pytest.mark.parametrize(("typed", "country"), [
    ("(781) 234-5678", "GB"),  # the defect: was +447812345678, a UK mobile that is someone else's
    ("781 234 5678", "GB"),
    ("7911 123456", "GB"),  # a UK mobile without its 0 is not how a UK number is written either
    ("06 12 34 56 78", "GB"),  # a French mobile on a UK form
    ("07911 123456", "US"),  # and a UK one on a US form
    ("12", "GB"),
    ("call me", "GB"),
])
def test_a_number_not_valid_in_the_chosen_country_is_refused_naming_the_country(typed, country):
    with pytest.raises(InvalidRequest) as caught:
        normalise_phone(typed, country)
    name = region_name(country)
    assert caught.value.message.startswith(f"This is not a valid {name} number. Choose the number's country, "
                                           "or write it with its country code")
    assert caught.value.fields == {"attendee_phone": f"not a valid {name} number"}


@pytest.mark.parametrize(("typed", "country", "shown"), [
    ("090-1234-5678", "GB", "+44 901 234 5678 is a United Kingdom service number"),  # a Japanese mobile
    ("0800 123 4567", "GB", "+44 800 123 4567 is a United Kingdom service number"),
    ("+1 800 555 1234", "GB", "+1 800-555-1234 is a United States service number"),
])
def test_a_service_number_that_cannot_receive_texts_is_refused(typed, country, shown):
    with pytest.raises(InvalidRequest) as caught:
        normalise_phone(typed, country)
    assert caught.value.message.startswith(shown + " (free, premium-rate or shared-cost), which can't receive texts.")
    assert caught.value.fields == {"attendee_phone": "a service number: it can't receive texts"}
    assert normalise_phone("090-1234-5678", "JP") == "+819012345678"  # with its own country chosen, it is a mobile


@pytest.mark.parametrize("typed", ["+1 555 0100", "+999 123 456", "+44 1", "00"])
def test_a_number_with_a_country_code_that_is_not_valid_is_refused(typed):
    with pytest.raises(InvalidRequest) as caught:
        normalise_phone(typed, "GB")
    assert caught.value.message.startswith("This is not a valid phone number: check the number and its country code")
    assert set(caught.value.fields) == {"attendee_phone"}


@pytest.mark.parametrize("typed", ["0\x007700900123", "\x00", "9" * 10_000, "+" + "4" * 41, "☎☎☎", "+",
                                   "０７７００ ９００１２３x" * 50, "\ud800"])
def test_junk_is_refused_not_crashed_on(typed):
    with pytest.raises(InvalidRequest):
        normalise_phone(typed, "GB")


@pytest.mark.parametrize("country", ["ZZ", "UK", "gbr", "", "G", "\x00\x00", "1A"])
def test_a_country_that_is_not_one_is_refused_on_its_own_field(country):
    if not country:  # none given: the default country
        assert normalise_phone("07911 123456", country) == "+447911123456"
        return
    with pytest.raises(InvalidRequest) as caught:
        normalise_phone("07911 123456", country)
    assert set(caught.value.fields) == {"attendee_phone_country"}
    assert "is not a country we know" in caught.value.message


def test_no_number_is_none_whatever_the_country():
    assert normalise_phone(None, "US") is None and normalise_phone("   ", "GB") is None


def test_the_countries_and_how_numbers_are_shown():
    choices = dict(region_choices())
    assert choices["GB"] == "United Kingdom (+44)" and choices["US"] == "United States (+1)"
    assert choices["XK"] == "Kosovo (+383)" and choices["IM"] == "Isle of Man (+44)"
    assert len(choices) > 200 and all(name for name in choices.values())
    assert international("+17812345678") == "+1 781-234-5678"
    assert international("+447700900123") == "+44 7700 900123"
    assert international("not stored by us") == "not stored by us" and international(None) == ""
    assert organization_region(None) == "GB" and organization_region({"phone_region": "US"}) == "US"
    assert organization_region({"phone_region": "ZZ"}) == "GB"  # a stored value that is not a country


# --- through create_booking: the gym's region, and the customer's choice -------------------------

@pytest.fixture
def gym(make_org, make_trainer, make_appointment_type, make_link):
    def make(**settings):
        org = make_org(timezone="Europe/London", settings=settings or None)
        alex = make_trainer(org=org, name="Alex")
        pt = make_appointment_type(org=org, name="PT", duration_minutes=60, booking_window_days=None,
                                   min_notice_minutes=60)
        return make_link([alex], [pt], slug=f"pt-{org.slug}")

    return make


def book(link, **kw):
    values = {"link_slug": link.slug, "start_time": MON_9, "attendee_name": "Jane Smith",
              "attendee_email": "jane@example.com", "actor": Actor("attendee"), "now": NOW, **kw}
    return create_booking(**values)


def test_a_us_number_on_a_uk_gym_is_refused_and_nothing_is_booked(db, gym):
    link = gym()
    with pytest.raises(InvalidRequest) as caught:
        book(link, attendee_phone="(781) 234-5678")
    assert "This is not a valid United Kingdom number." in caught.value.message
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_the_customer_chooses_the_country_of_their_number(db, gym):
    result = book(gym(), attendee_phone="(781) 234-5678", attendee_phone_country="US")
    assert result.booking.attendee_phone == "+17812345678"


def test_the_gym_sets_the_default_country(db, gym):
    link = gym(phone_region="US")
    assert book(link, attendee_phone="(781) 234-5678").booking.attendee_phone == "+17812345678"
    with pytest.raises(InvalidRequest):
        book(link, attendee_phone="07911 123456", start_time=MON_9.replace(hour=11))
    # the customer's choice still wins over the gym's
    moved = book(link, attendee_phone="07911 123456", attendee_phone_country="GB", start_time=MON_9.replace(hour=13))
    assert moved.booking.attendee_phone == "+447911123456"


def test_an_unknown_country_is_refused_even_without_a_number(db, gym):
    with pytest.raises(InvalidRequest) as caught:
        book(gym(), attendee_phone_country="ZZ")
    assert set(caught.value.fields) == {"attendee_phone_country"}
