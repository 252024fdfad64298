"""Migration 0012 (the gym's identity): an existing organization comes across with its contact email
and every new column empty; a logo's bytes survive a round trip; the downgrade drops the columns and
leaves everything that refers to an organization in place (on SQLite a table rebuild would have
emptied its ON DELETE CASCADE children)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import create_engine, inspect, text

T = datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc)
BEFORE = "0012_org_identity-1"
NEW = {"phone", "postal_address", "logo_image", "logo_content_type", "logo_digest"}


def test_organizations_come_across_and_the_downgrade_drops_the_columns(fresh_url, backend, migrate):
    migrate(fresh_url, BEFORE)
    engine = create_engine(fresh_url.replace("postgresql://", "postgresql+psycopg://", 1))
    pg = backend == "postgresql"
    org = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organizations (id, slug, name, timezone, currency, contact_email, "
                          "reminder_offsets_minutes, settings, schedule_version, booking_version, "
                          "cancellation_cutoff_minutes, created_at, updated_at) VALUES (:id, 'gym', 'Gym', "
                          "'Europe/London', 'GBP', 'desk@gym.example', '[]', '{}', 1, 1, 720, :now, :now)"),
                     {"id": org if pg else org.hex, "now": T if pg else T.replace(tzinfo=None)})
        conn.execute(text("INSERT INTO users (id, organization_id, email, name, role, timezone, active, created_at) "
                          "VALUES (:id, :org, 'a@gym.example', 'Alex', 'staff', 'Europe/London', true, :now)"),
                     {"id": uuid.uuid4() if pg else uuid.uuid4().hex, "org": org if pg else org.hex,
                      "now": T if pg else T.replace(tzinfo=None)})

    migrate(fresh_url, "head")
    logo = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with engine.begin() as conn:
        row = conn.execute(text("SELECT contact_email, phone, postal_address, logo_image, logo_content_type, "
                                "logo_digest FROM organizations")).one()
        assert tuple(row) == ("desk@gym.example", None, None, None, None, None)
        conn.execute(text("UPDATE organizations SET logo_image = :logo, logo_content_type = 'image/png'"),
                     {"logo": logo})
        assert bytes(conn.scalar(text("SELECT logo_image FROM organizations"))) == logo

    migrate(fresh_url, BEFORE, down=True)
    columns = {c["name"] for c in inspect(engine).get_columns("organizations")}
    assert not NEW & columns and "contact_email" in columns
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT name FROM organizations")) == "Gym"
        assert conn.scalar(text("SELECT count(*) FROM users")) == 1
    engine.dispose()
