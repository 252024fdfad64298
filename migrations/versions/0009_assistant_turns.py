"""The assistant's turns: each message an assistant answered, by its turn key, so that the same state
posted twice with the same request (a double click, a resent form, a replayed request) is answered
once — a confirmed booking, move or cancellation is never made twice. A new table: no data moves.

Revision ID: 0009_assistant_turns
Revises: 0008_notification_lookups
Create Date: 2026-12-02 03:40:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0009_assistant_turns'
down_revision = '0008_notification_lookups'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('assistant_turns',
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('answer', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_assistant_turns_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_assistant_turns'))
    )
    with op.batch_alter_table('assistant_turns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assistant_turns_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assistant_turns_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('assistant_turns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistant_turns_created_at'))
        batch_op.drop_index(batch_op.f('ix_assistant_turns_organization_id'))
    op.drop_table('assistant_turns')
