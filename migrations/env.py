"""Alembic environment, driven by Flask-Migrate: the database URL and metadata come from the app."""
import logging
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
# Keep the app's own loggers alive (fileConfig would otherwise disable them).
if config.config_file_name is not None and not current_app.testing:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def get_metadata():
    return target_db.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # The PostgreSQL exclusion constraint is created by the migration itself; Alembic cannot
    # reflect exclusion constraints, so it is left out of the comparison on purpose.
    return True


def run_migrations_offline():
    context.configure(
        url=str(target_db.engine.url), target_metadata=get_metadata(), literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)

    connectable = target_db.engine
    with connectable.connect() as connection:
        with sqlite_foreign_keys_off(connection):
            context.configure(connection=connection, target_metadata=get_metadata(),
                              include_object=include_object, **conf_args)
            with context.begin_transaction():
                context.run_migrations()
                check_sqlite_references(connection)


@contextmanager
def sqlite_foreign_keys_off(connection):
    """On SQLite, foreign keys unenforced while migrations run, as SQLite's own procedure for
    schema changes asks: SQLite changes a table by rebuilding it (a new table, the rows copied, the
    old one dropped), and dropping a table that other rows refer to while enforcement is on is
    refused (NO ACTION: `booking_audit` → `bookings` made 0005 fail on any database with an audit
    row) or empties the referring table (ON DELETE CASCADE). check_sqlite_references then checks
    every reference before the transaction commits, so nothing broken is kept. The pragma only
    takes effect outside a transaction, and the connection goes back to the pool enforcing again."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    _set_foreign_keys(raw, False)
    try:
        yield
    finally:
        _set_foreign_keys(raw, True)


def _set_foreign_keys(raw, on: bool) -> None:
    # The app opens every SQLAlchemy transaction with its own BEGIN (app/database.py): end an open
    # (empty) one, or the pragma is silently ignored.
    if raw.in_transaction:
        raw.commit()
    raw.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    if bool(raw.execute("PRAGMA foreign_keys").fetchone()[0]) != on:
        raise RuntimeError("SQLite did not change foreign key enforcement")


def check_sqlite_references(connection) -> None:
    """Refuse (roll the whole upgrade back) if any row refers to a row that is not there."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"rows refer to missing rows after migrating: {broken[:5]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
