"""book_slot with a phone and its country (issue 15, defect 14): the same rule as every other path."""
from __future__ import annotations

from ai_helpers import book_body, error_of
from sqlalchemy import func, select

from app.agents.schemas import BookSlotInput, input_schema
from app.models import Booking


def test_a_number_without_its_country_code_is_read_in_the_country_given(ai, db, gym):
    response = ai("book_slot", **book_body(gym, attendeePhone="(781) 234-5678", attendeePhoneCountry="US"))
    assert response.status_code == 201
    assert response.get_json()["booking"]["attendee"]["phone"] == "+17812345678"


def test_without_a_country_it_is_the_gyms_and_a_foreign_number_is_refused(ai, db, gym):
    error = error_of(ai("book_slot", **book_body(gym, attendeePhone="(781) 234-5678")))
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("This is not a valid United Kingdom number.")
    assert error["fields"] == {"attendeePhone": "not a valid United Kingdom number"}
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_a_country_that_is_not_one_is_refused_on_its_camel_case_field(ai, db, gym):
    error = error_of(ai("book_slot", **book_body(gym, attendeePhoneCountry="ZZ")))
    assert "attendeePhoneCountry" in error["fields"]
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_the_tool_tells_agents_about_the_country():
    properties = input_schema(BookSlotInput)["properties"]
    assert properties["attendeePhoneCountry"]["type"] == "string"
    assert "ISO 3166 alpha-2" in properties["attendeePhoneCountry"]["description"]
