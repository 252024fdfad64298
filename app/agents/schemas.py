"""The tools' arguments: one pydantic model per tool, and the JSON Schema generated from it.

The model validates a call and is also where the tool's schema comes from, so what agents are told
and what is accepted cannot drift apart. Names are the spec's camelCase on the wire (organizationSlug,
staffId, startTime…), so an agent can pass a slot it was given straight back to book_slot.
"""
from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.alias_generators import to_camel

from app.models.bookings import BOOKING_STATUSES
from app.services.dates import IsoDate, IsoDateTime


class ToolInput(BaseModel):
    """Arguments common to every tool. Names are camelCase on the wire; unknown names are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, alias_generator=to_camel,
                              validate_by_alias=True, validate_by_name=False)

    organization_slug: str | None = Field(
        None, max_length=80,
        description="The gym's slug, e.g. 'atlas-fitness'. Optional: defaults to the organization of the "
                    "API key, and a different one is refused.")


class FindAvailabilityInput(ToolInput):
    date: IsoDate | None = Field(None, description="One local date, YYYY-MM-DD. Or give startDate/endDate.")
    start_date: IsoDate | None = Field(None, description="First local date of a range (default: today).")
    end_date: IsoDate | None = Field(
        None, description="Last local date of the range, inclusive; at most 62 days (default: 7 days).")
    duration: int | None = Field(None, ge=1, le=1440,
                                 description="Length in minutes: searches the services of that length.")
    appointment_type_id: uuid.UUID | None = Field(None, description="The service (appointment type) id.")
    staff_id: uuid.UUID | None = Field(None, description="Only this trainer's free times.")
    booking_link_slug: str | None = Field(
        None, max_length=80, description="Search one public booking page (e.g. a team page) instead of the "
                                         "whole organization.")
    timezone: str | None = Field(
        None, max_length=64, description="IANA zone the dates are read in and local times given in "
                                         "(default: the gym's).")
    limit: int = Field(10, ge=1, le=100, description="At most this many slots, earliest first.")


class ListServicesInput(ToolInput):
    staff_id: uuid.UUID | None = Field(None, description="Only the services this trainer can be booked for.")


class BookSlotInput(ToolInput):
    start_time: IsoDateTime = Field(
        description="Start, ISO 8601 with a UTC offset or Z, e.g. 2024-03-15T10:00:00Z (a slot's startTime).")
    attendee_name: str = Field(min_length=1, max_length=200, description="The customer's full name.")
    attendee_email: str = Field(min_length=3, max_length=254, description="The customer's email address.")
    staff_id: uuid.UUID | None = Field(
        None, description="The trainer (a slot's staffId). Omit on a team page to have one assigned.")
    staff_ids: list[uuid.UUID] | None = Field(
        None, max_length=20,
        description="All the slot's trainers (a slot's staffIds). A slot with several is booked with all of them "
                    "together, through the page that books them together, never with one of them alone.")
    appointment_type_id: uuid.UUID | None = Field(
        None, description="The service (a slot's appointmentTypeId). Required unless bookingLinkSlug is given.")
    end_time: IsoDateTime | None = Field(None, description="End; if given it must equal start + the duration.")
    attendee_phone: str | None = Field(
        None, max_length=40,
        description="Phone for SMS reminders, best with its country code, e.g. +44 7700 900123. Without one it is "
                    "read as a number of attendeePhoneCountry and refused unless valid there.")
    attendee_phone_country: str | None = Field(
        None, min_length=2, max_length=2,
        description="ISO 3166 alpha-2 country (e.g. US) of an attendeePhone given without its country code. "
                    "Default: the gym's. Ask the customer rather than guess.")
    attendee_timezone: str | None = Field(None, max_length=64,
                                          description="The customer's IANA zone for their messages.")
    description: str | None = Field(None, max_length=2000, description="Notes for the trainer.")
    location_details: str | None = Field(None, max_length=500, description="Where, if not the usual place.")
    booking_link_slug: str | None = Field(
        None, max_length=80, description="Book through this public booking page (a slot's bookingLinkSlug). "
                                         "Default: the page that offers this trainer and service.")
    idempotency_key: str | None = Field(
        None, max_length=255, description="Any unique string: a retry with the same key returns the first "
                                          "booking instead of booking twice.")


class BookingRefInput(ToolInput):
    booking_id: uuid.UUID | None = Field(None, description="The booking's id (from book_slot or get_bookings).")
    manage_token: str | None = Field(
        None, max_length=128, description="The token from the customer's manage link "
                                          "(/booking/manage/<token>); instead of, or as well as, bookingId.")


class RescheduleBookingInput(BookingRefInput):
    start_time: IsoDateTime = Field(description="The new start, ISO 8601 with a UTC offset or Z.")
    staff_id: uuid.UUID | None = Field(
        None, description="Move to another trainer of the same booking page (default: the same trainer).")


class CancelBookingInput(BookingRefInput):
    reason: str | None = Field(None, max_length=500, description="Why, for the trainer and the records.")


class GetBookingInput(BookingRefInput):
    pass


class GetBookingsInput(ToolInput):
    when: Literal["upcoming", "past", "all"] = Field(
        "upcoming", description="upcoming (not yet ended), past, or all. Ignored when dates are given.")
    start_date: IsoDate | None = Field(
        None, description="From this local date (YYYY-MM-DD) on; alone, every booking from then.")
    end_date: IsoDate | None = Field(
        None, description="Until this local date, inclusive; alone, every booking until then. With startDate: "
                          "at most a year after it.")
    status: Literal[BOOKING_STATUSES] | None = Field(None, description="Only bookings with this status.")
    staff_id: uuid.UUID | None = Field(None, description="Only this trainer's bookings.")
    search: str | None = Field(None, max_length=100, description="Part of the customer's name or email.")
    timezone: str | None = Field(None, max_length=64, description="IANA zone for the dates (default: the gym's).")
    limit: int = Field(20, ge=1, le=100, description="Bookings per page.")
    page: int = Field(1, ge=1, le=10_000, description="Page number, from 1.")


class FindClassesInput(ToolInput):
    date: IsoDate | None = Field(None, description="One local date, YYYY-MM-DD. Or give startDate/endDate.")
    start_date: IsoDate | None = Field(None, description="First local date of a range (default: today).")
    end_date: IsoDate | None = Field(
        None, description="Last local date of the range, inclusive; at most 62 days (default: 7 days).")
    class_type_id: uuid.UUID | None = Field(None, description="Only sessions of this class (a session's classTypeId).")
    instructor_id: uuid.UUID | None = Field(None, description="Only sessions this instructor teaches.")
    timezone: str | None = Field(
        None, max_length=64, description="IANA zone the dates are read in and local times given in "
                                         "(default: the gym's).")
    limit: int = Field(20, ge=1, le=100, description="At most this many sessions, earliest first.")


class BookClassInput(ToolInput):
    session_id: uuid.UUID = Field(description="The class session (a session's sessionId from find_classes).")
    attendee_name: str = Field(min_length=1, max_length=200, description="The customer's full name.")
    attendee_email: str = Field(min_length=3, max_length=254, description="The customer's email address.")
    attendee_phone: str | None = Field(
        None, max_length=40,
        description="Phone for SMS (a promotion from the waitlist is texted too), best with its country code, "
                    "e.g. +44 7700 900123. Without one it is read as a number of attendeePhoneCountry and refused "
                    "unless valid there.")
    attendee_phone_country: str | None = Field(
        None, min_length=2, max_length=2,
        description="ISO 3166 alpha-2 country (e.g. US) of an attendeePhone given without its country code. "
                    "Default: the gym's. Ask the customer rather than guess.")
    attendee_timezone: str | None = Field(None, max_length=64,
                                          description="The customer's IANA zone for their messages.")
    join_waitlist: StrictBool = Field(
        False, description="If the class is full, put the customer on its waitlist (status waitlisted, with their "
                           "position) instead of being refused with class_full. Only when the customer agreed.")


def _clean_schema(node):
    """Pydantic's JSON Schema, tidied for models: no titles, `X or null` shown as X (omit the field
    instead of sending null), no `default: null`."""
    if isinstance(node, list):
        return [_clean_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: value for key, value in node.items() if key != "title"}
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(option for option in options if option != {"type": "null"})
        node = {**{k: v for k, v in node.items() if k != "anyOf"}, **other}
        if node.get("default", "x") is None:
            del node["default"]
    # `properties` maps field names to schemas: clean the schemas, never the names.
    return {key: ({name: _clean_schema(prop) for name, prop in value.items()} if key == "properties"
                  else _clean_schema(value))
            for key, value in node.items()}


def input_schema(model: type[ToolInput]) -> dict:
    """The JSON Schema of a tool's arguments, generated from the model that validates them."""
    schema = _clean_schema(model.model_json_schema(by_alias=True, mode="validation"))
    schema.setdefault("required", [])
    return schema


def input_fields(model: type[ToolInput]) -> list[str]:
    """The argument names a tool accepts (camelCase), in the order of its schema."""
    return [info.alias or key for key, info in model.model_fields.items()]


def required_fields(model: type[ToolInput]) -> list[str]:
    """The argument names a call must give (camelCase)."""
    return [info.alias for info in model.model_fields.values() if info.is_required()]
