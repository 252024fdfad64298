"""Public booking API (the spec's contract): availability, create, and token-managed changes.

The manage endpoints take a class spot's token too (classes.py shapes those answers): GET shows the
spot (`kind: class`), DELETE gives it up or leaves the waitlist, PUT refuses (classes are not moved
by customers). An appointment's token is looked up first, so appointments answer as they always have."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated

from flask import current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.api import classes
from app.api.blueprint import bp
from app.api.inputs import actor_from_request, json_body, optional_json_body
from app.api.responses import (
    iso_local,
    iso_utc,
    service_error_response,
    validation_error_response,
)
from app.extensions import db, limiter
from app.models import Booking, Organization
from app.services.bookings import (
    can_move_online,
    cancel_booking,
    change_deadline,
    create_booking,
    get_booking_by_token,
    manage_url,
    reschedule_booking,
    summarize,
)
from app.services.dates import IsoText
from app.services.errors import InvalidRequest, NotFound, ServiceError
from app.services.scheduling import SlotSearch, reuse, search_slots


class AvailabilityParams(BaseModel):
    """Query parameters of GET /api/booking/availability, as the spec names them."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    link: str | None = Field(None, max_length=80)
    org: str | None = Field(None, max_length=80)
    date: dt.date | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    duration: int | None = Field(None, ge=1, le=1440)
    appointment_type_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = Field(None, description="Only this trainer's times (on a collective link: "
                                                          "ignored, the times are everyone's).")
    timezone: str | None = Field(None, max_length=64)


@bp.get("/booking/availability")
@limiter.limit(lambda: current_app.config["RATELIMIT_AVAILABILITY"])
def availability():
    """Free slots for a booking link (or an organization), in UTC with a local-time field."""
    try:
        params = AvailabilityParams.model_validate({k: v for k, v in request.args.items() if v != ""})
        body = search_slots(
            link_slug=params.link, org_slug=params.org, date_=params.date, start_date=params.start_date,
            end_date=params.end_date, duration=params.duration,
            appointment_type_id=str(params.appointment_type_id) if params.appointment_type_id else None,
            staff_id=str(params.staff_id) if params.staff_id else None, timezone_name=params.timezone,
        )
        body = reuse("api.availability", body, availability_json)
    except ValidationError as exc:
        return validation_error_response(exc, "The availability request is not valid.")
    except ServiceError as exc:
        return service_error_response(exc)
    return current_app.response_class(body, mimetype="application/json")


def availability_json(search: SlotSearch) -> bytes:
    """The spec's availability response (serialised once per cached search)."""
    tz = search.timezone
    duration = search.duration_minutes
    slots = [
        {
            "start": iso_utc(slot.start),
            "end": iso_utc(slot.end),
            "duration": duration,
            "staff_id": slot.staff_id,
            "staff_name": slot.staff_name,
            "appointment_type_id": slot.appointment_type_id,
            "staff_ids": list(slot.staff_ids),
            "local_start": iso_local(slot.start, tz),
            "local_end": iso_local(slot.end, tz),
        }
        for slot in search.slots
    ]
    body = {
        "success": True,
        "slots": slots,
        "timezone": tz,
        "start_date": search.start_date.isoformat(),
        "end_date": search.end_date.isoformat(),
        "appointment_type": {"id": search.appointment_type_id, "name": search.appointment_type_name,
                             "duration": duration},
        "booking_link": (
            {"slug": search.link_slug, "name": search.link_name, "type": search.link_type}
            if search.link_slug else None
        ),
        "organization": {"slug": search.organization_slug, "name": search.organization_name},
    }
    return json.dumps(body, separators=(",", ":")).encode()


# --- create and manage ---------------------------------------------------------------------------

