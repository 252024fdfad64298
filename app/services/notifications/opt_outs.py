"""Who does not want what, and the secrets messages carry: opt-outs, unsubscribe links, and the
manage link sealed at rest (SMS delivery statuses: sms_status).

* Email: every attendee email carries a signed unsubscribe link (per organization and address);
  unsubscribing stops that organization's *reminders* — confirmations and cancellations still go.
* SMS: STOP (or Twilio's error 21610) stops every SMS to the number, from any organization (all
  gyms send from the one Twilio number); START lifts it.
* The manage token is kept in the notification's context encrypted (`seal`/`unseal`).
"""
from __future__ import annotations

import base64
import hashlib
import uuid

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Notification, NotificationOptOut, Organization
from app.services import urls
from app.services.errors import NotFound

# --- the manage link, encrypted at rest -------------------------------------------------------------
# The booking stores only a hash of its manage token, yet reminders and update emails should carry
# the manage link. The token is kept in the notification's context, encrypted with a Fernet key
# derived from SECRET_KEY: a database dump alone does not reveal it. Rotating SECRET_KEY makes old
# tokens unreadable; those messages then go out without the link (they say to use the confirmation).

def _fernet() -> Fernet:
    digest = hashlib.sha256(b"atlas-notification-context:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: str) -> str:
    """`value` encrypted for storage in a notification's context."""
    return _fernet().encrypt(value.encode()).decode()


def unseal(value: str | None) -> str | None:
    """What `seal` stored, or None (nothing stored, or sealed under another SECRET_KEY)."""
    if not value:
        return None
    try:
        return _fernet().decrypt(value.encode()).decode()
    except (InvalidToken, ValueError):
        return None


# --- unsubscribe links ----------------------------------------------------------------------------

def _unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="atlas-email-unsubscribe")


def unsubscribe_link(organization_id: uuid.UUID, email: str) -> str:
    """The signed link that stops this organization's reminder emails to `email`."""
    token = _unsubscribe_serializer().dumps({"o": str(organization_id), "e": email.lower()})
    return urls.unsubscribe_url(token)


def read_unsubscribe_token(token: str) -> tuple[Organization, str]:
    """(organization, email) of a signed unsubscribe token, or NotFound for a forged or stale one."""
    try:
        data = _unsubscribe_serializer().loads(token)
        org_id, email = uuid.UUID(data["o"]), str(data["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound("This unsubscribe link is not valid.") from None
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("This unsubscribe link is not valid.")
    return org, email


def unsubscribe_email(token: str) -> tuple[Organization, str]:
    """Stop reminder emails from the token's organization to the token's address (idempotent).

    Confirmations and cancellations still go: they are about something the person just did."""
    org, email = read_unsubscribe_token(token)
    add_opt_out(org.id, "email", email, "unsubscribe_link")
    db.session.commit()
    return org, email


# --- opt-outs -------------------------------------------------------------------------------------

def add_opt_out(organization_id: uuid.UUID, channel: str, address: str, source: str) -> None:
    """Record that `address` wants nothing more on `channel` (no commit; a repeat changes nothing)."""
    address = address.lower() if channel == "email" else address
    exists = db.session.scalar(select(NotificationOptOut.id).where(
        NotificationOptOut.organization_id == organization_id, NotificationOptOut.channel == channel,
        NotificationOptOut.address == address))
    if exists is None:
        try:
            with db.session.begin_nested():
                db.session.add(NotificationOptOut(organization_id=organization_id, channel=channel, address=address,
                                                  source=source))
        except IntegrityError:  # the same opt-out arrived twice at once
            pass


def record_sms_opt_out(number: str, source: str) -> int:
    """STOP (or Twilio's 21610) from `number`: no further SMS to it, from any organization.

    The row names the organization(s) that last texted the number; returns how many rows exist now."""
    orgs = db.session.scalars(select(Notification.organization_id).where(
        Notification.channel == "sms", Notification.recipient == number).distinct()).all()
    for org_id in orgs:
        add_opt_out(org_id, "sms", number, source)
    db.session.flush()
    count = db.session.scalar(select(func.count()).select_from(NotificationOptOut).where(
        NotificationOptOut.channel == "sms", NotificationOptOut.address == number))
    db.session.commit()
    return count


def record_sms_opt_in(number: str) -> int:
    """START from `number`: SMS may go to it again. Returns how many opt-outs were removed."""
    result = db.session.execute(delete(NotificationOptOut).where(
        NotificationOptOut.channel == "sms", NotificationOptOut.address == number))
    db.session.commit()
    return result.rowcount or 0
