"""Shared shapes of the JSON API: errors from services and pydantic, and datetime formatting."""
from __future__ import annotations

from pydantic import ValidationError

from app.errors import api_error
from app.services.bookings import SlotTaken
from app.services.errors import Conflict, InvalidRequest, NotFound, ServiceError
from app.services.scheduling.engine import Slot
from app.timeformat import iso_local, iso_utc  # noqa: F401  (the API's formats; imported from here)

STATUS_BY_ERROR = {InvalidRequest: 400, NotFound: 404, Conflict: 409}
RESERVED_DETAILS = frozenset({"status", "code", "message"})


def alternative_json(slot: Slot) -> dict:
    """A free time offered when the one asked for was taken."""
    return {"start": iso_utc(slot.start), "end": iso_utc(slot.end), "staff_id": slot.staff_id,
            "staff_name": slot.staff_name, "appointment_type_id": slot.appointment_type_id}


def service_error_response(exc: ServiceError):
    """A service's error in the API's error shape (alternatives included when a time was taken)."""
    status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
    # A detail named like a member of the error itself (already_booked carries the spot's `status`)
    # is given as existing_<name>: it must neither replace the error's own nor break api_error's call.
    extra = {(f"existing_{key}" if key in RESERVED_DETAILS else key): value for key, value in exc.details.items()}
    if isinstance(exc, SlotTaken):
        extra["alternatives"] = [alternative_json(slot) for slot in exc.alternatives]
    if exc.fields:
        extra["fields"] = exc.fields
    return api_error(status, exc.code, exc.message, **extra)


def validation_error_response(exc: ValidationError, message: str = "Some fields are not valid."):
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "body"
        fields.setdefault(name, error["msg"].removeprefix("Value error, "))
    return api_error(400, "invalid_request", message + " " + "; ".join(f"{k}: {v}" for k, v in fields.items()),
                     fields=fields)
