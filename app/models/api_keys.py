"""API keys: how AI agents and other programs act for one organization through /api/ai/booking."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime, new_id, utcnow

# What a key may do. find_availability needs the first, get_booking(s) the second, changes the third.
API_KEY_SCOPES = ("availability:read", "bookings:read", "bookings:write")


class ApiKey(db.Model):
    """A bearer key of one organization, with scopes. Only its SHA-256 is stored: the key itself is
    shown once, when it is created; `prefix` (its first characters) tells keys apart in lists."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(24))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Keys outlive the admin who made them: deactivated staff are kept, but SET NULL all the same.
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Updated at most once a minute (a write on every call would cost more than it tells).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiKey {self.prefix}… {self.name}>"


class AiActionLog(db.Model):
    """One tool call by an agent — through the API, the MCP server or an assistant — whatever its
    outcome. Booking changes are audited per booking as well (booking_audit, actor `ai`); this log
    also holds the reads and the refusals, so an admin can see everything a key did."""

    __tablename__ = "ai_action_log"
    __table_args__ = (Index("ix_ai_action_log_organization_id_created_at", "organization_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # The key, when a key was used (SET NULL: the log outlives a deleted key; revoked keys stay).
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), index=True)
    actor_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    # "ok", or the error code the caller was given (slot_taken, insufficient_scope, …).
    outcome: Mapped[str] = mapped_column(String(40))
    status: Mapped[int] = mapped_column(Integer)
    booking_id: Mapped[uuid.UUID | None] = mapped_column()
    ip_address: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssistantTurn(db.Model):
    """One message answered by an assistant, by its turn key: the same state posted twice with the
    same request (a double click, a resent form, a replayed request) is answered from here, once.

    `key_hash` is the SHA-256 of the audience, the state's turn key and the request; `answer` is what
    the panel showed (its encrypted state and flags), None while the turn is being answered. Rows
    older than a conversation's life (24 h) are deleted as new turns arrive."""

    __tablename__ = "assistant_turns"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    answer: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
