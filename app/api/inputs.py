"""Reading a JSON API request: its body as a JSON object, and the actor it acts as (for the audit)."""
from __future__ import annotations

from flask import request

from app.services.bookings import Actor
from app.services.errors import InvalidRequest


def actor_from_request(kind: str = "attendee", actor_id: str | None = None) -> Actor:
    """Who the request acts as, with its address and browser, as the audit trails record them."""
    return Actor(type=kind, id=actor_id, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))


def json_body() -> dict:
    """The request's JSON body; InvalidRequest unless it is a JSON object."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", fields={"body": "expected a JSON object"})
    return body


def optional_json_body() -> dict:
    """The request's JSON body, or {} when there is none; InvalidRequest for JSON that is not an object."""
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", fields={"body": "expected a JSON object"})
    return body
