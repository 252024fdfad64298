"""External calendar connections (Google) and the calendars they expose."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import JSONType, UTCDateTime, new_id, utcnow


class CalendarConnection(db.Model):
    """One staff member's OAuth grant to a calendar provider. Tokens are encrypted at rest."""

    __tablename__ = "calendar_connections"
    __table_args__ = (
        CheckConstraint("provider IN ('google')", name="provider_valid"),
        CheckConstraint(
            "status IN ('active', 'needs_reconnect', 'error', 'revoked')", name="status_valid"
        ),
        UniqueConstraint("user_id", "provider", "account_email"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16), default="google")
    account_email: Mapped[str | None] = mapped_column(String(254))
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the calendar list was last re-read from Google (periodically: calendars come and go).
    calendars_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the trainer was last emailed that the connection needs reconnecting / that write-backs
    # keep failing: told once, not on every pass.
    reconnect_emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    write_failures_emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    calendars = relationship("Calendar", back_populates="connection", cascade="all, delete-orphan")


class Calendar(db.Model):
    """A calendar of a connection: whether it blocks availability, whether bookings are written to it,
    and its incremental-sync and push-channel state."""

    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(300))
    timezone: Mapped[str | None] = mapped_column(String(64))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    check_for_conflicts: Mapped[bool] = mapped_column(Boolean, default=False)
    is_destination: Mapped[bool] = mapped_column(Boolean, default=False)
    sync_token: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_error: Mapped[str | None] = mapped_column(Text)
    channel_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    channel_token_hash: Mapped[str | None] = mapped_column(String(64))
    channel_resource_id: Mapped[str | None] = mapped_column(String(255))
    channel_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    busy_cache: Mapped[list | None] = mapped_column(JSONType)
    busy_cache_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    busy_cache_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When busy_cache was last fetched, and when Google last failed us for this calendar.
    busy_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Reads of changes (events.list) / channel starts (events.watch) failed in a row, and no further
    # such call before this moment (exponential backoff, or Google's Retry-After). Kept apart: a
    # failing channel must not stop the polling that stands in for it.
    sync_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sync_backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    channel_backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    connection = relationship("CalendarConnection", back_populates="calendars")


class CalendarOAuthState(db.Model):
    """An OAuth consent in progress: the `state` sent to Google (hashed) and the PKCE code verifier
    (encrypted), kept server-side until the callback comes back or the attempt expires."""

    __tablename__ = "calendar_oauth_states"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_verifier_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
