"""Group classes: class types, the weekly timetable (class_series), its sessions, the spots booked in
them (class_bookings), their audit trail (class_audit); notifications.class_booking_id for the
messages about a spot; and two class settings on organizations (waitlist cutoff, late-cancel window).

Capacity is held by the database: class_sessions.booked_count is kept between 0 and the capacity by
a CHECK, and one person has at most one live spot per session (a partial unique index on
class_bookings (session_id, email_key)); the waitlist's arrival numbers are unique per session.

Existing rows: the new tables start empty; existing notifications get a NULL class_booking_id and
existing organizations the default settings (120 and 720 minutes). Nothing is moved.
Downgrade: drops the tables and columns (every class, session and spot with them).

Revision ID: 0013_group_classes
Revises: 0012_org_identity
Create Date: 2026-12-02 10:16:11

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013_group_classes'
down_revision = '0012_org_identity'
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade():
    op.create_table('class_types',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('price_pennies', sa.Integer(), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.Column('default_instructor_id', sa.Uuid(), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity BETWEEN 1 AND 1000', name=op.f('ck_class_types_capacity_valid')),
    sa.CheckConstraint('duration_minutes BETWEEN 5 AND 1440', name=op.f('ck_class_types_duration_valid')),
    sa.CheckConstraint('price_pennies >= 0', name=op.f('ck_class_types_price_valid')),
    sa.ForeignKeyConstraint(['default_instructor_id'], ['users.id'], name=op.f('fk_class_types_default_instructor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_class_types_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_types'))
    )
    with op.batch_alter_table('class_types', schema=None) as batch_op:
        batch_op.create_index('ix_class_types_organization_id', ['organization_id'], unique=False)

    op.create_table('class_series',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('class_type_id', sa.Uuid(), nullable=False),
    sa.Column('instructor_id', sa.Uuid(), nullable=False),
    sa.Column('weekdays', JSON_TYPE, nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('first_date', sa.Date(), nullable=False),
    sa.Column('last_date', sa.Date(), nullable=True),
    sa.Column('materialised_until', sa.Date(), nullable=True),
    sa.Column('skipped', JSON_TYPE, nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity IS NULL OR capacity BETWEEN 1 AND 1000', name=op.f('ck_class_series_capacity_valid')),
    sa.CheckConstraint('last_date IS NULL OR last_date >= first_date', name=op.f('ck_class_series_dates_valid')),
    sa.ForeignKeyConstraint(['class_type_id'], ['class_types.id'], name=op.f('fk_class_series_class_type_id_class_types'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['instructor_id'], ['users.id'], name=op.f('fk_class_series_instructor_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_class_series_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_series'))
    )
    with op.batch_alter_table('class_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_series_class_type_id'), ['class_type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_class_series_instructor_id'), ['instructor_id'], unique=False)
        batch_op.create_index('ix_class_series_organization_id', ['organization_id'], unique=False)

    op.create_table('class_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('class_type_id', sa.Uuid(), nullable=False),
    sa.Column('series_id', sa.Uuid(), nullable=True),
    sa.Column('instructor_id', sa.Uuid(), nullable=False),
    sa.Column('occurrence_date', sa.Date(), nullable=True),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('waitlist_seq', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detached', sa.Boolean(), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('cancellation_reason', sa.String(length=500), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('external_event_id', sa.String(length=1024), nullable=True),
    sa.Column('external_calendar_id', sa.Uuid(), nullable=True),
    sa.Column('calendar_sync_status', sa.String(length=16), nullable=False),
    sa.Column('calendar_sync_error', sa.Text(), nullable=True),
    sa.Column('calendar_sync_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('calendar_sync_next_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name=op.f('ck_class_sessions_status_valid')),
    sa.CheckConstraint('booked_count >= 0 AND booked_count <= capacity', name=op.f('ck_class_sessions_within_capacity')),
    sa.CheckConstraint('capacity BETWEEN 1 AND 1000', name=op.f('ck_class_sessions_capacity_valid')),
    sa.CheckConstraint('end_at > start_at', name=op.f('ck_class_sessions_end_after_start')),
    sa.CheckConstraint('waitlist_seq >= 0', name=op.f('ck_class_sessions_waitlist_seq_valid')),
    sa.ForeignKeyConstraint(['class_type_id'], ['class_types.id'], name=op.f('fk_class_sessions_class_type_id_class_types'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['instructor_id'], ['users.id'], name=op.f('fk_class_sessions_instructor_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_class_sessions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['series_id'], ['class_series.id'], name=op.f('fk_class_sessions_series_id_class_series'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_sessions'))
    )
    with op.batch_alter_table('class_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_sessions_calendar_sync_next_at'), ['calendar_sync_next_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_class_sessions_class_type_id'), ['class_type_id'], unique=False)
        batch_op.create_index('ix_class_sessions_instructor_start', ['instructor_id', 'start_at'], unique=False)
        batch_op.create_index('ix_class_sessions_org_start', ['organization_id', 'start_at'], unique=False)
        batch_op.create_index('ux_class_sessions_series_date', ['series_id', 'occurrence_date'], unique=True, postgresql_where=sa.text('series_id IS NOT NULL'), sqlite_where=sa.text('series_id IS NOT NULL'))

    op.create_table('class_bookings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attendee_name', sa.String(length=200), nullable=False),
    sa.Column('attendee_email', sa.String(length=254), nullable=False),
    sa.Column('email_key', sa.String(length=254), nullable=False),
    sa.Column('attendee_phone', sa.String(length=32), nullable=True),
    sa.Column('attendee_timezone', sa.String(length=64), nullable=True),
    sa.Column('waitlist_seq', sa.Integer(), nullable=True),
    sa.Column('manage_token_hash', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('cancel_kind', sa.String(length=20), nullable=True),
    sa.Column('cancellation_reason', sa.String(length=500), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('waitlisted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'waitlisted') = (waitlist_seq IS NOT NULL)", name=op.f('ck_class_bookings_waitlist_seq_when_waiting')),
    sa.CheckConstraint("cancel_kind IS NULL OR cancel_kind IN ('customer', 'late', 'removed', 'session_cancelled', 'left_waitlist', 'waitlist_closed')", name=op.f('ck_class_bookings_cancel_kind_valid')),
    sa.CheckConstraint("status IN ('confirmed', 'waitlisted', 'cancelled', 'attended', 'no_show')", name=op.f('ck_class_bookings_status_valid')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_class_bookings_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_class_bookings_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_class_bookings_session_id_class_sessions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_bookings')),
    sa.UniqueConstraint('manage_token_hash', name=op.f('uq_class_bookings_manage_token_hash'))
    )
    with op.batch_alter_table('class_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_bookings_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_class_bookings_org_created', ['organization_id', 'created_at'], unique=False)
        batch_op.create_index('ix_class_bookings_session_status', ['session_id', 'status'], unique=False)
        batch_op.create_index('ux_class_bookings_session_email', ['session_id', 'email_key'], unique=True, postgresql_where=sa.text("status IN ('confirmed', 'waitlisted', 'attended', 'no_show')"), sqlite_where=sa.text("status IN ('confirmed', 'waitlisted', 'attended', 'no_show')"))
        batch_op.create_index('ux_class_bookings_session_waitlist', ['session_id', 'waitlist_seq'], unique=True, postgresql_where=sa.text('waitlist_seq IS NOT NULL'), sqlite_where=sa.text('waitlist_seq IS NOT NULL'))

    op.create_table('class_audit',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('series_id', sa.Uuid(), nullable=True),
    sa.Column('session_id', sa.Uuid(), nullable=True),
    sa.Column('class_booking_id', sa.Uuid(), nullable=True),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('before', JSON_TYPE, nullable=True),
    sa.Column('after', JSON_TYPE, nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("actor_type IN ('attendee', 'staff', 'ai', 'calendar', 'system')", name=op.f('ck_class_audit_actor_type_valid')),
    sa.ForeignKeyConstraint(['class_booking_id'], ['class_bookings.id'], name=op.f('fk_class_audit_class_booking_id_class_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_class_audit_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['series_id'], ['class_series.id'], name=op.f('fk_class_audit_series_id_class_series'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_class_audit_session_id_class_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_audit'))
    )
    with op.batch_alter_table('class_audit', schema=None) as batch_op:
        batch_op.create_index('ix_class_audit_booking_created', ['class_booking_id', 'created_at'], unique=False)
        batch_op.create_index('ix_class_audit_org_created', ['organization_id', 'created_at'], unique=False)
        batch_op.create_index('ix_class_audit_session_created', ['session_id', 'created_at'], unique=False)

    # The column every message about a class spot hangs off. On SQLite a named foreign key can only
    # come with a rebuild of the table (migrations run with foreign keys off there and check them
    # before committing: migrations/env.py); PostgreSQL adds both in place.
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table('notifications', schema=None, recreate="always") as batch_op:
            batch_op.add_column(sa.Column('class_booking_id', sa.Uuid(), nullable=True))
            batch_op.create_foreign_key(batch_op.f('fk_notifications_class_booking_id_class_bookings'),
                                        'class_bookings', ['class_booking_id'], ['id'], ondelete='CASCADE')
    else:
        op.add_column('notifications', sa.Column('class_booking_id', sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f('fk_notifications_class_booking_id_class_bookings'), 'notifications',
                              'class_bookings', ['class_booking_id'], ['id'], ondelete='CASCADE')
    op.create_index(op.f('ix_notifications_class_booking_id'), 'notifications', ['class_booking_id'], unique=False)
    # Existing organizations get the defaults: 2 hours of waitlist cutoff, 12 hours of late-cancel window.
    op.add_column('organizations', sa.Column('class_waitlist_cutoff_minutes', sa.Integer(), server_default='120',
                                             nullable=False))
    op.add_column('organizations', sa.Column('class_late_cancel_minutes', sa.Integer(), server_default='720',
                                             nullable=False))


def downgrade():
    op.drop_column('organizations', 'class_late_cancel_minutes')
    op.drop_column('organizations', 'class_waitlist_cutoff_minutes')
    op.drop_index(op.f('ix_notifications_class_booking_id'), table_name='notifications')
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column that is part of a foreign key only by rebuilding the table (migrations
        # run with foreign keys off on SQLite, see migrations/env.py, so nothing cascades).
        with op.batch_alter_table('notifications', schema=None, recreate="always") as batch_op:
            batch_op.drop_column('class_booking_id')
    else:
        op.drop_constraint(op.f('fk_notifications_class_booking_id_class_bookings'), 'notifications',
                           type_='foreignkey')
        op.drop_column('notifications', 'class_booking_id')
    with op.batch_alter_table('class_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_class_audit_session_created')
        batch_op.drop_index('ix_class_audit_org_created')
        batch_op.drop_index('ix_class_audit_booking_created')

    op.drop_table('class_audit')
    with op.batch_alter_table('class_bookings', schema=None) as batch_op:
        batch_op.drop_index('ux_class_bookings_session_waitlist', postgresql_where=sa.text('waitlist_seq IS NOT NULL'), sqlite_where=sa.text('waitlist_seq IS NOT NULL'))
        batch_op.drop_index('ux_class_bookings_session_email', postgresql_where=sa.text("status IN ('confirmed', 'waitlisted', 'attended', 'no_show')"), sqlite_where=sa.text("status IN ('confirmed', 'waitlisted', 'attended', 'no_show')"))
        batch_op.drop_index('ix_class_bookings_session_status')
        batch_op.drop_index('ix_class_bookings_org_created')
        batch_op.drop_index(batch_op.f('ix_class_bookings_client_id'))

    op.drop_table('class_bookings')
    with op.batch_alter_table('class_sessions', schema=None) as batch_op:
        batch_op.drop_index('ux_class_sessions_series_date', postgresql_where=sa.text('series_id IS NOT NULL'), sqlite_where=sa.text('series_id IS NOT NULL'))
        batch_op.drop_index('ix_class_sessions_org_start')
        batch_op.drop_index('ix_class_sessions_instructor_start')
        batch_op.drop_index(batch_op.f('ix_class_sessions_class_type_id'))
        batch_op.drop_index(batch_op.f('ix_class_sessions_calendar_sync_next_at'))

    op.drop_table('class_sessions')
    with op.batch_alter_table('class_series', schema=None) as batch_op:
        batch_op.drop_index('ix_class_series_organization_id')
        batch_op.drop_index(batch_op.f('ix_class_series_instructor_id'))
        batch_op.drop_index(batch_op.f('ix_class_series_class_type_id'))

    op.drop_table('class_series')
    with op.batch_alter_table('class_types', schema=None) as batch_op:
        batch_op.drop_index('ix_class_types_organization_id')

    op.drop_table('class_types')
