"""Push channels: Google tells us when a calendar changes (events.watch), so busy times stay fresh
without polling. Each selected calendar gets its own channel with a random token stored hashed;
channels are renewed a day before they expire, and a notification is accepted only with the right
channel id, token and resource."""
from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.integrations import google_calendar as google
from app.models import Calendar, CalendarConnection
from app.services import background
from app.services.calendar.access import (
    backoff,
    client_for,
    connection_failed,
    digest,
    settings,
    utcnow,
)
from app.services.errors import InvalidRequest, NotFound, ServiceError

log = logging.getLogger(__name__)


CHANNEL_RENEW_BEFORE = timedelta(days=1)


def wants_channel(calendar: Calendar) -> bool:
    """A calendar needs a channel when it blocks availability or receives bookings."""
    return bool(calendar.check_for_conflicts or calendar.is_destination)


def ensure_channel(calendar: Calendar, *, now: datetime | None = None, force: bool = False) -> bool:
    """Start (or renew, a day before it expires) the calendar's push channel. True when one is live
    and was not waiting out a backoff.

    A calendar nobody selected has its channel stopped. Failures are recorded, not raised: without
    a channel the calendar is polled by the periodic pass, and the start is tried again only after
    a backoff (`access.backoff`; `force` skips the wait: a person asked)."""
    now = utcnow(now)
    config = settings()
    connection = db.session.get(CalendarConnection, calendar.connection_id)
    if config is None or connection is None or connection.status != "active":
        return False
    if not wants_channel(calendar):
        if calendar.channel_id:
            with client_for(connection, config) as client:
                stop_channel(client, calendar)
            db.session.commit()
        return False
    live = calendar.channel_expires_at is not None and calendar.channel_expires_at > now + CHANNEL_RENEW_BEFORE
    if calendar.channel_id and live and not force:
        return True
    if calendar.channel_backoff_until is not None and calendar.channel_backoff_until > now and not force:
        return False  # not yet: the old channel serves while it lasts, else the calendar is polled
    channel_id = uuid.uuid4().hex
    token = secrets.token_urlsafe(32)
    with client_for(connection, config) as client:
        try:
            answer = client.watch(calendar.external_id, channel_id=channel_id, token=token,
                                  address=current_app.config["GOOGLE_WEBHOOK_URL"],
                                  ttl_seconds=current_app.config["GOOGLE_CHANNEL_TTL"])
        except google.GoogleError as exc:
            connection_failed(connection, exc, now)
            calendar.channel_failures += 1
            calendar.channel_backoff_until = backoff(calendar.channel_failures, exc, now)
            calendar.sync_error = f"Push notifications could not be started ({exc}); polling instead."[:500]
            db.session.commit()
            return False
        if calendar.channel_id:
            stop_channel(client, calendar)
    calendar.channel_failures, calendar.channel_backoff_until = 0, None
    calendar.channel_id = channel_id
    calendar.channel_token_hash = digest(token)
    calendar.channel_resource_id = answer.get("resourceId")
    expiration = answer.get("expiration")
    calendar.channel_expires_at = (datetime.fromtimestamp(int(expiration) / 1000, timezone.utc) if expiration
                                   else now + timedelta(seconds=current_app.config["GOOGLE_CHANNEL_TTL"]))
    db.session.commit()
    return True


def stop_channel(client: google.CalendarClient, calendar: Calendar) -> None:
    """Ask Google to stop the channel (best effort) and forget it."""
    if calendar.channel_id and calendar.channel_resource_id:
        try:
            client.stop_channel(calendar.channel_id, calendar.channel_resource_id)
        except google.GoogleError as exc:
            log.info("could not stop channel %s: %s", calendar.channel_id, exc)
    calendar.channel_id = calendar.channel_token_hash = calendar.channel_resource_id = None
    calendar.channel_expires_at = None


class ChannelRejected(ServiceError):
    """A push notification with a wrong token or resource (a 403)."""

    code = "channel_rejected"


def verify_push(channel_id: str | None, token: str | None, resource_id: str | None) -> Calendar:
    """The calendar a push notification is for, if its channel id, token and resource are ours."""
    if not channel_id:
        raise InvalidRequest("X-Goog-Channel-ID is missing.", fields={"X-Goog-Channel-ID": "required"})
    calendar = db.session.scalars(select(Calendar).where(Calendar.channel_id == channel_id[:64])).first()
    if calendar is None:
        raise NotFound("Unknown channel.")
    if not token or not calendar.channel_token_hash or not hmac.compare_digest(digest(token), calendar.channel_token_hash):
        raise ChannelRejected("Wrong channel token.")
    if resource_id and calendar.channel_resource_id and resource_id != calendar.channel_resource_id:
        raise ChannelRejected("The resource does not match the channel.")
    return calendar




PUSH_STATES = ("sync", "exists", "not_exists")


def receive_push(channel_id: str | None, token: str | None, resource_id: str | None, state: str | None) -> Calendar:
    """A push notification from Google: check the channel, its token and its state, and (for a change,
    not the first `sync` handshake) sync that calendar in the background. Returns the calendar."""
    calendar = verify_push(channel_id, token, resource_id)
    state = (state or "").lower()
    if state not in PUSH_STATES:
        raise InvalidRequest("X-Goog-Resource-State must be sync, exists or not_exists.",
                             fields={"X-Goog-Resource-State": "unknown state"})
    if state != "sync":
        background.submit("calendar.sync", str(calendar.id))
    return calendar
