"""Calendar sync that backs off and tells people: per calendar, how many reads of its changes and how
many push-channel starts in a row have failed, and when the next may be made (exponential backoff,
Google's Retry-After), kept apart so a failing channel never stops the polling that replaces it; per connection,
when its calendar list was last re-read and when its trainer was last emailed about a reconnect or
about write-backs that keep failing (so they are told once, not on every pass). Existing rows start
with no failures and nothing sent; their calendar lists are re-read on the next periodic pass.

Revision ID: 0007_calendar_sync_backoff
Revises: 0006_session_version
Create Date: 2026-12-01 19:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0007_calendar_sync_backoff'
down_revision = '0006_session_version'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sync_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('sync_backoff_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('channel_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('channel_backoff_until', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendars_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reconnect_emailed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('write_failures_emailed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        batch_op.drop_column('write_failures_emailed_at')
        batch_op.drop_column('reconnect_emailed_at')
        batch_op.drop_column('calendars_checked_at')
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.drop_column('channel_backoff_until')
        batch_op.drop_column('channel_failures')
        batch_op.drop_column('sync_backoff_until')
        batch_op.drop_column('sync_failures')
