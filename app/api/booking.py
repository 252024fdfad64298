"""Public booking API: GET /api/booking/availability (the spec's contract)."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.api import bp
from app.api.responses import iso_local, iso_utc, service_error_response, validation_error_response
from app.services.errors import ServiceError
from app.services.slot_search import search_slots


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
    staff_id: uuid.UUID | None = None
    timezone: str | None = Field(None, max_length=64)


@bp.get("/booking/availability")
def availability():
    """Free slots for a booking link (or an organization), in UTC with a local-time field."""
    try:
        params = AvailabilityParams.model_validate({k: v for k, v in request.args.items() if v != ""})
        search = search_slots(
            link_slug=params.link, org_slug=params.org, date_=params.date, start_date=params.start_date,
            end_date=params.end_date, duration=params.duration,
            appointment_type_id=str(params.appointment_type_id) if params.appointment_type_id else None,
            staff_id=str(params.staff_id) if params.staff_id else None, timezone_name=params.timezone,
            cache=current_app.extensions["slot_cache"],
            cache_seconds=current_app.config["AVAILABILITY_CACHE_SECONDS"],
        )
    except ValidationError as exc:
        return validation_error_response(exc, "The availability request is not valid.")
    except ServiceError as exc:
        return service_error_response(exc)

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
    return jsonify(body)
