"""Clients: the people who book, one record per organization and email address."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, new_id, utcnow


class Client(db.Model):
    """A gym's client: made by their first booking, and every later booking with the same address
    is linked to it (bookings.client_id).

    `email` is the identity: the address as email-validator normalises it, lower-cased (see
    app/services/clients.py, client_email), unique within the organization, so two bookings that
    differ only in letter case are one client. Each booking keeps its own copy of the name, email
    and phone the customer typed; the client's name and phone are those of their latest booking.
    """

    __tablename__ = "clients"
    __table_args__ = (
        # The identity (a unique index, so the organization's rows are found by it too), and what makes
        # a concurrent first booking by the same address find the other's row instead of making a
        # second (INSERT … ON CONFLICT DO NOTHING).
        Index("ix_clients_organization_id_email", "organization_id", "email", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    # Written by staff on the client's page; never shown to the client.
    notes: Mapped[str | None] = mapped_column(Text)
    # What the client told the gym about its own mailings and texts (kept for exports). Booking
    # messages follow notification_opt_outs (the unsubscribe link, STOP), not these.
    marketing_email_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_sms_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
