"""The notification outbox: every message the portal sends is a row here first."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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
        # Twilio's status callbacks find their row by the message sid; STOP and opt-in look up a
        # number's messages.
        Index("ix_notifications_provider_message_id", "provider_message_id"),
        Index("ix_notifications_channel_recipient", "channel", "recipient"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    booking_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    # A message about a spot in a class (app/services/classes) instead of an appointment.
    class_booking_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("class_bookings.id", ondelete="CASCADE"), index=True
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
    # The claim that owns a row in `sending` (a fresh random value per claim): every later write of
    # that sender is conditional on it, so a sender whose lease was taken back can no longer act.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # Set (under the claim) just before the message is handed to the provider: SMTP DATA, the Twilio
    # POST, the outbox file. A `sending` row without it never reached anyone and is safe to send again.
    handed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the RQ dispatcher last queued this row; keeps one due row from piling up in the queue.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    booking = relationship("Booking", lazy="select")
    class_booking = relationship("ClassBooking", lazy="select")


class NotificationOptOut(db.Model):
    """An address that asked for fewer messages.

    Email: per organization, and only reminders stop (confirmations and cancellations still go).
    SMS: the row records which organization's message was answered with STOP, but the check ignores
    the organization: every gym sends from the one TWILIO_PHONE_NUMBER, and the carrier blocks that
    number for the person anyway (Twilio error 21610).
    """

    __tablename__ = "notification_opt_outs"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel_valid"),
        UniqueConstraint("organization_id", "channel", "address"),
        Index("ix_notification_opt_outs_channel_address", "channel", "address"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(254))
    # unsubscribe_link, sms_stop, twilio_21610
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
