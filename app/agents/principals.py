"""Who a tool call acts for: an API key, a member of staff's assistant, or a gym's public assistant.

A principal is one organization, the scopes it holds and the actor the services audit; two flags
narrow it further for the in-app assistants (see `Principal`).
"""
from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import API_KEY_SCOPES, Organization
from app.services import api_keys
from app.services.bookings import Actor

ALL_SCOPES = frozenset(API_KEY_SCOPES)
USER_AGENT_CHARS = 300  # what the audit trail keeps of a browser's User-Agent


@dataclass(frozen=True)
class Principal:
    """Who a tool call acts for: one organization, with scopes, audited as `actor`."""

    organization_id: uuid.UUID
    organization_slug: str
    scopes: frozenset[str]
    actor: Actor                      # Actor("ai", id=...): written to booking_audit by the services
    key_id: uuid.UUID | None = None
    # The public booking assistant: get/reschedule/cancel need the booking's manage token.
    manage_token_required: bool = False
    # A trainer's dashboard assistant: bookings are read only when they are this trainer's own
    # (the dashboard's own rule). None: the whole organization.
    own_bookings_of: uuid.UUID | None = None

    def seen_from(self, ip: str | None, user_agent: str | None) -> Principal:
        """The same principal, acting from this address and browser (the audit trail records both)."""
        actor = dataclasses.replace(self.actor, ip=ip, user_agent=(user_agent or "")[:USER_AGENT_CHARS] or None)
        return dataclasses.replace(self, actor=actor)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None for no header or another scheme)."""
    scheme, _, token = (authorization or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def principal_for_key(token: str) -> Principal | None:
    """The principal of an active API key (None for an unknown, malformed or revoked key)."""
    key = api_keys.authenticate(token)
    if key is None:
        return None
    org_slug = db.session.scalar(select(Organization.slug).where(Organization.id == key.organization_id))
    return Principal(organization_id=key.organization_id, organization_slug=org_slug,
                     scopes=frozenset(key.scopes or ()) & ALL_SCOPES, actor=Actor("ai", id=str(key.id)),
                     key_id=key.id)


def principal_for_staff(user) -> Principal:
    """A signed-in member of staff's dashboard assistant.

    Owners and admins get all three scopes. A trainer gets what the dashboard lets a trainer do:
    find free times and read their own bookings (trainers do not book, move or cancel there)."""
    actor = Actor("ai", id=f"assistant:{user.id}")
    if user.role in ("owner", "admin"):
        return Principal(user.organization_id, user.organization.slug, ALL_SCOPES, actor)
    return Principal(user.organization_id, user.organization.slug,
                     frozenset({"availability:read", "bookings:read"}), actor, own_bookings_of=user.id)


def principal_for_public(org) -> Principal:
    """The public booking assistant of an organization's pages: finds times and books; changes and
    reads a booking only with its manage token, like the public manage pages."""
    return Principal(org.id, org.slug, frozenset({"availability:read", "bookings:write"}),
                     Actor("ai", id=f"public-assistant:{org.id}"), manage_token_required=True)
