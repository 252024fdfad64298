from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import JSONType, UTCDateTime, new_id, utcnow

DEFAULT_REMINDER_OFFSETS_MINUTES = [24 * 60, 2 * 60]


class Organization(db.Model):
    """A gym (the tenant). Every other row belongs to exactly one organization."""

    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint("cancellation_cutoff_minutes >= 0", name="cutoff_not_negative"),
        CheckConstraint("slug <> ''", name="slug_not_empty"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # The gym's identity on its pages, in its emails and calendar files (app/services/identity.py):
    # a phone number as E.164, a postal address of a few lines, and an uploaded logo. The logo lives
    # here, not on a disk: every web node serves it with no shared storage. Its bytes are deferred
    # (read only by the logo's own route); its digest names it in its URL, so it is cached for good.
    phone: Mapped[str | None] = mapped_column(String(32))
    postal_address: Mapped[str | None] = mapped_column(String(300))
    logo_image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_content_type: Mapped[str | None] = mapped_column(String(32))
    logo_digest: Mapped[str | None] = mapped_column(String(64))
    # No customer cancels or reschedules within this many minutes of the start.
    cancellation_cutoff_minutes: Mapped[int] = mapped_column(Integer, default=12 * 60)
    # Classes: nobody is promoted from a waitlist closer to the start than this (the place stays open),
    # and a spot given up closer than this to the start is recorded as a late cancellation.
    class_waitlist_cutoff_minutes: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    class_late_cancel_minutes: Mapped[int] = mapped_column(Integer, default=12 * 60, server_default="720")
    # Reminders go out this many minutes before the start (one notification per offset).
    reminder_offsets_minutes: Mapped[list[int]] = mapped_column(
        JSONType, default=lambda: list(DEFAULT_REMINDER_OFFSETS_MINUTES)
    )
    # Raised in the same transaction as any change that can alter availability (see
    # app/services/scheduling/versions.py): schedule_version for hours, time off, holidays, staff,
    # types and links; booking_version for bookings. Cached availability is keyed by them.
    schedule_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    booking_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Settings that do not deserve a column yet (e.g. the Google-unreachable policy).
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    staff = relationship("User", back_populates="organization", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"