class CreateBookingBody(BaseModel):
    """POST /api/booking/create, with the spec's field names."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    link_slug: str = Field(min_length=1, max_length=80)
    staff_id: uuid.UUID | None = Field(None, description="The trainer (required on an individual link with "
                                                          "several; on a collective link ignored: everyone is "
                                                          "booked together).")
    appointment_type_id: uuid.UUID | None = None
    start_time: Annotated[dt.datetime, IsoText]
    end_time: Annotated[dt.datetime, IsoText] | None = None
    attendee_name: str = Field(min_length=1, max_length=200)
    attendee_email: str = Field(min_length=3, max_length=254)
    attendee_phone: str | None = Field(
        None, max_length=40,
        description="For SMS. Stored in E.164. With its country code (+1 781 234 5678, 00 1 …) it is that country's; "
                    "without, it is read as a number of attendee_phone_country and refused (400, "
                    "`fields.attendee_phone`) unless valid there — never read as another country's.")
    attendee_phone_country: str | None = Field(
        None, min_length=2, max_length=2, examples=["GB", "US"],
        description="ISO 3166 alpha-2 country of an attendee_phone written without its country code. Default: the "
                    "organization's phone region (GB unless it chose another).")
    attendee_timezone: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=2000)
    location_details: str | None = Field(None, max_length=500)


class RescheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    token: str | None = Field(None, max_length=128)
    start_time: Annotated[dt.datetime, IsoText]
    end_time: Annotated[dt.datetime, IsoText] | None = None  # as in the create body: checked against the duration
    staff_id: uuid.UUID | None = None


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    token: str | None = Field(None, max_length=128)
    reason: str | None = Field(None, max_length=500)


def booking_json(booking: Booking, staff_name: str | None = None, type_name: str | None = None) -> dict:
    """A booking as the API shows it (UTC, plus local times in the attendee's zone)."""
    b = summarize(booking, staff_name, type_name)
    return {
        "id": b.id,
        "status": b.status,
        "start": iso_utc(b.start),
        "end": iso_utc(b.end),
        "local_start": iso_local(b.start, b.timezone),
        "local_end": iso_local(b.end, b.timezone),
        "timezone": b.timezone,
        "duration": b.duration_minutes,
        "staff": {"id": b.staff_id, "name": b.staff_name},
        "appointment_type": ({"id": b.appointment_type_id, "name": b.appointment_type_name,
                              "duration": b.duration_minutes} if b.appointment_type_id else None),
        "attendee": {"name": b.attendee_name, "email": b.attendee_email, "phone": b.attendee_phone},
        "description": b.description,
        "location_details": b.location_details,
        "cancellation_reason": b.cancellation_reason,
        "created_at": iso_utc(b.created_at),
    }


@bp.post("/booking/create")
@limiter.limit(lambda: current_app.config["RATELIMIT_BOOKING_CREATE"])
def create():
    """Book a slot. 201 with the booking and its manage URL (the token is shown only here)."""
    try:
        body = CreateBookingBody.model_validate(json_body())
        result = create_booking(
            link_slug=body.link_slug, start_time=body.start_time, end_time=body.end_time,
            attendee_name=body.attendee_name, attendee_email=body.attendee_email,
            attendee_phone=body.attendee_phone, attendee_phone_country=body.attendee_phone_country,
            attendee_timezone=body.attendee_timezone,
            appointment_type_id=str(body.appointment_type_id) if body.appointment_type_id else None,
            staff_id=str(body.staff_id) if body.staff_id else None, description=body.description,
            location_details=body.location_details, idempotency_key=request.headers.get("Idempotency-Key"),
            actor=actor_from_request(), source="api",
        )
    except ValidationError as exc:
        return validation_error_response(exc, "The booking request is not valid.")
    except ServiceError as exc:
        return service_error_response(exc)
    payload = {"success": True,
               "booking": booking_json(result.booking, result.staff_name, result.appointment_type_name)}
    if result.created:
        payload["manage_token"] = result.manage_token
        payload["manage_url"] = manage_url(result.manage_token)
        return jsonify(payload), 201
    payload["idempotent_replay"] = True
    payload["manage_url"] = None
    payload["message"] = ("This request was already made with the same Idempotency-Key; this is the booking "
                          "it made. The manage link was shown then and sent in the confirmation.")
    return jsonify(payload), 200


def _token_from(body: dict | None = None) -> str:
    token = request.args.get("token") or (body or {}).get("token")
    if not token:
        raise InvalidRequest("The manage token is missing.", fields={"token": "required"})
    return token


@bp.get("/booking/manage")
@limiter.limit(lambda: current_app.config["RATELIMIT_BOOKING_MANAGE"])
def manage_get():
    """The booking (or class spot) the token is for, and until when it can be changed here."""
    try:
        token = _token_from()
        try:
            booking = get_booking_by_token(token)
        except NotFound:
            spot = classes.spot_for_token(token)
            if spot is None:
                raise
            return jsonify(classes.managed_spot_json(spot))
    except ServiceError as exc:
        return service_error_response(exc)
    org = db.session.get(Organization, booking.organization_id)
    return jsonify({"success": True, "booking": booking_json(booking),
                    "can_change_until": iso_utc(change_deadline(booking, org)),
                    "can_reschedule": can_move_online(booking, org, dt.datetime.now(dt.timezone.utc))})


@bp.put("/booking/manage")
@limiter.limit(lambda: current_app.config["RATELIMIT_BOOKING_MANAGE"])
def manage_put():
    """Reschedule to a new start_time (optionally with another member of staff on the same link)."""
    try:
        raw = json_body()
        if classes.spot_for_token(request.args.get("token") or raw.get("token")) is not None:
            raise classes.refuse_move()
        body = RescheduleBody.model_validate(raw)
        booking = get_booking_by_token(_token_from(raw))
        booking = reschedule_booking(booking.id, start_time=body.start_time, end_time=body.end_time,
                                     staff_id=str(body.staff_id) if body.staff_id else None,
                                     actor=actor_from_request(actor_id=str(booking.id)))
    except ValidationError as exc:
        return validation_error_response(exc, "The reschedule request is not valid.")
    except ServiceError as exc:
        return service_error_response(exc)
    return jsonify({"success": True, "booking": booking_json(booking)})


@bp.delete("/booking/manage")
@limiter.limit(lambda: current_app.config["RATELIMIT_BOOKING_MANAGE"])
def manage_delete():
    """Cancel, with an optional reason (a class spot: give it up, or leave the waitlist)."""
    try:
        raw = optional_json_body()
        body = CancelBody.model_validate(raw)
        token = _token_from(raw)
        try:
            booking = get_booking_by_token(token)
        except NotFound:
            spot = classes.spot_for_token(token)
            if spot is None:
                raise
            return jsonify(classes.cancel_spot_json(spot, body.reason))
        booking = cancel_booking(booking.id, reason=body.reason, actor=actor_from_request(actor_id=str(booking.id)))
    except ValidationError as exc:
        return validation_error_response(exc, "The cancel request is not valid.")
    except ServiceError as exc:
        return service_error_response(exc)
    return jsonify({"success": True, "booking": booking_json(booking)})
