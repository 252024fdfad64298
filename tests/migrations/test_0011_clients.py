"""Migration 0011 (clients): every existing booking's attendee becomes a client of its own
organization — one per address whatever its letter case, named after their latest booking — every
booking is linked and keeps its own details, and the downgrade gives back the bookings as they were."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, inspect, text

T = datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc)
BEFORE = "0011_clients-1"  # the revision 0011 follows
THIS = "0011_clients"  # not "head": a later revision's own steps are its own test's business


def test_attendees_become_clients_per_organization_and_the_downgrade_keeps_every_booking(fresh_url, backend, migrate):
    migrate(fresh_url, BEFORE)
    engine = create_engine(fresh_url.replace("postgresql://", "postgresql+psycopg://", 1))
    pg = backend == "postgresql"

    def value(v):  # as each driver takes it: SQLite keeps uuids as hex and datetimes naive
        if isinstance(v, uuid.UUID):
            return v if pg else v.hex
        if isinstance(v, datetime):
            return v if pg else v.replace(tzinfo=None)
        return v

    gym, rival = uuid.uuid4(), uuid.uuid4()
    staff = {gym: uuid.uuid4(), rival: uuid.uuid4()}
    # (org, name, email as typed, phone, made `days` after T): Ann books three times at the gym with
    # her address in two cases — the latest without a phone — Zoë twice with an accented capital,
    # Bob once, and Ann once at the rival gym (another organization: another client).
    rows = [(gym, "Ann Early", "Ann@example.com", "+447700900001", 0),
            (gym, "Ann Middle", "ann@example.com", "+447700900002", 1),
            (gym, "Ann Latest", "ANN@example.com", None, 2),
            (gym, "Zoë", "ZOË@example.com", None, 0),
            (gym, "Zoë Q", "zoë@example.com", None, 1),
            (gym, "Bob", "bob@example.com", None, 0),
            (rival, "Ann at Rival", "ann@example.com", "+447700900009", 5)]
    ids = [uuid.uuid4() for _ in rows]
    with engine.begin() as conn:
        for org, slug in ((gym, "gym"), (rival, "rival")):
            conn.execute(text("INSERT INTO organizations (id, slug, name, timezone, currency, reminder_offsets_minutes, "
                              "settings, schedule_version, booking_version, cancellation_cutoff_minutes, created_at, "
                              "updated_at) VALUES (:id, :slug, :slug, 'Europe/London', 'GBP', '[]', '{}', 1, 1, 720, "
                              ":now, :now)"), {"id": value(org), "slug": slug, "now": value(T)})
            conn.execute(text("INSERT INTO users (id, organization_id, email, name, role, timezone, active, created_at) "
                              "VALUES (:id, :org, :email, 'Alex', 'staff', 'Europe/London', true, :now)"),
                         {"id": value(staff[org]), "org": value(org), "email": f"alex@{slug}.example", "now": value(T)})
        for index, (org, name, email, phone, day) in enumerate(rows):
            start = T + timedelta(hours=index)
            made = T - timedelta(days=30) + timedelta(days=day)
            conn.execute(text(
                "INSERT INTO bookings (id, organization_id, staff_id, start_at, end_at, blocked_start_at, "
                "blocked_end_at, buffer_before_minutes, buffer_after_minutes, status, attendee_name, attendee_email, "
                "attendee_phone, calendar_sync_status, calendar_sync_attempts, source, sequence, created_at, "
                "updated_at) VALUES (:id, :org, :staff, :start, :end, :start, :end, 0, 0, 'confirmed', :name, :email, "
                ":phone, 'not_applicable', 0, 'public', 0, :made, :made)"),
                {"id": value(ids[index]), "org": value(org), "staff": value(staff[org]), "start": value(start),
                 "end": value(start + timedelta(hours=1)), "name": name, "email": email, "phone": phone,
                 "made": value(made)})
            # An audit row refers to each booking: the table's rebuild (SQLite) must keep the reference.
            conn.execute(text("INSERT INTO booking_audit (id, organization_id, booking_id, actor_type, action, "
                              "created_at) VALUES (:id, :org, :booking, 'attendee', 'created', :made)"),
                         {"id": value(uuid.uuid4()), "org": value(org), "booking": value(ids[index]),
                          "made": value(made)})
    before = _bookings(engine)

    migrate(fresh_url, THIS)
    with engine.connect() as conn:
        clients = {(str(row.organization_id).replace("-", ""), row.email): row for row in conn.execute(text(
            "SELECT id, organization_id, name, email, phone, notes, marketing_email_opt_out, marketing_sms_opt_out, "
            "created_at FROM clients"))}
        links = dict(conn.execute(text("SELECT id, client_id FROM bookings")).all())
    gym_key, rival_key = gym.hex, rival.hex
    assert set(clients) == {(gym_key, "ann@example.com"), (gym_key, "zoë@example.com"), (gym_key, "bob@example.com"),
                            (rival_key, "ann@example.com")}
    ann = clients[(gym_key, "ann@example.com")]
    assert (ann.name, ann.phone) == ("Ann Latest", "+447700900002")  # latest name; the latest phone there is
    assert _naive(ann.created_at) == (T - timedelta(days=30)).replace(tzinfo=None)  # her first booking
    assert clients[(gym_key, "zoë@example.com")].name == "Zoë Q"
    assert (clients[(rival_key, "ann@example.com")].name, clients[(rival_key, "ann@example.com")].phone) == \
        ("Ann at Rival", "+447700900009")
    assert {(row.notes, bool(row.marketing_email_opt_out), bool(row.marketing_sms_opt_out))
            for row in clients.values()} == {(None, False, False)}
    expected = [(gym_key, "ann@example.com")] * 3 + [(gym_key, "zoë@example.com")] * 2 + \
               [(gym_key, "bob@example.com"), (rival_key, "ann@example.com")]
    assert len(links) == len(rows) and None not in links.values()
    for booking_id, key in zip(ids, expected):
        assert str(links[value(booking_id)]) == str(clients[key].id)
    assert _bookings(engine) == before  # every booking keeps its own name, email and phone
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM booking_audit")) == len(rows)

    migrate(fresh_url, BEFORE, down=True)
    assert "clients" not in inspect(engine).get_table_names()
    assert "client_id" not in {column["name"] for column in inspect(engine).get_columns("bookings")}
    assert _bookings(engine) == before
    migrate(fresh_url, THIS)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM clients")) == 4
        assert conn.scalar(text("SELECT count(*) FROM bookings WHERE client_id IS NULL")) == 0
    engine.dispose()


def _bookings(engine) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(tuple(str(v) for v in row) for row in conn.execute(text(
            "SELECT id, organization_id, attendee_name, attendee_email, attendee_phone, status, start_at, created_at "
            "FROM bookings")))


def _naive(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
