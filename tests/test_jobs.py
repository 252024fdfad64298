"""The job that marks ended bookings completed, in each runtime of app/jobs.py: an RQ job queued by
worker.py's ticker (at most once per BOOKINGS_COMPLETE_SECONDS, whatever the number of workers), the
embedded default's dispatcher thread, and `flask complete-bookings` for cron."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.models import Booking

REDIS_DB = "redis://127.0.0.1:6379/15"


def ended_booking(make_booking, **overrides):
    """A confirmed booking that ended yesterday (by the real clock: the runtimes read it)."""
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    return make_booking(start=start, **overrides)


def status_of(db, booking) -> str:
    db.session.rollback()  # a fresh read: the runtimes wrote through connections of their own
    return db.session.scalar(select(Booking.status).where(Booking.id == booking.id))


@pytest.fixture
def bookings_queue():
    import redis

    name = f"bookings-test-{uuid.uuid4().hex[:8]}"
    connection = redis.Redis.from_url(REDIS_DB)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.fail("Redis at 127.0.0.1:6379 is not reachable (CI starts it; see .ci/run)")
    yield name, connection
    for key in connection.scan_iter(f"*{name}*"):
        connection.delete(key)
    connection.close()


def test_the_rq_job_is_queued_once_per_interval_and_completes_ended_bookings(make_app, app_config, db, make_booking,
                                                                             bookings_queue, monkeypatch):
    from rq import Queue, SimpleWorker

    from app import jobs
    from app.jobs import kick_bookings_rq

    # SimpleWorker runs the job in this process, which forked nothing: keep its connection pool.
    monkeypatch.setattr(jobs, "_pool_pid", os.getpid())

    name, connection = bookings_queue
    app = make_app(dict(app_config, REDIS_URL=REDIS_DB, BOOKINGS_QUEUE=name, BOOKINGS_COMPLETE_SECONDS=300))
    booking = ended_booking(make_booking)
    assert kick_bookings_rq(app) is True
    assert kick_bookings_rq(app) is False  # another worker's ticker, within the interval: nothing more
    queue = Queue(name, connection=connection)
    assert [job.func_name for job in queue.jobs] == ["app.jobs.complete_bookings"]
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert status_of(db, booking) == "completed"


def test_the_embedded_dispatcher_completes_ended_bookings_every_interval(make_app, app_config, db, make_booking):
    from app.jobs import InProcessDispatcher

    app = make_app(dict(app_config, BOOKINGS_COMPLETE_SECONDS=300))
    dispatcher = InProcessDispatcher(app, 5)  # not started: its loop's step is called by hand
    first = ended_booking(make_booking)
    dispatcher.complete_bookings_when_due()
    assert status_of(db, first) == "completed"
    second = ended_booking(make_booking)
    dispatcher.complete_bookings_when_due()  # less than BOOKINGS_COMPLETE_SECONDS later: not yet
    assert status_of(db, second) == "confirmed"
    dispatcher.next_completion_at = 0.0  # the interval has passed
    dispatcher.complete_bookings_when_due()
    assert status_of(db, second) == "completed"


def test_cron_runs_flask_complete_bookings(runner, db, make_booking):
    booking = ended_booking(make_booking)
    result = runner.invoke(args=["complete-bookings"])
    assert result.exit_code == 0, result.output
    assert "Ended bookings marked completed: 1." in result.output
    assert status_of(db, booking) == "completed"
