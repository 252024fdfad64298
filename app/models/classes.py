"""Group classes: class types, the weekly timetable, its sessions, the spots booked in them, and the
audit trail of every change.

A timetable entry (ClassSeries) says "Spin, Mondays and Wednesdays at 07:00 local, with Sam";
each occurrence is a real ClassSession row (materialised over a rolling horizon by
app/services/classes/timetable.py) with its own time, instructor, capacity and roster. A spot is a
ClassBooking: confirmed (holding one of the session's places), waitlisted (in arrival order),
cancelled, or — once the class has run — attended or no_show.

Capacity is held by the database: `class_sessions.booked_count` counts the session's confirmed
spots and a CHECK keeps it between 0 and the capacity. Every spot taken or given back moves the
count in the same transaction, by one conditional UPDATE that locks the session's row; a concurrent
booking of the last place waits for the lock and then finds the session full. One person holds at
most one live spot per session: a partial unique index over (session, email).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import JSONType, UTCDateTime, new_id, utcnow

SESSION_STATUSES = ("scheduled", "cancelled")
CLASS_BOOKING_STATUSES = ("confirmed", "waitlisted", "cancelled", "attended", "no_show")
# Spots that are someone's: at most one per person and session (the partial unique index).
LIVE_CLASS_STATUSES = ("confirmed", "waitlisted", "attended", "no_show")
# Spots that hold one of the session's places (what booked_count counts).
PLACE_HOLDING_STATUSES = ("confirmed", "attended", "no_show")
# Why a spot was given up: the customer (in time or late), staff removing them, the whole session
# cancelled, a waitlisted person leaving the list, or the waitlist closing at the start unpromoted.
CANCEL_KINDS = ("customer", "late", "removed", "session_cancelled", "left_waitlist", "waitlist_closed")


class ClassType(db.Model):
    """A kind of class the gym runs (Spin, HIIT, Yoga): what the timetable schedules."""

    __tablename__ = "class_types"
    __table_args__ = (
        CheckConstraint("duration_minutes BETWEEN 5 AND 1440", name="duration_valid"),
        CheckConstraint("capacity BETWEEN 1 AND 1000", name="capacity_valid"),
        CheckConstraint("price_pennies >= 0", name="price_valid"),
        Index("ix_class_types_organization_id", "organization_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=45)
    capacity: Mapped[int] = mapped_column(Integer, default=20)
    price_pennies: Mapped[int] = mapped_column(Integer, default=0)
    color: Mapped[str] = mapped_column(String(7), default="#2563eb")
    default_instructor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Free text until the portal knows rooms and locations ("Studio 2").
    location: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    default_instructor = relationship("User", lazy="joined")


class ClassSeries(db.Model):
    """A timetable entry: a class type on some weekdays at a local start time, from a first date
    until an optional last date, in the organization's time zone (a 07:00 class stays at 07:00 on
    the wall clock across a change of clocks).

    `weekdays` follows availability_rules (0 = Sunday … 6 = Saturday). `materialised_until` is the
    last date whose sessions exist; the timetable job moves it forward. `skipped` lists occurrences
    not made because the instructor was busy then ({"date", "reason"}), for staff to resolve.
    """

    __tablename__ = "class_series"
    __table_args__ = (
        CheckConstraint("capacity IS NULL OR capacity BETWEEN 1 AND 1000", name="capacity_valid"),
        CheckConstraint("last_date IS NULL OR last_date >= first_date", name="dates_valid"),
        Index("ix_class_series_organization_id", "organization_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    class_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("class_types.id", ondelete="CASCADE"), index=True)
    instructor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    weekdays: Mapped[list[int]] = mapped_column(JSONType, default=list)
    start_time: Mapped[time] = mapped_column(Time)
    # None: the class type's capacity.
    capacity: Mapped[int | None] = mapped_column(Integer)
    first_date: Mapped[date] = mapped_column(Date)
    last_date: Mapped[date | None] = mapped_column(Date)
    materialised_until: Mapped[date | None] = mapped_column(Date)
    skipped: Mapped[list] = mapped_column(JSONType, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    class_type = relationship("ClassType", lazy="joined")
    instructor = relationship("User", lazy="joined")


class ClassSession(db.Model):
    """One occurrence of a class: its own time, instructor, capacity and roster.

    `occurrence_date` is the series date it was made for (unique per series, so making sessions
    twice never makes two); `detached` marks a session changed on its own, which edits of the
    series leave alone. `booked_count` is the number of place-holding spots (see the module
    docstring); `waitlist_seq` numbers arrivals on the waitlist.
    """

    __tablename__ = "class_sessions"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="status_valid"),
        CheckConstraint("capacity BETWEEN 1 AND 1000", name="capacity_valid"),
        # The guarantee: never more spots confirmed than places.
        CheckConstraint("booked_count >= 0 AND booked_count <= capacity", name="within_capacity"),
        CheckConstraint("waitlist_seq >= 0", name="waitlist_seq_valid"),
        Index("ix_class_sessions_org_start", "organization_id", "start_at"),
        # The availability loader reads an instructor's sessions by time, as it reads bookings.
        Index("ix_class_sessions_instructor_start", "instructor_id", "start_at"),
        Index("ux_class_sessions_series_date", "series_id", "occurrence_date", unique=True,
              postgresql_where=text("series_id IS NOT NULL"), sqlite_where=text("series_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    class_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("class_types.id", ondelete="CASCADE"), index=True)
    series_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("class_series.id", ondelete="SET NULL"))
    instructor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    occurrence_date: Mapped[date | None] = mapped_column(Date)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    waitlist_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    detached: Mapped[bool] = mapped_column(Boolean, default=False)
    location: Mapped[str | None] = mapped_column(String(200))
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Raised on every change of time or place, so calendar files and messages can carry SEQUENCE.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # The instructor's Google Calendar event for the session (services/calendar write-back).
    external_event_id: Mapped[str | None] = mapped_column(String(1024))
    external_calendar_id: Mapped[uuid.UUID | None] = mapped_column()
    calendar_sync_status: Mapped[str] = mapped_column(String(16), default="not_applicable")
    calendar_sync_error: Mapped[str | None] = mapped_column(Text)
    calendar_sync_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    calendar_sync_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    class_type = relationship("ClassType", lazy="joined")
    instructor = relationship("User", lazy="joined")
    series = relationship("ClassSeries", lazy="select")

    @property
    def spots_left(self) -> int:
        return max(self.capacity - self.booked_count, 0)

    @property
    def is_cancelled(self) -> bool:
        return self.status == "cancelled"


class ClassBooking(db.Model):
    """One person's spot in a session: booked, waiting, given up, or (after the class) attended or
    a no-show. Keeps its own copy of the attendee's details, as bookings do."""

    __tablename__ = "class_bookings"
    __table_args__ = (
        CheckConstraint("status IN ('confirmed', 'waitlisted', 'cancelled', 'attended', 'no_show')",
                        name="status_valid"),
        CheckConstraint("cancel_kind IS NULL OR cancel_kind IN ('customer', 'late', 'removed', "
                        "'session_cancelled', 'left_waitlist', 'waitlist_closed')", name="cancel_kind_valid"),
        CheckConstraint("(status = 'waitlisted') = (waitlist_seq IS NOT NULL)", name="waitlist_seq_when_waiting"),
        # One live spot per person and session (email as clients.email: normalised, lower-cased).
        Index("ux_class_bookings_session_email", "session_id", "email_key", unique=True,
              postgresql_where=text("status IN ('confirmed', 'waitlisted', 'attended', 'no_show')"),
              sqlite_where=text("status IN ('confirmed', 'waitlisted', 'attended', 'no_show')")),
        # The waitlist in arrival order, and no two people at one place in it.
        Index("ux_class_bookings_session_waitlist", "session_id", "waitlist_seq", unique=True,
              postgresql_where=text("waitlist_seq IS NOT NULL"), sqlite_where=text("waitlist_seq IS NOT NULL")),
        Index("ix_class_bookings_session_status", "session_id", "status"),
        Index("ix_class_bookings_org_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # Sessions are cancelled, never deleted while they have spots.
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("class_sessions.id", ondelete="RESTRICT"))
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    attendee_name: Mapped[str] = mapped_column(String(200))
    attendee_email: Mapped[str] = mapped_column(String(254))
    # The identity for "one spot per person": the address as clients.email holds it.
    email_key: Mapped[str] = mapped_column(String(254))
    attendee_phone: Mapped[str | None] = mapped_column(String(32))
    attendee_timezone: Mapped[str | None] = mapped_column(String(64))
    # Arrival order on the waitlist (the session's counter when they joined); None unless waiting.
    waitlist_seq: Mapped[int | None] = mapped_column(Integer)
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="public")
    cancel_kind: Mapped[str | None] = mapped_column(String(20))
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    session = relationship("ClassSession", lazy="joined")

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_CLASS_STATUSES


class ClassAudit(db.Model):
    """One change to the class timetable, a session or a spot: who, what, before and after."""

    __tablename__ = "class_audit"
    __table_args__ = (
        CheckConstraint("actor_type IN ('attendee', 'staff', 'ai', 'calendar', 'system')", name="actor_type_valid"),
        Index("ix_class_audit_session_created", "session_id", "created_at"),
        Index("ix_class_audit_booking_created", "class_booking_id", "created_at"),
        Index("ix_class_audit_org_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    series_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("class_series.id", ondelete="SET NULL"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("class_sessions.id", ondelete="CASCADE"))
    class_booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("class_bookings.id", ondelete="CASCADE"))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict | None] = mapped_column(JSONType)
    after: Mapped[dict | None] = mapped_column(JSONType)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # (The relationships also order the unit of work: a change's audit row is inserted after the rows
    # it names.)
    series = relationship("ClassSeries", lazy="select")
    session = relationship("ClassSession", lazy="select")
    class_booking = relationship("ClassBooking", lazy="select")
