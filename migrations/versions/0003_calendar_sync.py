"""Google Calendar sync: OAuth consents in progress, busy-cache timestamps, write-back retries.

`calendar_oauth_states` keeps the PKCE code verifier server-side between the redirect to Google
and the callback. `calendars` learns when its busy cache was fetched and when Google last failed.
`bookings` learns which calendar holds its event and when the next write-back attempt is due.
`bookings.external_calendar_id` has no foreign key: adding one to an existing table needs a full
table rebuild on SQLite; the calendar service clears it when a calendar goes away.

Revision ID: 0003_calendar_sync
Revises: 0002_notification_delivery
Create Date: 2026-11-24 09:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0003_calendar_sync'
down_revision = '0002_notification_delivery'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_oauth_states',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('code_verifier_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_calendar_oauth_states_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calendar_oauth_states_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_oauth_states')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_calendar_oauth_states_state_hash'))
    )
    with op.batch_alter_table('calendar_oauth_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_oauth_states_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_oauth_states_user_id'), ['user_id'], unique=False)

    # Nullable (or defaulted) columns: plain ALTER TABLE ADD COLUMN, no table rebuild on SQLite.
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('busy_refreshed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sync_failed_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_calendar_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('calendar_sync_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('calendar_sync_next_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_bookings_external_calendar_id'), ['external_calendar_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bookings_calendar_sync_next_at'), ['calendar_sync_next_at'], unique=False)


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bookings_calendar_sync_next_at'))
        batch_op.drop_index(batch_op.f('ix_bookings_external_calendar_id'))
        batch_op.drop_column('calendar_sync_next_at')
        batch_op.drop_column('calendar_sync_attempts')
        batch_op.drop_column('external_calendar_id')

    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.drop_column('sync_failed_at')
        batch_op.drop_column('busy_refreshed_at')

    with op.batch_alter_table('calendar_oauth_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_oauth_states_user_id'))
        batch_op.drop_index(batch_op.f('ix_calendar_oauth_states_organization_id'))

    op.drop_table('calendar_oauth_states')
