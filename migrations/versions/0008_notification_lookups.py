"""Outbox lookups that do not scan: Twilio's status callbacks find their message by its sid
(`provider_message_id`), STOP/START and the opt-out checks find a number's messages by (channel,
recipient). Both were full-table scans on a table that only grows. Indexes only: no data moves.

Revision ID: 0008_notification_lookups
Revises: 0007_calendar_sync_backoff
Create Date: 2026-12-01 21:10:00

"""
from alembic import op

revision = '0008_notification_lookups'
down_revision = '0007_calendar_sync_backoff'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_provider_message_id', ['provider_message_id'], unique=False)
        batch_op.create_index('ix_notifications_channel_recipient', ['channel', 'recipient'], unique=False)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_channel_recipient')
        batch_op.drop_index('ix_notifications_provider_message_id')
