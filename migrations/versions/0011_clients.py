"""Clients: one record per organization and email address, every booking linked to its client.

`clients` holds the gym's clients (name, email, phone, staff notes, marketing opt-outs); its
`email` is the booking's normalised address lower-cased, unique within the organization (a
unique index on (organization_id, email)).
`bookings.client_id` (nullable, indexed, ON DELETE SET NULL) links each booking to its client.

Existing rows: every booking's attendee becomes a client — one per (organization, lower-cased
email), named after the attendee's most recent booking (by when it was made), with the phone of
the most recent booking that has one, created when the first of them was made — and every booking
is linked to it. Nothing on a booking changes: each keeps the name, email and phone it was made
with. The grouping is done here in Python with the same `str.lower()` the booking path uses
(SQLite's lower() folds ASCII only), so an address with accented capitals finds the same client
before and after the upgrade.

Downgrade: drops the link and the table; the bookings keep everything they had before the upgrade
(client notes and opt-outs, which only the table holds, are lost).

SQLite adds or drops a column with a foreign key only by rebuilding the table, and rebuilding
`bookings` drops the old table, which other tables' rows refer to: migrations/env.py runs every
migration on SQLite with foreign keys unenforced and checks every reference before committing;
`_sqlite_rebuild` checks them right after this rebuild too.

Revision ID: 0011_clients
Revises: 0010_finished_bookings
Create Date: 2026-12-03 09:00:00

"""
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0011_clients'
down_revision = '0010_finished_bookings'
branch_labels = None
depends_on = None

BATCH = 500


def upgrade():
    op.create_table(
        'clients',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('marketing_email_opt_out', sa.Boolean(), nullable=False),
        sa.Column('marketing_sms_opt_out', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_clients_organization_id_organizations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_clients')),
    )
    op.create_index(op.f('ix_clients_organization_id_email'), 'clients', ['organization_id', 'email'], unique=True)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with _sqlite_rebuild(), op.batch_alter_table('bookings', schema=None, recreate="always") as batch_op:
            batch_op.add_column(sa.Column('client_id', sa.Uuid(), nullable=True))
            batch_op.create_foreign_key(batch_op.f('fk_bookings_client_id_clients'), 'clients', ['client_id'], ['id'],
                                        ondelete='SET NULL')
        bind = op.get_bind()
    else:
        op.add_column('bookings', sa.Column('client_id', sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f('fk_bookings_client_id_clients'), 'bookings', 'clients', ['client_id'], ['id'],
                              ondelete='SET NULL')
    op.create_index(op.f('ix_bookings_client_id'), 'bookings', ['client_id'], unique=False)
    _move_attendees_into_clients(bind)


def _move_attendees_into_clients(bind) -> None:
    bookings = sa.table('bookings', sa.column('id', sa.Uuid()), sa.column('organization_id', sa.Uuid()),
                        sa.column('attendee_name', sa.String()), sa.column('attendee_email', sa.String()),
                        sa.column('attendee_phone', sa.String()), sa.column('created_at', sa.DateTime(timezone=True)),
                        sa.column('client_id', sa.Uuid()))
    clients = sa.table('clients', sa.column('id', sa.Uuid()), sa.column('organization_id', sa.Uuid()),
                       sa.column('name', sa.String()), sa.column('email', sa.String()), sa.column('phone', sa.String()),
                       sa.column('marketing_email_opt_out', sa.Boolean()),
                       sa.column('marketing_sms_opt_out', sa.Boolean()),
                       sa.column('created_at', sa.DateTime(timezone=True)),
                       sa.column('updated_at', sa.DateTime(timezone=True)))
    # Newest first: the first row of a client gives its name, the first with a phone its phone, the
    # last its creation time. Only the distinct (organization, address) pairs are kept in memory.
    found: dict[tuple, dict] = {}
    rows = bind.execute(sa.select(bookings.c.organization_id, bookings.c.attendee_name, bookings.c.attendee_email,
                                  bookings.c.attendee_phone, bookings.c.created_at)
                        .order_by(bookings.c.created_at.desc(), bookings.c.id.desc()))
    for org_id, name, email, phone, created_at in rows:
        key = (org_id, email.strip().lower())
        client = found.get(key)
        if client is None:
            client = found[key] = {"id": uuid.uuid4(), "organization_id": org_id, "name": name, "email": key[1],
                                   "phone": phone or None, "created_at": created_at, "raw": set()}
        if client["phone"] is None and phone:
            client["phone"] = phone
        client["created_at"] = created_at
        client["raw"].add(email)
    now = datetime.now(timezone.utc)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as SQLite keeps every other timestamp: naive UTC
    values = [{"id": c["id"], "organization_id": c["organization_id"], "name": c["name"], "email": c["email"],
               "phone": c["phone"], "marketing_email_opt_out": False, "marketing_sms_opt_out": False,
               "created_at": c["created_at"], "updated_at": now} for c in found.values()]
    links = [{"client": c["id"], "org": c["organization_id"], "raw": raw} for c in found.values() for raw in c["raw"]]
    for start in range(0, len(values), BATCH):
        bind.execute(clients.insert(), values[start:start + BATCH])
    link = (bookings.update()
            .where(bookings.c.organization_id == sa.bindparam("org"), bookings.c.attendee_email == sa.bindparam("raw"))
            .values(client_id=sa.bindparam("client")))
    for start in range(0, len(links), BATCH):
        bind.execute(link, links[start:start + BATCH])
    left = bind.scalar(sa.select(sa.func.count()).select_from(bookings).where(bookings.c.client_id.is_(None)))
    if left:  # cannot happen (every address was read above); refuse rather than leave bookings unlinked
        raise RuntimeError(f"{left} bookings were not linked to a client")


def downgrade():
    op.drop_index(op.f('ix_bookings_client_id'), table_name='bookings')
    if op.get_bind().dialect.name == "sqlite":
        with _sqlite_rebuild(), op.batch_alter_table('bookings', schema=None, recreate="always") as batch_op:
            batch_op.drop_column('client_id')
    else:
        op.drop_constraint(op.f('fk_bookings_client_id_clients'), 'bookings', type_='foreignkey')
        op.drop_column('bookings', 'client_id')
    op.drop_index(op.f('ix_clients_organization_id_email'), table_name='clients')
    op.drop_table('clients')


@contextmanager
def _sqlite_rebuild():
    """Around a rebuild of `bookings` on SQLite (a new table, the rows copied, the old one dropped):
    foreign keys must be unenforced (migrations/env.py turns them off for every migration), or the
    drop is refused; afterwards every reference must still hold."""
    bind = op.get_bind()
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("rebuilding bookings needs foreign keys unenforced (see migrations/env.py)")
    yield
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"rows refer to missing rows after rebuilding bookings: {broken[:5]}")
