"""The RQ path: with REDIS_URL the connect and booking jobs go to the calendar queue, and a real
`python worker.py --burst` process writes the channel, the first sync and the event."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from calendar_helpers import connect, google_settings, iso, local, next_weekday, sign_in
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[3]  # tests/services/calendar/ → the repository
REDIS_DB = "redis://127.0.0.1:6379/15"


@pytest.fixture
def queue_name():
    import redis
    from rq import Queue

    name = f"calendar-test-{uuid.uuid4().hex[:8]}"
    connection = redis.Redis.from_url(REDIS_DB)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.fail("Redis at 127.0.0.1:6379 is not reachable (CI starts it; see .ci/run)")
    yield name
    Queue(name, connection=connection).empty()
    for key in connection.scan_iter(f"*{name}*"):
        connection.delete(key)
    connection.close()


@pytest.fixture
def app_config(app_config, google, queue_name):
    return {**app_config, **google_settings(google), "GOOGLE_WEBHOOK_URL": "http://localhost/api/calendar/webhooks/google",
            "REDIS_URL": REDIS_DB, "CALENDAR_JOBS": "rq", "CALENDAR_QUEUE": queue_name}


def run_worker(app, queue_name, tmp_path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "CALENDAR_"))}
    config = app.config
    env.update({
        "DATABASE_URL": str(app.extensions["sqlalchemy"].engines[None].url.render_as_string(hide_password=False)),
        "REDIS_URL": REDIS_DB, "SECRET_KEY": config["SECRET_KEY"], "APP_URL": "http://localhost",
        "ATLAS_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "GOOGLE_CLIENT_ID": config["GOOGLE_CLIENT_ID"], "GOOGLE_CLIENT_SECRET": config["GOOGLE_CLIENT_SECRET"],
        "GOOGLE_API_ENDPOINT": config["GOOGLE_API_ENDPOINT"], "GOOGLE_OAUTH_TOKEN_URI": config["GOOGLE_OAUTH_TOKEN_URI"],
        "GOOGLE_OAUTH_AUTH_URI": config["GOOGLE_OAUTH_AUTH_URI"], "GOOGLE_OAUTH_REVOKE_URI": config["GOOGLE_OAUTH_REVOKE_URI"],
        "GOOGLE_WEBHOOK_URL": config["GOOGLE_WEBHOOK_URL"], "CALENDAR_QUEUE": queue_name,
    })
    done = subprocess.run([sys.executable, "worker.py", "--burst", "--queues", queue_name], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_the_rq_worker_sets_up_the_connection_and_writes_the_event(app, db, make_org, make_trainer,
                                                                   make_appointment_type, make_link, google,
                                                                   queue_name, tmp_path):
    import redis
    from rq import Queue

    from app.models import Booking, Calendar

    org = make_org(timezone="Europe/London")
    trainer = make_trainer(org=org, email="rq-trainer@gym.example")
    link = make_link([trainer], [make_appointment_type(org=org)])
    google.add_account(trainer.email)
    client = sign_in(app, trainer.email)
    connect(app, client, google)
    queue = Queue(queue_name, connection=redis.Redis.from_url(REDIS_DB))
    assert queue.count == 1  # the setup job: nothing ran in the request
    [calendar] = db.session.scalars(select(Calendar)).all()
    assert calendar.channel_id is None

    day = next_weekday(1)
    response = app.test_client().post("/api/booking/create", json={
        "link_slug": link.slug, "start_time": iso(local(day, 10)), "attendee_name": "Rae Queue",
        "attendee_email": "rae@example.com"})
    assert response.status_code == 201
    assert queue.count == 2
    booking_id = uuid.UUID(response.get_json()["booking"]["id"])
    assert db.session.get(Booking, booking_id).calendar_sync_status == "pending"

    run_worker(app, queue_name, tmp_path)
    db.session.rollback()  # a new transaction: see what the worker committed
    calendar = db.session.get(Calendar, calendar.id)
    assert calendar.channel_id in google.channels and calendar.sync_token and calendar.busy_refreshed_at
    booking = db.session.get(Booking, booking_id)
    assert booking.calendar_sync_status == "synced"
    [event] = google.events(trainer.email)
    assert event["id"] == booking.external_event_id
    queue.connection.close()
