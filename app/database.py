"""Database behaviour that differs by backend: SQLite pragmas and serialised write transactions.

PostgreSQL refuses double bookings with an exclusion constraint. SQLite has none, so the
booking path serialises its check-and-insert instead: the transaction starts with
BEGIN IMMEDIATE, which takes SQLite's write lock up front, so no two check-then-insert
sequences can interleave.
"""
from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.extensions import db

SQLITE_BEGIN_OPTION = "atlas_sqlite_begin"


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event (below) issue BEGIN, so we can choose IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 15000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


@event.listens_for(Engine, "handle_error")
def _drop_row_values(context) -> None:
    """Keep row values out of database errors, which end up in logs.

    PostgreSQL explains a refused row with its values ("DETAIL: Key (email)=(…) already exists",
    "Failing row contains (…, name, email, …)"), and the driver puts that detail in the message.
    The primary message keeps what a reader needs (which constraint refused the row); the detail
    stays on the driver's ``diag`` for code that must look. hide_parameters does the same for the
    statement's parameters.
    """
    original = context.original_exception
    diag = getattr(original, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary or not getattr(diag, "message_detail", None):
        return
    original.args = (primary,)
    if context.sqlalchemy_exception is not None:
        kind = type(original)
        context.sqlalchemy_exception.args = (f"({kind.__module__}.{kind.__name__}) {primary}",)


def begin_serialized_transaction() -> None:
    """Make the session's next transaction one that no other writer can interleave with on SQLite.

    Call it before the first read of a check-then-write sequence. On SQLite the transaction opens
    with BEGIN IMMEDIATE, taking the write lock up front; if a transaction is already open it is
    ended first (so call this early, before loading what will be checked). On PostgreSQL the
    session carries on as it is: the exclusion constraint is the guard there. The caller commits
    or rolls back.
    """
    session = db.session()  # the request's Session behind the scoped proxy
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("begin_serialized_transaction() needs a session without pending changes")
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})


# PostgreSQL's answers to a transaction that lost a race with a concurrent one — deadlock_detected
# (two inserts each waiting on the other's exclusion-constraint check) and serialization_failure. The
# transaction was rolled back whole; running it again, from its first read, is safe and sees the
# winner's rows.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
RACE_ATTEMPTS = 3  # tries of a transaction that keeps losing such races, before its error stands


def lost_race(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing a transaction for losing a race (worth one more try)."""
    return isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) in RETRIED_SQLSTATES


def commit_or_rollback() -> None:
    """Commit the session's transaction; on any failure roll it back (nothing half-written) and re-raise."""
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
