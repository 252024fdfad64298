"""Failures: a bad recipient fails alone; SMTP down then back delivers each message once; retries
back off and give up; two dispatchers at once and senders that die mid-send never double a message."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from notification_helpers import START
from sqlalchemy import select, text, update

from app.models import Notification
from app.services import notifications
from app.services.notifications import delivery
from app.services.notifications.claims import claim_due
from app.services.notifications.clock import utcnow
from app.services.notifications.delivery import deliver_claimed


def message_ids(smtp) -> Counter:
    with smtp.inbox.lock:
        return Counter(str(m["Message-ID"]) for _, m in smtp.inbox.messages)


def test_a_malformed_recipient_fails_alone_with_a_clear_reason(book, smtp, rows, db, world):
    world.trainer.email = "terry-at-atlas"  # an address that can never work
    db.session.commit()
    book()
    book(start=START + timedelta(hours=2), email="bob@example.com", name="Bob")
    outcome = notifications.process_due()
    assert outcome.failed == 2 and outcome.sent == 2
    failed = rows(status="failed")
    assert {r.template for r in failed} == {"staff_booking_created"}
    assert all(r.last_error.startswith("malformed email address 'terry-at-atlas'") for r in failed)
    assert all(r.attempts == 1 for r in failed)  # never retried: it cannot work
    assert sorted(m["To"] for _, m in smtp.inbox.messages) == ["ann@example.com", "bob@example.com"]


def test_a_refused_recipient_fails_that_message_and_the_batch_goes_on(book, smtp, rows):
    smtp.inbox.refuse["ann@example.com"] = "550 5.1.1 <ann@example.com>: mailbox unavailable"
    book()
    book(start=START + timedelta(hours=2), email="bob@example.com", name="Bob")
    outcome = notifications.process_due()
    assert outcome.failed == 1 and outcome.sent == 3
    [failed] = rows(status="failed")
    assert failed.recipient == "ann@example.com"
    assert failed.last_error == "recipient refused by the mail server: 550 5.1.1 <ann@example.com>: mailbox unavailable"
    assert len(smtp.inbox.to("bob@example.com")) == 1


def test_smtp_down_then_back_delivers_each_message_exactly_once(book, smtp, rows):
    for i in range(3):
        book(start=START + timedelta(hours=i), email=f"member{i}@example.com", name=f"Member {i}")
    smtp.stop()
    down = notifications.process_due()
    assert down.retried == 6 and down.sent == 0
    pending = rows(status="pending", booking_sequence=0)
    waiting = [r for r in pending if r.template != "booking_reminder"]
    assert len(waiting) == 6
    assert all(r.attempts == 1 and r.last_error == "attempt 1: cannot reach the SMTP server: connection refused"
               for r in waiting)
    # Nothing is retried before its backoff has passed…
    assert notifications.process_due().claimed == 0
    smtp.start()
    later = max(r.send_at for r in waiting) + timedelta(seconds=1)
    back = notifications.process_due(now=later)
    assert back.sent == 6
    assert notifications.process_due(now=later + timedelta(minutes=10)).claimed == 0
    ids = message_ids(smtp)
    assert len(ids) == 6 and set(ids.values()) == {1}
    assert all(r.attempts == 2 for r in rows(status="sent"))


def test_backoff_doubles_and_gives_up_when_no_longer_useful_then_retry_sends(book, smtp, rows, world, make_user, app):
    """Issue 15, defect 6: a temporary failure is retried with capped exponential backoff for as long
    as the message is useful (here NOTIFICATIONS_RETRY_HOURS = 2), then fails where staff see it."""
    from notification_helpers import sign_in

    app.config["NOTIFICATIONS_RETRY_HOURS"] = 2
    app.config["NOTIFICATIONS_BACKOFF_MAX_SECONDS"] = 600
    book()
    written = rows(template="booking_confirmation")[0].created_at
    smtp.stop()
    now = utcnow()
    delays = []
    while rows(template="booking_confirmation")[0].status == "pending" and len(delays) < 100:
        notifications.process_due(now=now)
        row = rows(template="booking_confirmation")[0]
        delays.append((row.send_at - now).total_seconds())
        now = row.send_at + timedelta(seconds=1)
    assert 27 <= delays[0] <= 33 and 54 <= delays[1] <= 66  # 30 s, then 60 s (±10 %)
    assert max(delays) <= 660  # capped at 10 minutes
    row = rows(template="booking_confirmation")[0]
    assert row.status == "failed" and 12 <= row.attempts <= 25  # retried for the two hours, not 3 times
    assert now - written >= timedelta(hours=1, minutes=45)
    assert row.last_error.startswith(f"gave up after {row.attempts} attempts (no longer useful after ")
    assert row.last_error.endswith("cannot reach the SMTP server: connection refused")

    smtp.start()
    owner = make_user(org=world.org, role="owner", email="owner@atlas.example", password="owner password 1")
    client, token = sign_in(app, owner.email, "owner password 1")
    listing = client.get("/dashboard/outbox?status=failed").get_data(as_text=True)
    assert "no longer useful after" in listing and f"/dashboard/outbox/{row.id}/retry" in listing
    response = client.post(f"/dashboard/outbox/{row.id}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    row = rows(template="booking_confirmation")[0]
    assert row.status == "pending"
    notifications.process_due()
    assert rows(template="booking_confirmation")[0].status == "sent"
    assert len(smtp.inbox.to("ann@example.com")) == 1


def test_two_dispatchers_at_once_send_every_message_exactly_once(app, book, smtp, rows):
    for i in range(12):
        book(start=START + timedelta(days=i // 6, hours=i % 6), email=f"member{i}@example.com", name=f"M {i}")
    expected = len(rows(status="pending")) - len(rows(template="booking_reminder"))
    app.config["NOTIFICATIONS_BATCH_SIZE"] = 3
    results, errors = [], []
    barrier = threading.Barrier(4)

    def dispatcher():
        try:
            with app.app_context():
                barrier.wait()
                results.append(notifications.process_due())
                from app.extensions import db

                db.session.remove()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(r.sent for r in results) == expected == 24
    ids = message_ids(smtp)
    assert len(ids) == expected and set(ids.values()) == {1}


@pytest.mark.postgres_only
def test_postgres_claims_skip_rows_another_claimer_has_locked(book, db, rows):
    book()
    [locked, other] = [r.id for r in rows(status="pending") if r.template != "booking_reminder"]
    with db.engine.connect() as conn:
        conn.execute(text("SELECT id FROM notifications WHERE id = :id FOR UPDATE"), {"id": locked})
        claimed = claim_due(10)  # returns at once instead of waiting for the lock
        conn.rollback()
    assert [row_id for row_id, _ in claimed] == [other]


def test_a_sender_that_died_before_hand_off_is_recovered_and_sends_once(book, smtp, rows, app):
    book()
    dead = claim_due(10)  # claimed, then the process died: nothing handed over
    assert len(dead) == 2 and {r.status for r in rows() if r.template != "booking_reminder"} == {"sending"}
    assert notifications.process_due().claimed == 0  # still leased
    later = utcnow() + timedelta(seconds=app.config["NOTIFICATIONS_LEASE_SECONDS"] + 1)
    outcome = notifications.process_due(now=later)
    assert outcome.recovered == 2 and outcome.sent == 2
    assert all(r.attempts == 2 for r in rows(status="sent"))  # the crash counted as an attempt
    ids = message_ids(smtp)
    assert len(ids) == 2 and set(ids.values()) == {1}


def test_a_stale_sender_cannot_hand_off_after_its_claim_was_taken_back(book, smtp, rows, app):
    book()
    stale = claim_due(10)
    later = utcnow() + timedelta(seconds=app.config["NOTIFICATIONS_LEASE_SECONDS"] + 1)
    assert notifications.recover_expired(now=later) == 2
    fresh = claim_due(10, now=later)
    # The first sender wakes up (a long GC pause, a frozen VM) and carries on with its old claim.
    woken = deliver_claimed(stale)
    assert woken.lost == 2 and woken.sent == 0
    assert deliver_claimed(fresh).sent == 2
    ids = message_ids(smtp)
    assert len(ids) == 2 and set(ids.values()) == {1}


def test_the_hand_off_is_fenced_when_the_claim_is_taken_back_mid_batch(book, smtp, rows, app, monkeypatch):
    """The sender loaded its batch, then stalled; meanwhile its lease expired and another sender
    claimed the rows. When the first one carries on, its hand-off write finds a foreign claim
    token and it sends nothing."""
    book()
    stale = claim_due(10)
    later = utcnow() + timedelta(seconds=app.config["NOTIFICATIONS_LEASE_SECONDS"] + 1)
    load = delivery._load_batch
    taken_over = []

    def load_then_stall(ids):
        batch = load(ids)
        notifications.recover_expired(now=later)
        taken_over.extend(claim_due(10, now=later))
        return batch

    monkeypatch.setattr(delivery, "_load_batch", load_then_stall)
    woken = deliver_claimed(stale)
    monkeypatch.setattr(delivery, "_load_batch", load)
    assert len(taken_over) == 2
    assert woken.lost == 2 and woken.sent == 0 and smtp.inbox.messages == []
    assert deliver_claimed(taken_over).sent == 2
    ids = message_ids(smtp)
    assert len(ids) == 2 and set(ids.values()) == {1}


def test_delivering_the_same_ids_again_sends_nothing(book, smtp, rows):
    book()
    ids = [r.id for r in rows(status="pending") if r.template != "booking_reminder"]
    assert notifications.deliver(ids).sent == 2
    assert notifications.deliver(ids).claimed == 0  # a duplicate job: nothing left to claim
    assert len(smtp.inbox.messages) == 2


def test_a_message_the_server_took_but_never_acknowledged_is_not_sent_again(book, smtp, rows, app, db):
    """The SMTP server stores the message, then the reply is lost: delivery unknown, so at most once."""
    app.config["SMTP_TIMEOUT"] = 1
    held = threading.Event()
    smtp.inbox.hold_after_data["ann@example.com"] = held
    book()
    try:
        outcome = notifications.process_due()
    finally:
        held.set()
    assert outcome.failed == 1 and outcome.sent == 1
    [row] = rows(template="booking_confirmation")
    assert row.status == "failed" and row.last_error.startswith("delivery unknown")
    assert row.handed_off_at is not None
    later = utcnow() + timedelta(hours=1)
    assert notifications.process_due(now=later).claimed == 0
    assert len(smtp.inbox.to("ann@example.com")) == 1  # it did arrive, once


def test_a_handed_off_smtp_row_whose_sender_died_becomes_failed_not_resent(book, smtp, rows, app, db):
    book()
    claimed = claim_due(10)
    db.session.execute(update(Notification).where(Notification.id.in_([i for i, _ in claimed])).values(
        handed_off_at=utcnow(), context={"via": "smtp"}))
    db.session.commit()
    later = utcnow() + timedelta(seconds=app.config["NOTIFICATIONS_LEASE_SECONDS"] + 1)
    outcome = notifications.process_due(now=later)
    assert outcome.recovered == 2 and outcome.sent == 0
    assert {r.status for r in rows() if r.template != "booking_reminder"} == {"failed"}
    assert all(r.last_error.startswith("delivery unknown") for r in rows(status="failed"))
    assert smtp.inbox.messages == []


def test_the_file_outbox_settles_a_crash_exactly(make_app, app_config, tmp_path, book, db):
    """File outbox: the file is named after the row, so "was it written?" has an exact answer."""
    config = dict(app_config, SMTP_HOST=None, OUTBOX_DIR=str(tmp_path / "files"))
    book()
    app = make_app(config)
    with app.app_context():
        from app.extensions import db as app_db

        claimed = claim_due(10)
        written, lost = claimed
        # One row reached the file before the crash, the other did not.
        app_db.session.execute(update(Notification).where(Notification.id.in_([written[0], lost[0]])).values(
            handed_off_at=utcnow(), context={"via": "outbox"}))
        app_db.session.commit()
        (tmp_path / "files").mkdir()
        (tmp_path / "files" / f"{written[0]}.eml").write_bytes(b"Subject: written before the crash\n\nhi\n")
        later = utcnow() + timedelta(seconds=config["NOTIFICATIONS_LEASE_SECONDS"] + 1)
        outcome = notifications.process_due(now=later)
        statuses = dict(app_db.session.execute(select(Notification.id, Notification.status).where(
            Notification.id.in_([written[0], lost[0]]))).all())
    assert outcome.recovered == 2 and outcome.sent == 1
    assert statuses == {written[0]: "sent", lost[0]: "sent"}
    assert sorted(p.name for p in (tmp_path / "files").glob("*.eml")) == sorted(
        [f"{written[0]}.eml", f"{lost[0]}.eml"])
    assert (tmp_path / "files" / f"{written[0]}.eml").read_bytes().startswith(b"Subject: written before")


def _sent_write_fails(monkeypatch, times: int) -> list:
    """The database refuses the write of "sent" (a dropped connection, a failover, "database is
    locked") `times` times, after the provider has accepted the message."""
    from sqlalchemy.exc import OperationalError

    from app.services.notifications import claims

    real, refused = claims.fenced, []

    def fenced(row, token, **values):
        if values.get("status") == "sent" and len(refused) < times:
            refused.append(row.id)
            raise OperationalError("UPDATE notifications ...", {}, Exception("database is locked"))
        return real(row, token, **values)

    monkeypatch.setattr(claims, "fenced", fenced)
    return refused


def test_a_failed_write_of_sent_after_the_server_accepted_never_sends_again(book, smtp, rows, app, monkeypatch):
    """Issue 15, defect 1: SMTP answered 250, then recording "sent" failed: the message must not be
    sent again after the backoff. It stays handed off; recovery settles it (SMTP cannot be asked:
    "delivery unknown", at most once)."""
    refused = _sent_write_fails(monkeypatch, times=1_000)
    book()
    notifications.process_due()
    assert refused
    [row] = rows(template="booking_confirmation")
    assert row.status == "sending" and row.handed_off_at is not None and "recovery" in row.last_error
    monkeypatch.undo()
    for minutes in (5, 30, 120):  # well past any backoff: nothing is sent again
        notifications.process_due(now=utcnow() + timedelta(minutes=minutes))
    assert len(smtp.inbox.to("ann@example.com")) == 1
    [row] = rows(template="booking_confirmation")
    assert row.status == "failed" and row.last_error.startswith("delivery unknown")


def test_one_failed_write_of_sent_is_tried_again_and_the_message_is_sent_once(book, smtp, rows, monkeypatch):
    refused = _sent_write_fails(monkeypatch, times=1)
    book()
    notifications.process_due()
    assert len(refused) == 1
    [row] = rows(template="booking_confirmation")
    assert row.status == "sent" and row.attempts == 1
    notifications.process_due(now=utcnow() + timedelta(hours=1))
    assert len(smtp.inbox.to("ann@example.com")) == 1


def test_a_failed_write_of_sent_after_twilio_accepted_is_settled_by_asking_twilio(book, twilio, rows, app,
                                                                                   monkeypatch):
    """Twilio answered 201, then recording "sent" failed: no second POST; recovery finds the message
    in Twilio's list and marks the row sent with its sid."""
    number = "+447700900123"
    _sent_write_fails(monkeypatch, times=1_000)
    book(phone=number)
    notifications.process_due()
    [row] = rows(template="booking_confirmation", channel="sms")
    assert row.status == "sending" and row.handed_off_at is not None
    monkeypatch.undo()
    later = row.handed_off_at + timedelta(seconds=app.config["NOTIFICATIONS_LEASE_SECONDS"] + 1)
    notifications.process_due(now=later)
    [row] = rows(template="booking_confirmation", channel="sms")
    [message] = twilio.to(number)
    assert row.status == "sent" and row.provider_message_id == message["sid"] and row.delivery_status == "recovered"
    assert twilio.posts == 1


def test_a_twenty_minute_smtp_outage_loses_nothing(book, smtp, rows):
    """Issue 15, defect 6: with the old five attempts (60 + 120 + 240 + 480 s) a 20-minute outage
    failed the confirmation for good. Every message goes out once SMTP is back, each once."""
    book()
    smtp.stop()
    start = utcnow()
    for minute in range(0, 21):
        notifications.process_due(now=start + timedelta(minutes=minute))
    assert rows(status="failed") == []
    smtp.start()
    for minute in range(21, 60):
        notifications.process_due(now=start + timedelta(minutes=minute))
    sent = rows(status="sent")
    assert {r.template for r in sent} == {"booking_confirmation", "staff_booking_created"}
    ids = message_ids(smtp)
    assert len(ids) == 2 and set(ids.values()) == {1}
