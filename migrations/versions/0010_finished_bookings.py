"""Finishing a booking early does not free the rest of its time; finished bookings are found by end.

`bookings.finished_at` records when a booking became completed or no-show. On PostgreSQL the
exclusion constraint `ex_bookings_no_overlap` keeps apart, besides pending and confirmed bookings,
finished ones marked before their blocked range was over (`finished_at < blocked_end_at`): a
session marked completed five minutes in keeps the rest of its time (and its buffer after) held,
where before the status change alone let another booking into it. A partial index on confirmed
bookings by (organization, end) lets the job that marks ended bookings completed find them without
reading the history.

Existing rows: nothing changes and nothing can refuse the new constraint. Every existing finished
booking keeps finished_at NULL (when it finished is not known), which the constraint's condition
leaves out — as the old one did — so the constraint covers exactly the rows the old one covered
until bookings are next marked. (Such rows may overlap others: finishing early used to free the
rest of the time. Their time has passed, or — one marked early and still running at the upgrade —
the availability check holds it until it ends.) Past bookings still `confirmed` are marked
completed by the job (audited), not here.

Downgrade: the old constraint covers a subset of the rows the new one does, so it always holds.

Revision ID: 0010_finished_bookings
Revises: 0009_assistant_turns
Create Date: 2026-12-02 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0010_finished_bookings'
down_revision = '0009_assistant_turns'
branch_labels = None
depends_on = None

ACTIVE = "status IN ('pending', 'confirmed')"
CONFIRMED = "status = 'confirmed'"
HOLDS_TIME = f"{ACTIVE} OR (status IN ('completed', 'no_show') AND finished_at < blocked_end_at)"


def _constraint(where: str) -> str:
    return ("ALTER TABLE bookings ADD CONSTRAINT ex_bookings_no_overlap EXCLUDE USING gist "
            f"(staff_id WITH =, tstzrange(blocked_start_at, blocked_end_at, '[)') WITH &&) WHERE ({where})")


def upgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_bookings_org_confirmed_end', ['organization_id', 'end_at'], unique=False,
                              postgresql_where=sa.text(CONFIRMED), sqlite_where=sa.text(CONFIRMED))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_no_overlap"))
        bind.execute(sa.text(_constraint(HOLDS_TIME)))


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_no_overlap"))
        bind.execute(sa.text(_constraint(ACTIVE)))
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_org_confirmed_end')
        batch_op.drop_column('finished_at')
