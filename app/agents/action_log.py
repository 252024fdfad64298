"""The AI action log: one `ai_action_log` row for every tool call, whatever its outcome.

Owners and admins see it under "What agents did" on the API keys page: the key (or assistant), the
action, the outcome code and status, the booking it touched, and the caller's address.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid

from app.agents.principals import Principal
from app.extensions import db
from app.models import AiActionLog

log = logging.getLogger(__name__)


def record_call(name, arguments, principal: Principal, outcome: str, status: int, payload: dict | None,
                now: dt.datetime) -> None:
    """One row of the action log, in its own commit; a failure to log never fails the call.

    `name` and `arguments` are as the caller sent them (possibly not a tool, possibly not a dict);
    the booking is the one the answer shows, else the `bookingId` asked for."""
    candidate = ((payload or {}).get("booking") or {}).get("id")
    if candidate is None and isinstance(arguments, dict):
        candidate = arguments.get("bookingId")
    try:
        booking_id = uuid.UUID(str(candidate)) if candidate else None
    except ValueError:
        booking_id = None
    try:
        db.session.add(AiActionLog(
            organization_id=principal.organization_id, api_key_id=principal.key_id,
            actor_id=str(principal.actor.id or "")[:100], action=str(name)[:40], outcome=outcome[:40],
            status=status, booking_id=booking_id, ip_address=(principal.actor.ip or None) and principal.actor.ip[:45],
            created_at=now))
        db.session.commit()
    except Exception:  # the action happened; losing its log line must not undo that
        db.session.rollback()
        log.exception("could not write the AI action log")
