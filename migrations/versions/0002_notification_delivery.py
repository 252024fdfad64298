"""Notification delivery: claim tokens and hand-off times on the outbox, and opt-outs.

`claim_token` fences every write of a sender to its own claim; `handed_off_at` records that a
message was handed to the provider (so a `sending` row without it is safe to send again after a
crash); `enqueued_at` keeps the RQ dispatcher from queueing a due row over and over.
`notification_opt_outs` holds unsubscribed email addresses (per organization) and numbers that
answered STOP.

Revision ID: 0002_notification_delivery
Revises: 0001_booking_schema
Create Date: 2026-11-24 06:35:55.575823

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_notification_delivery'
down_revision = '0001_booking_schema'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_opt_outs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f('ck_notification_opt_outs_channel_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_notification_opt_outs_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_opt_outs')),
    sa.UniqueConstraint('organization_id', 'channel', 'address', name=op.f('uq_notification_opt_outs_organization_id_channel_address'))
    )
    with op.batch_alter_table('notification_opt_outs', schema=None) as batch_op:
        batch_op.create_index('ix_notification_opt_outs_channel_address', ['channel', 'address'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_opt_outs_organization_id'), ['organization_id'], unique=False)

    # Plain ALTER TABLE ADD COLUMN on both backends (nullable columns: no table rebuild on SQLite).
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('handed_off_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('enqueued_at')
        batch_op.drop_column('handed_off_at')
        batch_op.drop_column('claim_token')

    with op.batch_alter_table('notification_opt_outs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_opt_outs_organization_id'))
        batch_op.drop_index('ix_notification_opt_outs_channel_address')

    op.drop_table('notification_opt_outs')
