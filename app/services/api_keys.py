"""API keys: create (shown once), list, revoke, and authenticate a bearer key.

A key is `atlas_sk_` followed by 256 random bits from `secrets`; the database keeps its SHA-256 and
its first characters. A key belongs to one organization and carries scopes (API_KEY_SCOPES).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.extensions import db
from app.models import API_KEY_SCOPES, AiActionLog, ApiKey
from app.services.errors import Conflict, InvalidRequest
from app.services.scoping import org_row

KEY_PREFIX = "atlas_sk_"
KEY_BYTES = 32
# The part of a key shown in lists: the fixed prefix and six random characters.
SHOWN_CHARS = len(KEY_PREFIX) + 6
MAX_KEY_LENGTH = 128
NAME_MAX = 100
# last_used_at is written at most this often per key (every call would be a write per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)

SCOPE_LABELS = {
    "availability:read": "Find free times",
    "bookings:read": "Read bookings (names, emails, times)",
    "bookings:write": "Book, reschedule and cancel",
}


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    token: str  # the secret itself: shown once, never stored


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def create_api_key(org_id: uuid.UUID, *, name: str | None, scopes, created_by_id: uuid.UUID | None = None,
                   now: datetime | None = None) -> NewApiKey:
    """A new key of the organization with these scopes. The returned token is the only copy."""
    fields: dict[str, str] = {}
    clean_name = " ".join((name or "").split())
    if not clean_name:
        fields["name"] = "Give the key a name, e.g. the agent or integration that will use it."
    elif len(clean_name) > NAME_MAX:
        fields["name"] = f"At most {NAME_MAX} characters."
    chosen = [scope for scope in API_KEY_SCOPES if scope in set(scopes or ())]
    unknown = sorted(set(scopes or ()) - set(API_KEY_SCOPES))
    if unknown:
        fields["scopes"] = f"Unknown scope(s): {', '.join(unknown)}."
    elif not chosen:
        fields["scopes"] = "Choose at least one permission."
    if fields:
        raise InvalidRequest("Please correct the highlighted fields.", fields=fields)
    token = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    key = ApiKey(organization_id=org_id, name=clean_name, prefix=token[:SHOWN_CHARS], key_hash=hash_key(token),
                 scopes=chosen, created_by_id=created_by_id, created_at=_now(now))
    db.session.add(key)
    db.session.commit()
    return NewApiKey(key=key, token=token)


def list_api_keys(org_id: uuid.UUID) -> list[ApiKey]:
    """The organization's keys: active ones first, newest first."""
    return list(db.session.scalars(
        select(ApiKey).where(ApiKey.organization_id == org_id)
        .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id)
    ))


def get_api_key(org_id: uuid.UUID, key_id) -> ApiKey:
    """One key of the organization; NotFound for a missing key or another organization's."""
    return org_row(ApiKey, org_id, key_id, "API key")


def revoke_api_key(org_id: uuid.UUID, key_id, *, now: datetime | None = None) -> ApiKey:
    """Revoke a key: from now on it authenticates nothing. Revoking twice is refused."""
    key = get_api_key(org_id, key_id)
    if key.revoked_at is not None:
        raise Conflict(f"The key {key.name!r} is already revoked.", code="already_revoked")
    key.revoked_at = _now(now)
    db.session.commit()
    return key


def authenticate(token: str | None, *, now: datetime | None = None) -> ApiKey | None:
    """The active key this token is, or None (the same answer for unknown, malformed and revoked keys).

    Records when the key was last used (to the minute) and commits that, so the caller starts clean."""
    if not token or not token.startswith(KEY_PREFIX) or len(token) > MAX_KEY_LENGTH:
        return None
    digest = hash_key(token)
    key = db.session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    # The lookup is by hash; the constant-time comparison keeps the final check free of timing leaks.
    if key is None or not hmac.compare_digest(key.key_hash, digest) or key.revoked_at is not None:
        return None
    now = _now(now)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.session.commit()
    return key


def recent_actions(org_id: uuid.UUID, *, limit: int = 50) -> list:
    """The organization's latest agent tool calls (API, MCP, assistants), newest first, with their keys."""
    rows = db.session.execute(
        select(AiActionLog, ApiKey.name, ApiKey.prefix)
        .outerjoin(ApiKey, ApiKey.id == AiActionLog.api_key_id)
        .where(AiActionLog.organization_id == org_id)
        .order_by(AiActionLog.created_at.desc()).limit(limit)
    ).all()
    return [(entry, name, prefix) for entry, name, prefix in rows]
