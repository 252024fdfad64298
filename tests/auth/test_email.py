"""The email integration: a real SMTP conversation (aiosmtpd) when SMTP_HOST is set, the file outbox
otherwise."""
from __future__ import annotations

import socket
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

import pytest

from app.integrations.email import send_email


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=email_policy)))
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def test_without_smtp_messages_go_to_the_outbox(app, tmp_path):
    app.config.update(SMTP_HOST=None, OUTBOX_DIR=str(tmp_path / "out"))
    path = send_email("kim@example.com", "Hello", "Plain text", html="<p>Rich</p>")
    message = message_from_bytes(Path(path).read_bytes(), policy=email_policy)
    assert message["To"] == "kim@example.com" and message["Subject"] == "Hello"
    assert message.get_body(("plain",)).get_content().strip() == "Plain text"
    assert message.get_body(("html",)).get_content().strip() == "<p>Rich</p>"


def test_with_smtp_host_the_message_is_sent(make_app, app_config, smtp_server, tmp_path):
    port, inbox = smtp_server
    app = make_app(dict(app_config, SMTP_HOST="127.0.0.1", MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                        MAIL_USE_TLS=False, MAIL_USE_SSL=False, OUTBOX_DIR=str(tmp_path / "out"),
                        # Flask-Mail suppresses sending when TESTING is on; this test wants the real thing.
                        MAIL_SUPPRESS_SEND=False))
    with app.app_context():
        assert send_email(["a@example.com", "b@example.com"], "Reminder", "See you soon") is None
    [(recipients, message)] = inbox.messages
    assert sorted(recipients) == ["a@example.com", "b@example.com"]
    assert message["Subject"] == "Reminder" and "See you soon" in message.get_body(("plain",)).get_content()
    assert not (tmp_path / "out").exists()
