"""The file outbox (no SMTP server, no Twilio): one implementation for both channels — what each file
holds, that a refused hand-off writes nothing, that only the folder's own files can be read back, and
that a crash between the hand-off and the file is settled exactly for SMS as for email."""
from __future__ import annotations

from datetime import timedelta

import pytest
from notification_helpers import START
from sqlalchemy import select, update

from app.integrations.email import OutboxTransport, read_outbox_file
from app.integrations.sms import OutboxSmsTransport
from app.models import Notification
from app.services import notifications
from app.services.notifications.claims import claim_due
from app.services.notifications.clock import utcnow

NUMBER = "+447700900123"


@pytest.fixture
def outbox_app(make_app, app_config, tmp_path):
    """An app with neither SMTP nor Twilio: everything goes to tmp_path/files."""
    config = dict(app_config, SMTP_HOST=None, TWILIO_ACCOUNT_SID=None, OUTBOX_DIR=str(tmp_path / "files"))
    return make_app(config)


def test_each_channel_writes_its_own_file_named_after_the_key(tmp_path):
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Hello"
    message.set_content("Body")
    email_reference = OutboxTransport(tmp_path).send(message, recipient="ann@example.com", on_handoff=lambda: True,
                                                     key="k1")
    sms_result = OutboxSmsTransport(tmp_path).send(to=NUMBER, body="Bring water – and a towel",
                                                   on_handoff=lambda: True, key="k1")
    assert email_reference == "file:k1.eml" and sms_result == ("file:k1.sms.txt", "outbox")
    assert (tmp_path / "k1.eml").read_bytes() == bytes(message)
    assert (tmp_path / "k1.sms.txt").read_bytes() == f"To: {NUMBER}\n\nBring water – and a towel\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1.eml", "k1.sms.txt"]  # no temporary left behind
    assert OutboxTransport(tmp_path).delivered("k1") == "file:k1.eml"
    assert OutboxSmsTransport(tmp_path).delivered("k1") == "file:k1.sms.txt"
    assert OutboxSmsTransport(tmp_path).delivered("k2") is None


def test_a_refused_hand_off_writes_nothing(tmp_path):
    folder = tmp_path / "never-made"
    assert OutboxSmsTransport(folder).send(to=NUMBER, body="hi", on_handoff=lambda: False, key="k") is None
    assert OutboxTransport(folder).write("k", b"data", on_handoff=lambda: False) is None
    assert not folder.exists()


def test_only_the_folders_own_files_are_read_back(outbox_app, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "k.eml").write_bytes(b"Subject: kept\n\nhi\n")
    (tmp_path / "secret.eml").write_bytes(b"Subject: outside\n\nno\n")
    with outbox_app.app_context():
        assert read_outbox_file("k.eml")["Subject"] == "kept"
        for name in ("../secret.eml", "..\\secret.eml", ".hidden", "", "missing.eml"):
            assert read_outbox_file(name) is None, name


def test_an_sms_handed_to_the_file_outbox_is_settled_exactly_after_a_crash(outbox_app, book, tmp_path):
    """Two SMS rows were handed off when the sender died: one file was written, the other not. The
    written one counts as sent (its file untouched), the other is written once."""
    book(phone=NUMBER)
    book(start=START + timedelta(hours=2), phone="+447700900456", email="bob@example.com")
    with outbox_app.app_context():
        from app.extensions import db

        claimed = dict(claim_due(20))
        sms = db.session.scalars(select(Notification.id).where(
            Notification.id.in_(claimed), Notification.channel == "sms").order_by(Notification.recipient)).all()
        written, lost = sms
        db.session.execute(update(Notification).where(Notification.id.in_(sms)).values(
            handed_off_at=utcnow(), context={"via": "outbox"}))
        db.session.commit()
        folder = tmp_path / "files"
        folder.mkdir()
        (folder / f"{written}.sms.txt").write_text("To: +447700900123\n\nwritten before the crash\n")
        later = utcnow() + timedelta(seconds=outbox_app.config["NOTIFICATIONS_LEASE_SECONDS"] + 1)
        outcome = notifications.process_due(now=later)
        rows = {r.id: r for r in db.session.scalars(select(Notification).where(Notification.id.in_(sms))
                                                   .execution_options(populate_existing=True))}
    assert outcome.recovered == len(claimed)
    assert rows[written].status == "sent" and rows[written].delivery_status == "recovered"
    assert rows[written].provider_message_id == f"file:{written}.sms.txt"
    assert (folder / f"{written}.sms.txt").read_text() == "To: +447700900123\n\nwritten before the crash\n"
    assert rows[lost].status == "sent" and rows[lost].provider_message_id == f"file:{lost}.sms.txt"
    assert (folder / f"{lost}.sms.txt").read_text().startswith("To: +447700900456\n\n")
