"""POST/GET /api/notifications/process (admin key, constant-time check) and the in-process dispatcher
of the embedded default."""
from __future__ import annotations

from datetime import timedelta

import pytest
from notification_helpers import ADMIN_KEY, START, wait_for

PATH = "/api/notifications/process"


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-key"}, {"Authorization": ADMIN_KEY},
    {"Authorization": f"Basic {ADMIN_KEY}"}, {"Authorization": "Bearer "},
])
def test_process_needs_the_admin_key(client, headers, book, smtp):
    book()
    for method in (client.post, client.get):
        response = method(PATH, headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert smtp.inbox.messages == []


def test_without_a_configured_key_nobody_gets_in(make_app, app_config):
    client = make_app(dict(app_config, ADMIN_API_KEY=None)).test_client()
    assert client.post(PATH, headers={"Authorization": "Bearer "}).status_code == 401
    assert client.post(PATH, headers={"Authorization": "Bearer None"}).status_code == 401


def test_process_sends_due_messages_in_batches_and_reports(client, book, smtp, app):
    app.config["NOTIFICATIONS_BATCH_SIZE"] = 2
    for i in range(3):
        book(start=START + timedelta(hours=i), email=f"m{i}@example.com", name=f"M {i}")
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    first = client.post(PATH, headers=auth, json={"limit": 4})
    assert first.status_code == 200
    body = first.get_json()
    assert body["processed"]["sent"] == 4 and body["processed"]["claimed"] == 4
    assert body["remaining_due"] == 2
    second = client.post(f"{PATH}?limit=100", headers=auth).get_json()
    assert second["processed"]["sent"] == 2 and second["remaining_due"] == 0
    assert second["counts"]["sent"] == 6 and second["counts"]["pending"] == 6  # the reminders wait
    assert len(smtp.inbox.messages) == 6
    for limit in (0, 5001, "many", 2.5):
        bad = client.post(PATH, headers=auth, json={"limit": limit})
        assert bad.status_code == 400 and list(bad.get_json()["error"]["fields"]) == ["limit"], limit
    too_many = client.post(f"{PATH}?limit=5001", headers=auth)
    assert too_many.status_code == 400 and too_many.get_json()["error"]["fields"] == {"limit": "between 1 and 5000"}


def test_health_reports_counts_and_stuck_rows(client, book, app):
    from app.services.notifications.claims import claim_due
    from app.services.notifications.clock import utcnow

    book()
    claim_due(1)  # one row claimed by a sender that will never come back
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    health = client.get(PATH, headers=auth).get_json()
    assert health["mode"] == "off" and health["due_now"] == 1
    assert health["counts"]["sending"] == 1 and health["counts"]["pending"] == 3
    assert health["stuck_sending"] == 0 and health["healthy"] is True
    with __import__("time_machine").travel(utcnow() + timedelta(minutes=5), tick=False):
        later = client.get(PATH, headers=auth).get_json()
    assert later["stuck_sending"] == 1 and later["healthy"] is False and later["oldest_due_seconds"] >= 300


def test_health_reports_the_rq_queue(make_app, app_config, redis_url, queue_name):
    client = make_app(dict(app_config, REDIS_URL=redis_url, NOTIFICATIONS_QUEUE=queue_name)).test_client()
    health = client.get(PATH, headers={"Authorization": f"Bearer {ADMIN_KEY}"}).get_json()
    assert health["mode"] == "rq"
    assert health["redis"] == {"ok": True, "queue": queue_name, "queued_jobs": 0, "running_jobs": 0,
                               "failed_jobs": 0}


def test_the_embedded_default_sends_from_inside_the_web_process(make_app, app_config, smtp, world):
    """No Redis: the first request starts the dispatcher thread; a booking's commit wakes it."""
    app = make_app(dict(app_config, NOTIFICATIONS_DISPATCHER="thread", NOTIFICATIONS_DISPATCH_SECONDS=30))
    client = app.test_client()
    try:
        response = client.post("/api/booking/create", json={
            "link_slug": world.link.slug, "start_time": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "attendee_name": "Demo Dora", "attendee_email": "dora@example.com"})
        assert response.status_code == 201
        dispatcher = app.extensions["notifications_dispatcher"]
        assert dispatcher.is_alive()
        # Far sooner than the 30-second tick: the commit woke the thread.
        wait_for(lambda: smtp.inbox.to("dora@example.com"), timeout=10, message="the confirmation")
        health = client.get(PATH, headers={"Authorization": f"Bearer {ADMIN_KEY}"}).get_json()
        assert health["mode"] == "thread" and health["dispatcher"] == {"running": True}
    finally:
        app.extensions["notifications_dispatcher"].stop()
    assert not app.extensions["notifications_dispatcher"].is_alive()
