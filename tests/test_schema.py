"""The schema: migrations match the models, tables are org-scoped, and the database refuses bad rows."""
from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from app.models import Booking

ASSOCIATION_TABLES = {"holiday_staff", "booking_link_staff", "booking_link_appointment_types"}
T0 = datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc)


def test_migrations_and_models_do_not_drift(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_spec_tables_exist(db):
    names = set(inspect(db.engine).get_table_names())
    spec = {"organizations", "users", "calendar_connections", "calendars", "availability_rules",
            "availability_overrides", "holidays", "appointment_types", "booking_links", "link_branding",
            "bookings", "booking_audit", "notifications"}
    assert spec <= names


def test_every_table_is_org_scoped_with_an_index(db):
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        if table.name in ASSOCIATION_TABLES or table.name == "organizations":
            continue
        assert "organization_id" in table.c, f"{table.name} has no organization_id"
        indexed = [ix for ix in inspector.get_indexes(table.name) if ix["column_names"][0] == "organization_id"]
        assert indexed, f"{table.name}.organization_id is not the leading column of any index"


def test_booking_end_must_follow_start(db, make_user):
    staff = make_user()
    db.session.add(Booking(organization_id=staff.organization_id, staff_id=staff.id, start_at=T0, end_at=T0,
                           attendee_name="A", attendee_email="a@example.com"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_booking_status_is_checked(db, make_user):
    staff = make_user()
    db.session.add(Booking(organization_id=staff.organization_id, staff_id=staff.id, start_at=T0,
                           end_at=T0 + timedelta(hours=1), status="maybe", attendee_name="A",
                           attendee_email="a@example.com"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_datetimes_come_back_aware_utc(db, make_booking):
    local = datetime(2030, 6, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    booking = make_booking(start=local)
    db.session.expire_all()
    loaded = db.session.get(Booking, booking.id)
    assert loaded.start_at == datetime(2030, 6, 1, 8, 0, tzinfo=timezone.utc)
    assert loaded.start_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(db, make_user):
    staff = make_user()
    db.session.add(Booking(organization_id=staff.organization_id, staff_id=staff.id,
                           start_at=datetime(2030, 1, 1, 9), end_at=datetime(2030, 1, 1, 10),
                           attendee_name="A", attendee_email="a@example.com"))
    with pytest.raises(Exception, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_deleting_staff_with_bookings_is_refused(db, make_booking):
    booking = make_booking()
    with pytest.raises(IntegrityError):
        db.session.execute(text("DELETE FROM users WHERE id = :id"),
                           {"id": booking.staff_id.hex if db.engine.dialect.name == "sqlite" else booking.staff_id})
        db.session.flush()
    db.session.rollback()


@pytest.mark.postgres_only
class TestExclusionConstraint:
    def test_overlapping_active_bookings_are_refused(self, db, make_user, make_booking):
        staff = make_user()
        make_booking(staff=staff, start=T0)
        db.session.add(Booking(organization_id=staff.organization_id, staff_id=staff.id,
                               start_at=T0 + timedelta(minutes=30), end_at=T0 + timedelta(minutes=90),
                               status="pending", attendee_name="B", attendee_email="b@example.com"))
        with pytest.raises(IntegrityError, match="ex_bookings_no_overlap"):
            db.session.commit()
        db.session.rollback()

    def test_cancelled_booking_does_not_block(self, db, make_user, make_booking):
        staff = make_user()
        make_booking(staff=staff, start=T0, status="cancelled")
        second = make_booking(staff=staff, start=T0)
        assert second.status == "confirmed"
        # and a confirmed booking cannot be re-activated on top of another one
        first = db.session.scalars(select(Booking).where(Booking.status == "cancelled")).one()
        first.status = "confirmed"
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()

    def test_back_to_back_and_other_staff_are_allowed(self, db, make_user, make_booking):
        staff = make_user()
        other = make_user(org=staff.organization)
        make_booking(staff=staff, start=T0)
        make_booking(staff=staff, start=T0 + timedelta(hours=1))  # [10,11) then [11,12): no overlap
        make_booking(staff=other, start=T0)
        assert db.session.scalar(select(Booking.id).where(Booking.staff_id == other.id)) is not None


@pytest.mark.skipif("config.getoption('--db') != 'sqlite'")
def test_sqlite_serialized_transaction_holds_the_write_lock(app, db, db_url):
    """On SQLite the booking path's BEGIN IMMEDIATE shuts out a second writer until it commits."""
    from app.database import begin_serialized_transaction

    path = db_url.removeprefix("sqlite:///")
    begin_serialized_transaction()
    outcome: dict = {}

    def second_writer():
        conn = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            outcome["locked"] = False
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            outcome["locked"] = "locked" in str(exc)
        finally:
            conn.close()

    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join()
    assert outcome == {"locked": True}
    db.session.rollback()
    # once the first transaction ends, the second writer gets in
    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join()
    assert outcome == {"locked": False}


@pytest.mark.skipif("config.getoption('--db') != 'sqlite'")
def test_serialized_transaction_refuses_pending_changes(db, make_org):
    from app.database import begin_serialized_transaction
    from app.models import Organization

    db.session.add(Organization(slug="pending-org", name="Pending"))
    with pytest.raises(RuntimeError):
        begin_serialized_transaction()
    db.session.rollback()
