"""Migration 0010 (finishing early keeps the rest of the time): existing bookings come across whole —
including finished ones that overlap others, which the old rules let in (finishing early freed the
rest of the time) and which a constraint over every finished row could not be created over — and
the downgrade puts the old constraint back over the same data."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, text

T = datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc)
BEFORE = "0010_finished_bookings-1"  # the revision 0010 follows


def test_finished_bookings_that_overlap_come_across_and_the_downgrade_holds(fresh_url, backend, migrate):
    migrate(fresh_url, BEFORE)
    engine = create_engine(fresh_url.replace("postgresql://", "postgresql+psycopg://", 1))
    pg = backend == "postgresql"

    def value(v):  # as each driver takes it: SQLite keeps uuids as hex and datetimes naive
        if isinstance(v, uuid.UUID):
            return v if pg else v.hex
        return v if pg else v.replace(tzinfo=None)

    org, staff = uuid.uuid4(), uuid.uuid4()
    rows = {  # name: (status, start). a and b overlap; c was marked early and d booked into its time
        "a": ("completed", T), "b": ("no_show", T + timedelta(minutes=30)),
        "c": ("completed", T + timedelta(hours=3)), "d": ("confirmed", T + timedelta(hours=3, minutes=30))}
    ids = {key: uuid.uuid4() for key in rows}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organizations (id, slug, name, timezone, currency, reminder_offsets_minutes, "
                          "settings, schedule_version, booking_version, cancellation_cutoff_minutes, created_at, "
                          "updated_at) VALUES (:id, 'gym', 'Gym', 'Europe/London', 'GBP', '[]', '{}', 1, 1, 720, "
                          ":now, :now)"), {"id": value(org), "now": value(T)})
        conn.execute(text("INSERT INTO users (id, organization_id, email, name, role, timezone, active, created_at) "
                          "VALUES (:id, :org, 'a@gym.example', 'Alex', 'staff', 'Europe/London', true, :now)"),
                     {"id": value(staff), "org": value(org), "now": value(T)})
        for key, (status, start) in rows.items():
            conn.execute(text(
                "INSERT INTO bookings (id, organization_id, staff_id, start_at, end_at, blocked_start_at, "
                "blocked_end_at, buffer_before_minutes, buffer_after_minutes, status, attendee_name, attendee_email, "
                "calendar_sync_status, calendar_sync_attempts, source, sequence, created_at, updated_at) VALUES "
                "(:id, :org, :staff, :start, :end, :start, :end, 0, 0, :status, 'A', 'a@example.com', "
                "'not_applicable', 0, 'api', 0, :now, :now)"),
                {"id": value(ids[key]), "org": value(org), "staff": value(staff), "start": value(start),
                 "end": value(start + timedelta(hours=1)), "status": status, "now": value(T)})

    migrate(fresh_url, "head")
    with engine.connect() as conn:
        found = conn.execute(text("SELECT status, finished_at FROM bookings")).all()
        assert sorted(row.status for row in found) == ["completed", "completed", "confirmed", "no_show"]
        assert {row.finished_at for row in found} == {None}  # not known for bookings finished before
        if pg:
            definition = conn.scalar(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                          "WHERE conname = 'ex_bookings_no_overlap'"))
            assert "finished_at < blocked_end_at" in definition

    migrate(fresh_url, BEFORE, down=True)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM bookings")) == 4
        if pg:
            definition = conn.scalar(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                          "WHERE conname = 'ex_bookings_no_overlap'"))
            assert "finished_at" not in definition and "confirmed" in definition
    migrate(fresh_url, "head")
    engine.dispose()
