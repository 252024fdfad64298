"""Migration 0005 (the exclusion constraint covers the buffers): existing bookings come across whole,
including pairs whose buffers overlap (which the old constraint let in), and the new constraint then
refuses a booking in another's buffer."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

T = datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc)


def as_datetime(value) -> datetime:
    """A datetime as the driver gives it back (SQLite: text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def stamp(value: datetime, backend: str):
    return value if backend == "postgresql" else value.replace(tzinfo=None)


def test_existing_bookings_come_across_and_buffers_are_then_held(fresh_url, backend, migrate):
    migrate(fresh_url, "0004_api_keys")
    engine = create_engine(fresh_url.replace("postgresql://", "postgresql+psycopg://", 1))
    org, staff = uuid.uuid4(), uuid.uuid4()
    rows = {  # (start, buffer after): 10:00 with a 30-minute buffer overlaps 11:00's start (allowed before)
        "a": (T, 30), "b": (T + timedelta(hours=1), 15), "c": (T + timedelta(hours=4), 15)}
    ids = {key: uuid.uuid4() for key in rows}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organizations (id, slug, name, timezone, currency, reminder_offsets_minutes, "
                          "settings, schedule_version, booking_version, cancellation_cutoff_minutes, created_at, "
                          "updated_at) VALUES (:id, 'gym', 'Gym', 'Europe/London', 'GBP', '[]', '{}', 1, 1, 720, "
                          ":now, :now)"),
                     {"id": org if backend == "postgresql" else org.hex, "now": stamp(T, backend)})
        conn.execute(text("INSERT INTO users (id, organization_id, email, name, role, timezone, active, created_at) "
                          "VALUES (:id, :org, 'a@gym.example', 'Alex', 'staff', 'Europe/London', true, :now)"),
                     {"id": staff if backend == "postgresql" else staff.hex,
                      "org": org if backend == "postgresql" else org.hex, "now": stamp(T, backend)})
        for key, (start, after) in rows.items():
            conn.execute(text(
                "INSERT INTO bookings (id, organization_id, staff_id, start_at, end_at, buffer_before_minutes, "
                "buffer_after_minutes, status, attendee_name, attendee_email, calendar_sync_status, "
                "calendar_sync_attempts, source, sequence, created_at, updated_at) VALUES (:id, :org, :staff, "
                ":start, :end, 0, :after, 'confirmed', 'A', 'a@example.com', 'not_applicable', 0, 'api', 0, :now, "
                ":now)"),
                {"id": ids[key] if backend == "postgresql" else ids[key].hex,
                 "org": org if backend == "postgresql" else org.hex,
                 "staff": staff if backend == "postgresql" else staff.hex, "start": stamp(start, backend),
                 "end": stamp(start + timedelta(hours=1), backend), "after": after, "now": stamp(T, backend)})
    migrate(fresh_url, "head")

    with engine.connect() as conn:
        found = conn.execute(text("SELECT id, blocked_start_at, blocked_end_at FROM bookings")).all()
    assert len(found) == 3  # nothing lost
    blocked = {str(uuid.UUID(str(row.id))): (as_datetime(row.blocked_start_at), as_datetime(row.blocked_end_at))
               for row in found}
    c_start, c_end = blocked[str(ids["c"])]
    assert c_end - c_start == timedelta(minutes=75)  # a booking clear of others: buffered
    if backend == "postgresql":
        # The pair that overlaps by its buffer keeps its plain ranges, which never overlapped.
        (a_start, a_end), (b_start, b_end) = blocked[str(ids["a"])], blocked[str(ids["b"])]
        assert a_end - a_start == timedelta(hours=1) and b_end - b_start == timedelta(hours=1)
        # From now on a booking inside c's buffer is refused by the database.
        with pytest.raises(IntegrityError, match="ex_bookings_no_overlap"), engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO bookings (id, organization_id, staff_id, start_at, end_at, blocked_start_at, "
                "blocked_end_at, buffer_before_minutes, buffer_after_minutes, status, attendee_name, attendee_email, "
                "calendar_sync_status, calendar_sync_attempts, source, sequence, created_at, updated_at) VALUES "
                "(:id, :org, :staff, :start, :end, :start, :end, 0, 0, 'confirmed', 'B', 'b@example.com', "
                "'not_applicable', 0, 'api', 0, :now, :now)"),
                {"id": uuid.uuid4(), "org": org, "staff": staff, "start": T + timedelta(hours=5, minutes=5),
                 "end": T + timedelta(hours=6), "now": T})
    engine.dispose()
