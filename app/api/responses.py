"""Shared shapes of the JSON API: errors from services and pydantic, and datetime formatting."""
from __future__ import annotations

from pydantic import ValidationError

from app.errors import api_error
from app.timeformat import iso_local, iso_utc  # noqa: F401  (the API's formats; imported from here)
from app.services.errors import Conflict, InvalidRequest, NotFound, ServiceError

STATUS_BY_ERROR = {InvalidRequest: 400, NotFound: 404, Conflict: 409}


def service_error_response(exc: ServiceError):
    status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
    extra = dict(exc.details)
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
