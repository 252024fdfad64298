"""Bookings and their audit trail."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import JSONType, UTCDateTime, new_id, utcnow

BOOKING_STATUSES = ("pending", "confirmed", "cancelled", "completed", "no_show")
# Statuses a booking can still be changed in (moved, cancelled, confirmed) — until it ends.
ACTIVE_STATUSES = ("pending", "confirmed")
# A booking that has taken place (or whose customer did not come): never changed again.
FINISHED_STATUSES = ("completed", "no_show")
# Statuses whose bookings hold a trainer's time and count as booked (the daily cap, fairness): all
# but cancelled. Marking a session finished early does not give back the rest of its time.
HOLDING_STATUSES = ACTIVE_STATUSES + FINISHED_STATUSES
# The rows the database keeps apart (PostgreSQL's exclusion constraint): active bookings, and
# finished ones marked before their held time was over (the rest of it stays held). One marked
# afterwards covers only time that has passed, which nothing can be booked into; one finished before
# migration 0010 has no finished_at and is left out (finishing early used to free the rest of its
# time, so such rows may overlap others).
HOLDS_TIME_IN_DATABASE = ("status IN ('pending', 'confirmed') OR (status IN ('completed', 'no_show') "
                          "AND finished_at < blocked_end_at)")
ACTOR_TYPES = ("attendee", "staff", "ai", "calendar", "system")


class Booking(db.Model):
    """A customer's appointment with one member of staff.

    start_at/end_at are UTC. The buffers of the appointment type are copied in when the booking is
    made, so a later change to the type does not move the time a booking already blocks.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint(
            "status IN ('pending', 'confirmed', 'cancelled', 'completed', 'no_show')", name="status_valid"
        ),
        CheckConstraint(
            "calendar_sync_status IN ('not_applicable', 'pending', 'synced', 'failed')", name="sync_status_valid"
        ),
        CheckConstraint("buffer_before_minutes >= 0 AND buffer_after_minutes >= 0", name="buffers_valid"),
        UniqueConstraint("organization_id", "idempotency_key"),
        # The availability loader reads a trainer's bookings by time range: this index keeps that
        # cost independent of how much history the table holds.
        Index("ix_bookings_staff_start", "staff_id", "start_at"),
        Index("ix_bookings_org_start", "organization_id", "start_at"),
        # The job that marks ended bookings completed reads confirmed ones by end: kept to those, the
        # index stays the size of the bookings still to come, however long the history.
        Index("ix_bookings_org_confirmed_end", "organization_id", "end_at",
              postgresql_where=text("status = 'confirmed'"), sqlite_where=text("status = 'confirmed'")),
        # Double booking is refused by the database itself on PostgreSQL (btree_gist): two bookings
        # of one trainer that hold time may not share it, buffers included (the blocked range).
        ExcludeConstraint(
            ("staff_id", "="),
            (func.tstzrange(text("blocked_start_at"), text("blocked_end_at"), text("'[)'")), "&&"),
            where=text(HOLDS_TIME_IN_DATABASE),
            using="gist",
            name="ex_bookings_no_overlap",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # Indexed by ix_bookings_org_start (organization_id leads it).
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # Links and types may be deleted later; the booking keeps its own copy of what matters.
    booking_link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("booking_links.id", ondelete="SET NULL"), index=True
    )
    appointment_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="SET NULL"), index=True
    )
    # Staff with bookings are deactivated, never deleted: RESTRICT keeps history intact.
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # The client the booking is for (app/services/clients.py links it by email when it is made). The
    # booking keeps its own copy of the attendee's details, so removing a client loses no booking.
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"), index=True)
    # A collective booking holds every participant's time: one row per member of staff, sharing a
    # group id (the lead row carries the manage token). None for ordinary bookings.
    group_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # The time the booking holds: [start − buffer before, end + buffer after). Always derived from
    # the four columns above (set_blocked_range, on every insert and update); the exclusion
    # constraint is over this range, so the database holds the buffers too.
    blocked_start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    title: Mapped[str | None] = mapped_column(String(200))
    attendee_name: Mapped[str] = mapped_column(String(200))
    attendee_email: Mapped[str] = mapped_column(String(254), index=True)
    attendee_phone: Mapped[str | None] = mapped_column(String(32))
    attendee_timezone: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    location_details: Mapped[str | None] = mapped_column(String(500))
    # sha256 of the manage token; the token itself is only ever shown to the attendee.
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    external_event_id: Mapped[str | None] = mapped_column(String(1024))
    calendar_sync_status: Mapped[str] = mapped_column(String(16), default="not_applicable")
    calendar_sync_error: Mapped[str | None] = mapped_column(Text)
    # The calendar (calendars.id) the event was written to. No foreign key: SQLite cannot add one
    # to an existing table without rebuilding it; disconnecting a calendar clears these itself.
    external_calendar_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # Write-back retries: attempts so far, and when the next one is due (None: not scheduled).
    calendar_sync_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    calendar_sync_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16), default="public")
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the booking became completed or no-show (by staff, or the job once it ended). None while
    # active, and for bookings finished before migration 0010.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Raised on every change of time, so calendar invitations can carry SEQUENCE.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    staff = relationship("User", lazy="joined")
    appointment_type = relationship("AppointmentType", lazy="joined")
    booking_link = relationship("BookingLink", lazy="select")
    audit_entries = relationship(
        "BookingAudit", back_populates="booking", order_by="BookingAudit.created_at", lazy="select"
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def is_finished(self, now: datetime) -> bool:
        """Over: marked completed or no-show, or (still pending or confirmed) its end has passed."""
        return self.status in FINISHED_STATUSES or (self.status in ACTIVE_STATUSES and self.end_at <= now)

    @property
    def duration_minutes(self) -> int:
        return int((self.end_at - self.start_at).total_seconds() // 60)


def blocked_range(start_at: datetime, end_at: datetime, buffer_before_minutes: int | None,
                  buffer_after_minutes: int | None) -> tuple[datetime, datetime]:
    """The time a booking holds: [start − buffer before, end + buffer after). Rows written without the
    ORM (bulk inserts) must set blocked_start_at/blocked_end_at from this too."""
    return (start_at - timedelta(minutes=buffer_before_minutes or 0),
            end_at + timedelta(minutes=buffer_after_minutes or 0))


@event.listens_for(Booking, "before_insert")
@event.listens_for(Booking, "before_update")
def set_blocked_range(mapper, connection, booking: Booking) -> None:
    """The range the booking holds follows its time and buffers, whoever changed them."""
    booking.blocked_start_at, booking.blocked_end_at = blocked_range(
        booking.start_at, booking.end_at, booking.buffer_before_minutes, booking.buffer_after_minutes)


class BookingAudit(db.Model):
    """One change to a booking: who made it, what changed (before/after), when and from where."""

    __tablename__ = "booking_audit"
    __table_args__ = (
        CheckConstraint(
            "actor_type IN ('attendee', 'staff', 'ai', 'calendar', 'system')", name="actor_type_valid"
        ),
        Index("ix_booking_audit_booking_created", "booking_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # NO ACTION: a booking with an audit trail cannot be deleted on its own (bookings are
    # cancelled, not deleted), but deleting a whole organization removes both in one statement.
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict | None] = mapped_column(JSONType)
    after: Mapped[dict | None] = mapped_column(JSONType)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    booking = relationship("Booking", back_populates="audit_entries")
