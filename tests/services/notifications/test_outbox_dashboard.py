"""The dashboard's outbox: owners and admins see their organization's messages with the last error and
retry failed ones (page and htmx fragment); trainers get 403, another gym's message 404."""
from __future__ import annotations

import pytest
from notification_helpers import sign_in
from sqlalchemy import update

from app.models import Notification
from app.services import notifications

PASSWORD = "correct horse battery"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def fresh_g_per_request(app):
    """One app context spans the test; forget the signed-in user and CSRF token between requests."""
    from flask import g

    def forget() -> None:
        for key in ("_login_user", "csrf_token", "csrf_valid"):
            g.pop(key, None)

    app.before_request_funcs.setdefault(None, []).insert(0, forget)


@pytest.fixture
def failed(book, db, smtp, rows):
    """Ann's confirmation, failed for good; the trainer's notice sent."""
    smtp.inbox.refuse["ann@example.com"] = "550 5.1.1 mailbox unavailable"
    book()
    notifications.process_due()
    del smtp.inbox.refuse["ann@example.com"]
    [row] = rows(status="failed")
    return row


@pytest.fixture
def owner(app, make_user, world):
    user = make_user(org=world.org, role="owner", email="olive@atlas.example", password=PASSWORD)
    return sign_in(app, user.email, PASSWORD)


def test_the_owner_sees_failed_messages_with_their_error(owner, failed):
    client, _ = owner
    page = client.get("/dashboard/outbox")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<h1>Outbox</h1>" in body and "ann@example.com" in body
    assert "recipient refused by the mail server: 550 5.1.1 mailbox unavailable" in body
    assert f'action="/dashboard/outbox/{failed.id}/retry"' in body
    assert "1 failed" in body and "1 sent" in body
    only_sent = client.get("/dashboard/outbox?status=sent").get_data(as_text=True)
    assert "ann@example.com" not in only_sent and "Trainer: new booking" in only_sent


def test_the_list_is_also_a_fragment_for_htmx(owner, failed):
    client, _ = owner
    fragment = client.get("/dashboard/outbox?status=failed", headers={**HTMX, "HX-Target": "outbox-list"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and "ann@example.com" in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_retry_from_the_list_with_htmx_then_the_message_goes(owner, failed, smtp, rows):
    client, token = owner
    response = client.post(f"/dashboard/outbox/{failed.id}/retry", data={"csrf_token": token},
                           headers={**HTMX, "HX-Target": "outbox-list"})
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "outboxChanged"
    assert "Retrying the message to ann@example.com" in response.get_data(as_text=True)
    assert rows(status="pending", template="booking_confirmation")
    notifications.process_due()
    assert len(smtp.inbox.to("ann@example.com")) == 1
    again = client.post(f"/dashboard/outbox/{failed.id}/retry", data={"csrf_token": token},
                        headers={**HTMX, "HX-Target": "outbox-list"})
    assert again.status_code == 409 and "Only failed messages can be retried" in again.get_data(as_text=True)


def test_retry_needs_the_csrf_token(owner, failed, rows):
    client, _ = owner
    assert client.post(f"/dashboard/outbox/{failed.id}/retry").status_code == 400
    assert rows(status="failed")


def test_trainers_may_not_open_the_outbox(app, failed, world):
    client, token = sign_in(app, world.trainer.email, PASSWORD)
    assert client.get("/dashboard/outbox").status_code == 403
    assert client.get(f"/dashboard/outbox/{failed.id}").status_code == 403
    assert client.post(f"/dashboard/outbox/{failed.id}/retry", data={"csrf_token": token}).status_code == 403


def test_another_gyms_message_is_not_found(app, failed, make_org, make_user, rows):
    rival = make_org(name="Rival Gym", slug="rival-gym")
    user = make_user(org=rival, role="owner", email="rhea@rival.example", password=PASSWORD)
    client, token = sign_in(app, user.email, PASSWORD)
    assert client.get(f"/dashboard/outbox/{failed.id}").status_code == 404
    assert client.post(f"/dashboard/outbox/{failed.id}/retry", data={"csrf_token": token}).status_code == 404
    assert client.get("/dashboard/outbox/not-a-uuid").status_code == 404
    assert "ann@example.com" not in client.get("/dashboard/outbox").get_data(as_text=True)
    assert rows(status="failed")


def test_the_detail_page_shows_the_history_and_retries(owner, failed, db, rows):
    client, token = owner
    page = client.get(f"/dashboard/outbox/{failed.id}").get_data(as_text=True)
    assert "Last error" in page and "550 5.1.1 mailbox unavailable" in page and "Retry now" in page
    response = client.post(f"/dashboard/outbox/{failed.id}/retry", data={"csrf_token": token, "next": "detail"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/dashboard/outbox/{failed.id}")
    # Sent, skipped and cancelled messages have no Retry: they would arrive twice or were stopped on purpose.
    db.session.execute(update(Notification).where(Notification.id == failed.id).values(status="skipped"))
    db.session.commit()
    assert "Retry now" not in client.get(f"/dashboard/outbox/{failed.id}").get_data(as_text=True)
