"""Domain errors raised by the services. Views and API endpoints turn them into responses."""
from __future__ import annotations


class ServiceError(Exception):
    """Base of every expected failure: a stable machine code, a message for people, field errors."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, str] | None = None,
                 **details) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}
        self.details = details


class InvalidRequest(ServiceError):
    """The input is malformed or not allowed (a 400 in the JSON API)."""

    code = "invalid_request"


class NotFound(ServiceError):
    """The thing asked for does not exist, or is not visible to the caller (a 404)."""

    code = "not_found"


class Conflict(ServiceError):
    """The request is well formed but clashes with the current state (a 409)."""

    code = "conflict"
