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


# --- group classes: waitlist promotion and timetable extension -------------------------------------

def freed_place(db, make_class_session, make_class_type):
    """A class in two days with one place, freed without promoting the person waiting (as when the
    place was freed while promotion could not run): the periodic pass must give it away."""
    from app.models import ClassBooking, ClassSession
    from app.services import classes
    from app.services.bookings import Actor

    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    session = make_class_session(ctype=make_class_type(capacity=1), start=start)
    first = classes.book_class(session_id=session.id, attendee_name="First", attendee_email="first@example.com",
                               actor=Actor("attendee"))
    waiting = classes.book_class(session_id=session.id, attendee_name="Second", attendee_email="second@example.com",
                                 actor=Actor("attendee"), join_waitlist=True)
    db.session.get(ClassBooking, first.spot.id).status = "cancelled"
    db.session.get(ClassSession, session.id).booked_count = 0
    db.session.commit()
    return waiting.spot


def spot_status(db, spot) -> str:
    from app.models import ClassBooking

    db.session.rollback()
    return db.session.scalar(select(ClassBooking.status).where(ClassBooking.id == spot.id))


@pytest.fixture
def series_missing_sessions(db, make_org, make_class_type, make_user):
    """A weekly class whose last two sessions are missing (the horizon moved on since it was made)."""
    from app.models import ClassSession
    from app.services import classes
    from app.services.bookings import Actor

    org = make_org()
    ctype = make_class_type(org=org)
    instructor = make_user(org=org, name="Sam Instructor")
    series = classes.create_series(org.id, actor=Actor("staff"), class_type_id=ctype.id, instructor_id=instructor.id,
                                   weekdays=[1, 3], start_time=datetime(2000, 1, 1, 7, 0).time(),
                                   first_date=datetime.now(timezone.utc).date() + timedelta(days=1))
    last = db.session.scalars(select(ClassSession).where(ClassSession.series_id == series.id)
                              .order_by(ClassSession.start_at.desc()).limit(2)).all()
    for session in last:
        db.session.delete(session)
    db.session.commit()
    return series


def test_the_rq_class_jobs_are_queued_once_per_interval_and_do_their_work(
        make_app, app_config, db, bookings_queue, monkeypatch, make_class_session, make_class_type,
        series_missing_sessions):
    from rq import Queue, SimpleWorker

    from app import jobs

    monkeypatch.setattr(jobs, "_pool_pid", os.getpid())
    name, connection = bookings_queue
    app = make_app(dict(app_config, REDIS_URL=REDIS_DB, BOOKINGS_QUEUE=name))
    spot = freed_place(db, make_class_session, make_class_type)
    assert jobs.kick_waitlists_rq(app) is True
    assert jobs.kick_waitlists_rq(app) is False  # another worker's ticker, within the interval
    assert jobs.kick_timetables_rq(app) is True  # a worker starting: the timetables at once
    assert jobs.kick_timetables_rq(app) is False
    queue = Queue(name, connection=connection)
    assert [job.func_name for job in queue.jobs] == ["app.jobs.promote_waitlists", "app.jobs.extend_timetables"]
    assert connection.pttl(f"atlas:{name}:extend-timetables-queued") > 20 * 3600 * 1000  # about a day
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert spot_status(db, spot) == "confirmed"
    from app.models import ClassSession

    made = db.session.scalars(select(ClassSession).where(ClassSession.series_id == series_missing_sessions.id)).all()
    assert len(made) == len({s.occurrence_date for s in made}) and len(made) >= 20


def test_the_embedded_dispatcher_runs_the_class_jobs_at_start_and_then_every_interval(
        make_app, app_config, db, make_class_session, make_class_type, series_missing_sessions):
    from app.jobs import InProcessDispatcher
    from app.models import ClassSession

    def count():
        db.session.rollback()
        return len(db.session.scalars(select(ClassSession.id).where(
            ClassSession.series_id == series_missing_sessions.id)).all())

    app = make_app(app_config)
    dispatcher = InProcessDispatcher(app, 5)  # not started: its loop's step is called by hand
    spot = freed_place(db, make_class_session, make_class_type)
    before = count()
    dispatcher.class_duties_when_due()
    assert spot_status(db, spot) == "confirmed"
    assert count() == before + 2
    second = freed_place(db, make_class_session, make_class_type)
    dispatcher.class_duties_when_due()  # within the interval: not yet
    assert spot_status(db, second) == "waitlisted"
    dispatcher.next_class_duty_at["promote_waitlists"] = 0.0  # the interval has passed
    dispatcher.class_duties_when_due()
    assert spot_status(db, second) == "confirmed"


def test_cron_runs_flask_promote_waitlists_and_extend_timetables(runner, db, make_class_session, make_class_type,
                                                                 series_missing_sessions):
    spot = freed_place(db, make_class_session, make_class_type)
    result = runner.invoke(args=["promote-waitlists"])
    assert result.exit_code == 0, result.output
    assert "Promoted from waitlists: 1; waitlists closed: 0." in result.output
    assert spot_status(db, spot) == "confirmed"
    result = runner.invoke(args=["extend-timetables"])
    assert result.exit_code == 0, result.output
    assert "Class sessions made: 2." in result.output
    assert "Class sessions made: 0." in runner.invoke(args=["extend-timetables"]).output
