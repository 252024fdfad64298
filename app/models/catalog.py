"""What can be booked, and where: appointment types, booking links and their branding."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, new_id, utcnow

LINK_TYPES = ("individual", "round_robin", "collective")


class AppointmentType(db.Model):
    """A bookable service: how long it lasts, what it costs, and the rules for booking it."""

    __tablename__ = "appointment_types"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0 AND duration_minutes <= 1440", name="duration_valid"),
        CheckConstraint("buffer_before_minutes >= 0", name="buffer_before_valid"),
        CheckConstraint("buffer_after_minutes >= 0", name="buffer_after_valid"),
        CheckConstraint("price_pennies >= 0", name="price_valid"),
        CheckConstraint("min_notice_minutes >= 0", name="notice_valid"),
        CheckConstraint("booking_window_days IS NULL OR booking_window_days > 0", name="window_valid"),
        CheckConstraint("slot_interval_minutes IS NULL OR slot_interval_minutes > 0", name="interval_valid"),
        CheckConstraint("max_per_day IS NULL OR max_per_day > 0", name="max_per_day_valid"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    price_pennies: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=60)
    # None: no limit. (No column default: an explicit None must stay None, not become a default.)
    booking_window_days: Mapped[int | None] = mapped_column(Integer)
    # None: slots start every duration_minutes.
    slot_interval_minutes: Mapped[int | None] = mapped_column(Integer)
    max_per_day: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(String(300))
    color: Mapped[str | None] = mapped_column(String(7))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def price_display(self) -> str | None:
        if not self.price_pennies:
            return None
        symbol = {"GBP": "£", "USD": "$", "EUR": "€"}.get(self.currency, self.currency + " ")
        return f"{symbol}{self.price_pennies // 100}.{self.price_pennies % 100:02d}"


booking_link_staff = Table(
    "booking_link_staff",
    db.metadata,
    Column("booking_link_id", ForeignKey("booking_links.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

booking_link_appointment_types = Table(
    "booking_link_appointment_types",
    db.metadata,
    Column("booking_link_id", ForeignKey("booking_links.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "appointment_type_id", ForeignKey("appointment_types.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class BookingLink(db.Model):
    """A public booking page. The slug is unique across all organizations: the API takes `link=` alone."""

    __tablename__ = "booking_links"
    __table_args__ = (
        CheckConstraint("type IN ('individual', 'round_robin', 'collective')", name="type_valid"),
        CheckConstraint("slug <> ''", name="slug_not_empty"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # The owner of an individual link (the spec's user_id); team links list their staff below.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="individual")
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    staff = relationship("User", secondary=booking_link_staff, lazy="selectin", order_by="User.name")
    appointment_types = relationship(
        "AppointmentType", secondary=booking_link_appointment_types, lazy="selectin", order_by="AppointmentType.name"
    )
    branding = relationship("LinkBranding", uselist=False, back_populates="link", lazy="selectin")


class LinkBranding(db.Model):
    """How a booking page looks: logo, colours and welcome text."""

    __tablename__ = "link_branding"
    __table_args__ = (
        CheckConstraint(
            "primary_color IS NULL OR length(primary_color) = 7", name="primary_color_hex"
        ),
        CheckConstraint("accent_color IS NULL OR length(accent_color) = 7", name="accent_color_hex"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    booking_link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("booking_links.id", ondelete="CASCADE"), unique=True
    )
    logo_url: Mapped[str | None] = mapped_column(String(500))
    primary_color: Mapped[str | None] = mapped_column(String(7), default="#1f4fd1")
    accent_color: Mapped[str | None] = mapped_column(String(7), default="#ff7a1a")
    welcome_text: Mapped[str | None] = mapped_column(Text)
    confirmation_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    link = relationship("BookingLink", back_populates="branding")
