"""The database holds the buffers too: the exclusion constraint covers each booking's blocked range.

`bookings.blocked_start_at` / `blocked_end_at` are [start − buffer before, end + buffer after), kept
in step with the time and buffers by the model on every write. On PostgreSQL the exclusion
constraint `ex_bookings_no_overlap` moves from [start_at, end_at) to that range, so two concurrent
requests can no longer book a time and the buffer after it.

Existing rows: every booking gets its buffered range, except a booking whose buffered range would
overlap a neighbour's (the race this fixes could have let such pairs in): those keep their plain
[start, end) range, which the old constraint already kept apart, so the new constraint is valid for
every row and no booking is changed or lost. A later change of such a booking writes its full range.

Revision ID: 0005_buffered_overlap
Revises: 0004_api_keys
Create Date: 2026-12-01 15:00:00

"""
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = '0005_buffered_overlap'
down_revision = '0004_api_keys'
branch_labels = None
depends_on = None

ACTIVE = "status IN ('pending', 'confirmed')"


def upgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blocked_start_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('blocked_end_at', sa.DateTime(timezone=True), nullable=True))

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text(
            "UPDATE bookings SET blocked_start_at = start_at - make_interval(mins => buffer_before_minutes), "
            "blocked_end_at = end_at + make_interval(mins => buffer_after_minutes)"))
        # Pairs whose buffered ranges overlap keep their plain ranges (apart under the old constraint).
        bind.execute(sa.text(
            "UPDATE bookings b SET blocked_start_at = b.start_at, blocked_end_at = b.end_at "
            f"WHERE b.{ACTIVE} AND EXISTS (SELECT 1 FROM bookings o WHERE o.staff_id = b.staff_id "
            f"AND o.id <> b.id AND o.{ACTIVE} "
            "AND tstzrange(o.blocked_start_at, o.blocked_end_at, '[)') && "
            "tstzrange(b.blocked_start_at, b.blocked_end_at, '[)'))"))
        bind.execute(sa.text("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_no_overlap"))
    else:
        # SQLite keeps datetimes as text: compute the ranges here (its writes are serialised, and it
        # has no exclusion constraint to satisfy).
        bookings = sa.table('bookings', sa.column('id', sa.Uuid()), sa.column('start_at', sa.DateTime()),
                            sa.column('end_at', sa.DateTime()), sa.column('buffer_before_minutes', sa.Integer()),
                            sa.column('buffer_after_minutes', sa.Integer()),
                            sa.column('blocked_start_at', sa.DateTime()), sa.column('blocked_end_at', sa.DateTime()))
        rows = bind.execute(sa.select(bookings.c.id, bookings.c.start_at, bookings.c.end_at,
                                      bookings.c.buffer_before_minutes, bookings.c.buffer_after_minutes)).all()
        for row in rows:
            bind.execute(bookings.update().where(bookings.c.id == row.id).values(
                blocked_start_at=row.start_at - timedelta(minutes=row.buffer_before_minutes or 0),
                blocked_end_at=row.end_at + timedelta(minutes=row.buffer_after_minutes or 0)))

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.alter_column('blocked_start_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column('blocked_end_at', existing_type=sa.DateTime(timezone=True), nullable=False)

    if bind.dialect.name == "postgresql":
        bind.execute(sa.text(
            "ALTER TABLE bookings ADD CONSTRAINT ex_bookings_no_overlap EXCLUDE USING gist "
            "(staff_id WITH =, tstzrange(blocked_start_at, blocked_end_at, '[)') WITH &&) "
            f"WHERE ({ACTIVE})"))


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_no_overlap"))
        bind.execute(sa.text(
            "ALTER TABLE bookings ADD CONSTRAINT ex_bookings_no_overlap EXCLUDE USING gist "
            f"(staff_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) WHERE ({ACTIVE})"))
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('blocked_end_at')
        batch_op.drop_column('blocked_start_at')
