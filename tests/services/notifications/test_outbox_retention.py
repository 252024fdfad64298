"""Issue 15, defect 17: the outbox does not grow for ever, and its lookups do not scan.

Done messages (sent, skipped, cancelled) and file-outbox files older than
NOTIFICATIONS_RETENTION_DAYS are purged by the dispatcher (hourly at most); failed ones stay.
Twilio's status callbacks (by message sid) and STOP (by number) use indexes."""
from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from notification_helpers import START
from sqlalchemy import select, text, update

from app.models import Notification
from app.services import notifications
from app.services.notifications.clock import utcnow


def _age(db, row_id, days: int, status: str) -> None:
    db.session.execute(update(Notification).where(Notification.id == row_id).values(
        status=status, send_at=utcnow() - timedelta(days=days), claim_token=None))
    db.session.commit()


def test_done_messages_past_their_retention_are_purged_and_failed_ones_kept(app, book, rows, db):
    app.config["NOTIFICATIONS_RETENTION_DAYS"] = 30
    for hour in range(3):
        book(start=START + timedelta(hours=hour), email=f"m{hour}@example.com", name=f"Member {hour}")
    confirmations = rows(template="booking_confirmation")
    old_sent, old_failed, old_skipped = (r.id for r in confirmations)
    _age(db, old_sent, 31, "sent")
    _age(db, old_failed, 400, "failed")
    _age(db, old_skipped, 31, "skipped")
    before = len(rows())
    assert notifications.purge_expired(force=True) == 2
    left = {r.id for r in rows()}
    assert old_sent not in left and old_skipped not in left and old_failed in left
    assert len(left) == before - 2  # pending reminders and recent rows untouched


def test_the_purge_runs_with_the_dispatcher_at_most_hourly(app, book, rows, db):
    app.config["NOTIFICATIONS_RETENTION_DAYS"] = 30
    book()
    [row] = rows(template="booking_confirmation")
    now = utcnow()
    notifications.process_due(now=now)  # purges (nothing old yet) and notes the time
    _age(db, row.id, 40, "sent")
    notifications.process_due(now=now + timedelta(minutes=30))
    assert rows(id=row.id)  # within the hour: not purged yet
    notifications.process_due(now=now + timedelta(minutes=61))
    assert rows(id=row.id) == []


def test_retention_zero_keeps_everything(app, book, rows, db):
    app.config["NOTIFICATIONS_RETENTION_DAYS"] = 0
    book()
    [row] = rows(template="booking_confirmation")
    _age(db, row.id, 4000, "sent")
    assert notifications.purge_expired(force=True) == 0 and rows(id=row.id)


def test_old_file_outbox_files_are_purged_too(app, db):
    app.config["NOTIFICATIONS_RETENTION_DAYS"] = 30
    folder = Path(app.config["OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    old_email, old_sms, recent, other = (folder / f"{uuid.uuid4()}.eml", folder / f"{uuid.uuid4()}.sms.txt",
                                         folder / f"{uuid.uuid4()}.eml", folder / "README.txt")
    for path in (old_email, old_sms, recent, other):
        path.write_text("x")
    long_ago = (utcnow() - timedelta(days=45)).timestamp()
    for path in (old_email, old_sms, other):
        os.utime(path, (long_ago, long_ago))
    notifications.purge_expired(force=True)
    assert not old_email.exists() and not old_sms.exists()
    assert recent.exists() and other.exists()  # not ours: left alone


def _plan(db, query) -> str:
    dialect = db.engine.dialect.name
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    if dialect == "sqlite":
        plan = db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    else:
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: ask whether an index can serve
        plan = db.session.execute(text(f"EXPLAIN {compiled}")).all()
    db.session.rollback()
    return " ".join(str(part) for row in plan for part in row)


@pytest.mark.parametrize("query, index", [
    (select(Notification.id).where(Notification.provider_message_id == "SM123"), "ix_notifications_provider_message_id"),
    (select(Notification.id).where(Notification.channel == "sms", Notification.recipient == "+447700900123"),
     "ix_notifications_channel_recipient"),
])
def test_status_callbacks_and_stop_find_their_rows_by_index(db, query, index):
    assert index in _plan(db, query)
