"""POST /api/booking/create with a phone and its country (issue 15, defect 14): a number without its
country code is read in `attendee_phone_country` (default: the gym's) and refused with a 400 naming the
field unless valid there — never stored as another country's number."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from app.models import Booking

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


def body(**overrides):
    return {"link_slug": "pt", "start_time": "2030-01-07T09:00:00Z", "attendee_name": "Jane Smith",
            "attendee_email": "jane@example.com", **overrides}


def bookings(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Booking))


def error_of(response, status: int = 400) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    payload = response.get_json()
    assert payload["success"] is False
    return payload["error"]


def test_a_us_number_without_its_country_is_refused_on_a_uk_gym(client, db, world):
    error = error_of(client.post("/api/booking/create", json=body(attendee_phone="(781) 234-5678")))
    assert error["code"] == "invalid_request"
    assert error["message"] == ("This is not a valid United Kingdom number. Choose the number's country, or write it "
                                "with its country code (e.g. +1 for the United States).")
    assert error["fields"] == {"attendee_phone": "not a valid United Kingdom number"}
    assert bookings(db) == 0


def test_the_country_of_the_number_can_be_given(client, db, world):
    response = client.post("/api/booking/create",
                           json=body(attendee_phone="(781) 234-5678", attendee_phone_country="US"))
    assert response.status_code == 201
    assert response.get_json()["booking"]["attendee"]["phone"] == "+17812345678"


@pytest.mark.parametrize("country", ["GB", "us", None])
def test_a_number_with_its_country_code_needs_no_country(client, db, world, country):
    extra = {} if country is None else {"attendee_phone_country": country}
    response = client.post("/api/booking/create", json=body(attendee_phone="+1 781 234 5678", **extra))
    assert response.status_code == 201
    assert response.get_json()["booking"]["attendee"]["phone"] == "+17812345678"


def test_the_gyms_phone_region_is_the_default(client, db, world):
    org, _, _ = world
    org.settings = {"phone_region": "US"}
    db.session.commit()
    response = client.post("/api/booking/create", json=body(attendee_phone="781-234-5678"))
    assert response.status_code == 201
    assert response.get_json()["booking"]["attendee"]["phone"] == "+17812345678"


def test_the_spec_example_number_is_still_accepted(client, db, world):
    response = client.post("/api/booking/create", json=body(attendee_phone="07700 900123"))
    assert response.status_code == 201
    assert response.get_json()["booking"]["attendee"]["phone"] == "+447700900123"


@pytest.mark.parametrize("country", ["ZZ", "UK", "USA", "1", "", 44, ["GB"]])
def test_a_country_that_is_not_one_is_a_400_on_its_field(client, db, world, country):
    error = error_of(client.post("/api/booking/create",
                                 json=body(attendee_phone="07700 900123", attendee_phone_country=country)))
    assert error["code"] == "invalid_request" and "attendee_phone_country" in error["fields"]
    assert bookings(db) == 0


@pytest.mark.parametrize("phone", ["9" * 40, "+999 1234 5678", "+1", "☎", "+44 7700 900123 ext 2 then ask for Jo"])
def test_junk_numbers_are_a_400_not_a_guess(client, db, world, phone):
    error = error_of(client.post("/api/booking/create", json=body(attendee_phone=phone)))
    assert set(error["fields"]) == {"attendee_phone"}
    assert bookings(db) == 0


def test_the_openapi_document_describes_the_country(client):
    schema = client.get("/api/openapi.json").get_json()["components"]["schemas"]["CreateBookingBody"]
    country = schema["properties"]["attendee_phone_country"]
    assert "ISO 3166 alpha-2" in country["description"] and "attendee_phone_country" not in schema.get("required", [])
    assert "never read as another country's" in schema["properties"]["attendee_phone"]["description"]
