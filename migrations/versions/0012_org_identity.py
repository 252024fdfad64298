"""The gym's identity: a phone number, a postal address and an uploaded logo on the organization.

`organizations.phone` (E.164), `organizations.postal_address` (a few lines, at most 300 characters)
and the logo: its bytes (`logo_image`, at most 512 KB, PNG, JPEG or WebP only — checked by
app/services/identity.py), their media type and their SHA-256 (`logo_digest`, which names the logo in
its URL so it can be cached for good). In the database rather than on a disk: the embedded default
and several web nodes serve it alike, with nothing shared to set up. `contact_email` existed already.

Existing rows: every new column is nullable and starts empty; nothing is read or moved.
Downgrade: drops the columns (and with them any uploaded logo); no table is rebuilt, so nothing
that refers to an organization is touched.

Revision ID: 0012_org_identity
Revises: 0011_clients
Create Date: 2026-12-09 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0012_org_identity'
down_revision = '0011_clients'
branch_labels = None
depends_on = None

COLUMNS = ('phone', 'postal_address', 'logo_image', 'logo_content_type', 'logo_digest')


def upgrade():
    # Plain ALTER TABLE, never a batch rebuild: on SQLite a rebuild drops and recreates
    # `organizations`, and with foreign keys on, dropping it empties every ON DELETE CASCADE child
    # (users, bookings…). ADD COLUMN is native on both databases.
    op.add_column('organizations', sa.Column('phone', sa.String(length=32), nullable=True))
    op.add_column('organizations', sa.Column('postal_address', sa.String(length=300), nullable=True))
    op.add_column('organizations', sa.Column('logo_image', sa.LargeBinary(), nullable=True))
    op.add_column('organizations', sa.Column('logo_content_type', sa.String(length=32), nullable=True))
    op.add_column('organizations', sa.Column('logo_digest', sa.String(length=64), nullable=True))


def downgrade():
    # DROP COLUMN is native in SQLite since 3.35 (2021) for columns without constraints or indexes,
    # as these are: no rebuild, so nothing cascades (see upgrade).
    for name in reversed(COLUMNS):
        op.drop_column('organizations', name)
