"""Sessions that end: a per-person session version, part of every session's and remember-me cookie's
identity. A password reset, a deactivation or signing out raises it, and every session signed in
before stops working at its next request. Existing people start at 0; sessions made before this
revision name no version and are asked to sign in again once.

Revision ID: 0006_session_version
Revises: 0005_buffered_overlap
Create Date: 2026-12-01 15:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0006_session_version'
down_revision = '0005_buffered_overlap'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
