"""Shared shapes of the JSON API: errors from services and pydantic, and datetime formatting."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from app.errors import api_error
from app.services.errors import Conflict, InvalidRequest, NotFound, ServiceError

STATUS_BY_ERROR = {InvalidRequest: 400, NotFound: 404, Conflict: 409}


def iso_utc(value: datetime) -> str:
    """2024-03-15T09:00:00Z"""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local(value: datetime, tz: str) -> str:
    """2024-03-15T09:00:00+00:00, wall-clock time in `tz` with its offset."""
    return value.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


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
