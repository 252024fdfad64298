"""The notification outbox: every message the portal sends is a row here first."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import JSONType, UTCDateTime, new_id, utcnow

NOTIFICATION_STATUSES = ("pending", "sending", "sent", "failed", "cancelled", "skipped")


class Notification(db.Model):
    """An email or SMS to send at send_at. Written in the same transaction as the change causing it."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel_valid"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'skipped')", name="status_valid"
        ),
        CheckConstraint("attempts >= 0", name="attempts_valid"),
        UniqueConstraint("idempotency_key"),
        # The dispatcher's query: what is due now.
        Index("ix_notifications_status_send_at", "status", "send_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    booking_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(254))
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # The booking's sequence when this was scheduled: a reminder for an older version is stale.
    booking_sequence: Mapped[int | None] = mapped_column(Integer)
    context: Mapped[dict] = mapped_column(JSONType, default=dict)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    booking = relationship("Booking", lazy="select")
