"""When staff work: weekly rules, date overrides and holidays."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Table,
    Time,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, new_id, utcnow


class AvailabilityRule(db.Model):
    """A weekly working interval in the staff member's own time zone.

    day_of_week follows the spec (0 = Sunday … 6 = Saturday). Several rules per day are allowed.
    An end_time earlier than start_time runs past local midnight into the next day; 00:00 as an
    end means "until midnight".
    """

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("day_of_week BETWEEN 0 AND 6", name="day_of_week_valid"),
        CheckConstraint("end_time <> start_time", name="not_empty"),
        Index("ix_availability_rules_user_day", "user_id", "day_of_week"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day_of_week: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AvailabilityOverride(db.Model):
    """A change for one local date: time off (whole day or a block), extra hours, or replacement hours.

    type 'unavailable' without times is a whole day off; with times, a blocked part of the day.
    type 'available' with times adds hours; with replace_rules set those hours replace the
    weekly rules for that date.
    """

    __tablename__ = "availability_overrides"
    __table_args__ = (
        CheckConstraint("type IN ('unavailable', 'available')", name="type_valid"),
        CheckConstraint("(start_time IS NULL) = (end_time IS NULL)", name="times_paired"),
        CheckConstraint("type = 'unavailable' OR start_time IS NOT NULL", name="available_has_times"),
        CheckConstraint("start_time IS NULL OR end_time <> start_time", name="not_empty"),
        Index("ix_availability_overrides_user_date", "user_id", "date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    replace_rules: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Which staff a staff-specific holiday applies to (scoped through the holiday's organization).
holiday_staff = Table(
    "holiday_staff",
    db.metadata,
    Column("holiday_id", ForeignKey("holidays.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Holiday(db.Model):
    """A day the gym (or some of its staff) does not take bookings: a local date, no times."""

    __tablename__ = "holidays"
    __table_args__ = (Index("ix_holidays_org_date", "organization_id", "date"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    date: Mapped[date] = mapped_column(Date)
    affects_all_staff: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff = relationship("User", secondary=holiday_staff, lazy="selectin")
