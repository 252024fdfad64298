"""Every migration that rebuilds `bookings` (SQLite changes a table that way) carries across the
rows that refer to bookings: a database with a booking and its audit trail,
made before 0005, upgrades to head with nothing refused and nothing lost."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, text

T = datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc)


def test_bookings_with_an_audit_trail_upgrade_to_head(fresh_url, backend, migrate):
    migrate(fresh_url, "0004_api_keys")
    engine = create_engine(fresh_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def key(value: uuid.UUID):
        return value if backend == "postgresql" else value.hex

    at = T if backend == "postgresql" else T.replace(tzinfo=None)
    org, staff, booking = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    audits = [uuid.uuid4(), uuid.uuid4()]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organizations (id, slug, name, timezone, currency, reminder_offsets_minutes, "
                          "settings, schedule_version, booking_version, cancellation_cutoff_minutes, created_at, "
                          "updated_at) VALUES (:id, 'gym', 'Gym', 'Europe/London', 'GBP', '[]', '{}', 1, 1, 720, "
                          ":now, :now)"), {"id": key(org), "now": at})
        conn.execute(text("INSERT INTO users (id, organization_id, email, name, role, timezone, active, created_at) "
                          "VALUES (:id, :org, 'a@gym.example', 'Alex', 'staff', 'Europe/London', true, :now)"),
                     {"id": key(staff), "org": key(org), "now": at})
        conn.execute(text(
            "INSERT INTO bookings (id, organization_id, staff_id, start_at, end_at, buffer_before_minutes, "
            "buffer_after_minutes, status, attendee_name, attendee_email, calendar_sync_status, "
            "calendar_sync_attempts, source, sequence, created_at, updated_at) VALUES (:id, :org, :staff, "
            ":start, :end, 0, 0, 'confirmed', 'Ann', 'ann@example.com', 'not_applicable', 0, 'api', 0, :now, :now)"),
            {"id": key(booking), "org": key(org), "staff": key(staff), "start": at, "end": at + timedelta(hours=1), "now": at})
        for audit in audits:
            conn.execute(text("INSERT INTO booking_audit (id, organization_id, booking_id, actor_type, action, "
                              "created_at) VALUES (:id, :org, :booking, 'attendee', 'created', :now)"),
                         {"id": key(audit), "org": key(org), "booking": key(booking), "now": at})
    migrate(fresh_url, "head")

    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bookings")).scalar() == 1
        kept = {str(uuid.UUID(str(row[0]))) for row in conn.execute(text("SELECT id FROM booking_audit"))}
        assert kept == {str(a) for a in audits}
        if backend == "sqlite":
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    engine.dispose()
