"""API keys for the AI booking API and the MCP server, and the log of what agents did.

One organization per key; only the SHA-256 of the key is stored (the key is shown once), with its
first characters (`prefix`) to tell keys apart, its scopes, who made it, when it was last used and
when it was revoked. `ai_action_log` records every tool call (reads and refusals included) with
the key, the action and its outcome.

Revision ID: 0004_api_keys
Revises: 0003_calendar_sync
Create Date: 2026-11-25 09:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0004_api_keys'
down_revision = '0003_calendar_sync'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=24), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_api_keys_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_api_keys_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_organization_id'), ['organization_id'], unique=False)

    op.create_table('ai_action_log',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('api_key_id', sa.Uuid(), nullable=True),
    sa.Column('actor_id', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Uuid(), nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_ai_action_log_api_key_id_api_keys'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ai_action_log_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_action_log'))
    )
    with op.batch_alter_table('ai_action_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ai_action_log_api_key_id'), ['api_key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ai_action_log_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_ai_action_log_organization_id_created_at', ['organization_id', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('ai_action_log', schema=None) as batch_op:
        batch_op.drop_index('ix_ai_action_log_organization_id_created_at')
        batch_op.drop_index(batch_op.f('ix_ai_action_log_organization_id'))
        batch_op.drop_index(batch_op.f('ix_ai_action_log_api_key_id'))

    op.drop_table('ai_action_log')

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_organization_id'))

    op.drop_table('api_keys')
