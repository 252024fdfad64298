"""Background work: the RQ entry points and the runtimes that run what services submit.

Services never import this module. They ask for work through app/services/background.py
(`submit("calendar.events", ids)`, `kick_after_commit("notifications")`); create_app registers the
runtime below, which decides how it runs:

* With REDIS_URL: `python worker.py` runs an RQ worker (with RQ's scheduler) plus a ticker that
  queues `dispatch_notifications` every NOTIFICATIONS_DISPATCH_SECONDS. The dispatch job
  recovers expired leases and queues `deliver_notifications(ids)` jobs in batches; each of those
  claims its rows and sends them. A booking commit also queues a dispatch at once (`kick`).
* Without REDIS_URL (the embedded default): a daemon thread in the web process runs the same
  `process_due` loop, woken early by every booking commit — so the demo sends with nothing else
  running. POST /api/notifications/process does the same for cron-style deployments.
* Calendar jobs run the same three ways (RQ, a thread, or inline under tests).
* Ended bookings are marked completed every BOOKINGS_COMPLETE_SECONDS by whoever empties the outbox:
  worker.py's bookings ticker queues `complete_bookings` (RQ), the in-process dispatcher runs it
  itself, and with the dispatcher off cron runs `flask complete-bookings`.
* Group classes the same way: waitlists promoted into free places (and closed at the start) every
  WAITLIST_PROMOTE_SECONDS, and timetables extended to their horizon every TIMETABLE_EXTEND_SECONDS
  and when a worker (or the dispatcher) starts — `promote_waitlists` and `extend_timetables` queued by
  worker.py's tickers, run by the in-process dispatcher, or `flask promote-waitlists` / `flask
  extend-timetables` from cron.

RQ jobs take ids, never ORM objects, and run in the app the worker built (worker.py creates it with
create_app, which registers it here, before RQ forks a work-horse per job). The database is the
truth in every runtime: Redis only carries hints ("look now", "these ids are due"), so losing Redis
loses no message, and a job that runs twice sends nothing twice (rows are claimed).
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from flask import Flask, current_app, has_app_context
from redis import Redis

from app.extensions import db
from app.integrations import queue as rq_queues
from app.integrations.google_calendar import GoogleSettings
from app.services import background, bookings, classes, notifications, team
from app.services import calendar as calendar_sync

log = logging.getLogger(__name__)

JOB_TIMEOUT = 600  # seconds; RQ kills a stuck job's work-horse after this (its rows are then recovered)
# Group classes' periodic work. The promotion pass is a backstop (a freed place is given away in the
# transaction that frees it), so a few minutes is plenty; the timetable horizon is weeks ahead, so
# once a day is.
WAITLIST_PROMOTE_SECONDS = 120.0
TIMETABLE_EXTEND_SECONDS = 24 * 3600.0


# --- the app a job runs in ---------------------------------------------------------------------

_job_app_instance: Flask | None = None
_pool_pid: int | None = None


def _job_app() -> Flask:
    """The app a job runs in: the current one, else the one registered at start-up in this process
    (worker.py's, inherited by RQ's work-horses)."""
    if has_app_context():
        return current_app._get_current_object()
    if _job_app_instance is None:
        raise RuntimeError("no app registered for background jobs: start workers with `python worker.py`")
    return _job_app_instance


def _fresh_pool_after_fork() -> None:
    """RQ forks a work-horse per job: never use database connections inherited from the parent."""
    global _pool_pid
    if _pool_pid != os.getpid():
        db.engine.dispose(close=False)
        _pool_pid = os.getpid()


def warm_up(app: Flask) -> None:
    """Compile the notification templates in the worker's parent process: RQ forks a work-horse per
    job, and each would otherwise compile them again."""
    with app.app_context():
        for name in app.jinja_env.list_templates(filter_func=lambda n: n.startswith("notifications/")):
            app.jinja_env.get_template(name)


# --- RQ jobs ---------------------------------------------------------------------------------------

def dispatch_notifications() -> dict:
    """Recover expired leases, then queue the due rows in batches of deliver_notifications jobs."""
    app = _job_app()
    with app.app_context():
        _fresh_pool_after_fork()
        connection = rq_queues.redis_connection(app)
        try:
            connection.delete(kick_key(app))  # from here on, a new commit needs a new dispatch
        except Exception:  # noqa: BLE001 (Redis trouble: the ticker will try again)
            log.warning("could not clear the dispatch marker", exc_info=True)
        recovered = notifications.recover_expired()
        notifications.purge_expired()  # hourly at most: done messages past their retention
        queue = notification_queue(app, connection)
        batch = app.config["NOTIFICATIONS_BATCH_SIZE"]
        queued = 0
        while True:
            ids = notifications.take_due_for_queue(batch)
            if not ids:
                break
            try:
                queue.enqueue(deliver_notifications, [str(i) for i in ids], job_timeout=JOB_TIMEOUT,
                              result_ttl=300, failure_ttl=24 * 3600)
            except Exception:
                notifications.release_queued(ids)
                raise
            queued += len(ids)
            if len(ids) < batch:
                break
        return {"recovered": recovered, "queued": queued}


def deliver_notifications(ids: list[str]) -> dict:
    """Claim and send these rows (those still pending and due); see services.notifications.deliver."""
    app = _job_app()
    with app.app_context():
        _fresh_pool_after_fork()
        return notifications.deliver(ids).as_dict()


def complete_bookings() -> dict:
    """Mark the bookings that have ended completed (services.bookings.complete_past_bookings)."""
    app = _job_app()
    with app.app_context():
        _fresh_pool_after_fork()
        try:
            return {"completed": bookings.complete_past_bookings()}
        finally:
            db.session.remove()


def promote_waitlists() -> dict:
    """Promote into free places of classes still ahead and close the waitlists of classes that have
    started (services.classes.promote_waitlists: locked, so nobody is promoted twice)."""
    app = _job_app()
    with app.app_context():
        _fresh_pool_after_fork()
        try:
            return classes.promote_waitlists()
        finally:
            db.session.remove()


def extend_timetables() -> dict:
    """Make every active timetable entry's sessions up to the horizon (services.classes.extend_timetables)."""
    app = _job_app()
    with app.app_context():
        _fresh_pool_after_fork()
        try:
            return {"sessions_made": classes.extend_timetables()}
        finally:
            db.session.remove()


# --- Redis / RQ plumbing -----------------------------------------------------------------------------

def notification_queue(app: Flask, connection: Redis | None = None):
    return rq_queues.queue(app, app.config["NOTIFICATIONS_QUEUE"], connection)


def kick_key(app: Flask) -> str:
    """Set while a dispatch job is queued and not yet started (one marker per queue)."""
    return f"atlas:{app.config['NOTIFICATIONS_QUEUE']}:dispatch-queued"


def kick_rq(app: Flask) -> bool:
    """Queue a dispatch unless one is already queued and not yet started. True when one was queued.

    The marker expires on its own, so a dispatch job lost with Redis cannot block the next ones."""
    connection = rq_queues.redis_connection(app)
    expiry_ms = int(max(5.0, app.config["NOTIFICATIONS_DISPATCH_SECONDS"] * 2) * 1000)
    if not connection.set(kick_key(app), "1", nx=True, px=expiry_ms):
        return False
    try:
        notification_queue(app, connection).enqueue(dispatch_notifications, job_timeout=JOB_TIMEOUT, result_ttl=60,
                                                    failure_ttl=24 * 3600)
    except Exception:
        connection.delete(kick_key(app))
        raise
    return True


def kick_bookings_rq(app: Flask) -> bool:
    """Queue `complete_bookings` unless one was queued less than about BOOKINGS_COMPLETE_SECONDS ago
    (by any worker's ticker: the marker is shared, and expires on its own a little before the same
    ticker's next turn). True when one was queued."""
    interval = float(app.config["BOOKINGS_COMPLETE_SECONDS"])
    if interval <= 0:
        return False
    connection = rq_queues.redis_connection(app)
    key = f"atlas:{app.config['BOOKINGS_QUEUE']}:complete-bookings-queued"
    if not connection.set(key, "1", nx=True, px=max(1, int(interval * 900))):
        return False
    try:
        rq_queues.queue(app, app.config["BOOKINGS_QUEUE"], connection).enqueue(
            complete_bookings, job_timeout=JOB_TIMEOUT, result_ttl=300, failure_ttl=24 * 3600)
    except Exception:
        connection.delete(key)
        raise
    return True


def _kick_periodic_rq(app: Flask, job, interval: float, name: str) -> bool:
    """Queue `job` on BOOKINGS_QUEUE unless one was queued less than about `interval` ago by any
    worker's ticker (the marker is shared, and expires on its own a little before the next turn)."""
    connection = rq_queues.redis_connection(app)
    key = f"atlas:{app.config['BOOKINGS_QUEUE']}:{name}-queued"
    if not connection.set(key, "1", nx=True, px=max(1, int(interval * 900))):
        return False
    try:
        rq_queues.queue(app, app.config["BOOKINGS_QUEUE"], connection).enqueue(
            job, job_timeout=JOB_TIMEOUT, result_ttl=300, failure_ttl=24 * 3600)
    except Exception:
        connection.delete(key)
        raise
    return True


def kick_waitlists_rq(app: Flask) -> bool:
    """Queue `promote_waitlists` at most once per WAITLIST_PROMOTE_SECONDS. True when queued."""
    return _kick_periodic_rq(app, promote_waitlists, WAITLIST_PROMOTE_SECONDS, "promote-waitlists")


def kick_timetables_rq(app: Flask) -> bool:
    """Queue `extend_timetables` at most once per TIMETABLE_EXTEND_SECONDS (the first tick of a
    worker that starts finds no marker, so a fresh deployment extends at once). True when queued."""
    return _kick_periodic_rq(app, extend_timetables, TIMETABLE_EXTEND_SECONDS, "extend-timetables")


class Ticker(threading.Thread):
    """worker.py's periodic dispatchers: every interval, `kick` queues a job (if none is waiting).

    A thread of the worker's parent process that only talks to Redis (never the database), so the
    work-horses RQ forks inherit no database connection from it."""

    def __init__(self, app: Flask, interval: float, kick=None, name: str = "notification-ticker") -> None:
        super().__init__(name=name, daemon=True)
        self.app = app
        self.interval = interval
        self.kick = kick or kick_rq
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.kick(self.app)
            except Exception as exc:  # noqa: BLE001 (Redis away: try again next tick)
                log.warning("%s: %s", self.name, exc)
            self.stopped.wait(self.interval)


# --- the in-process dispatcher (embedded default, no Redis) -----------------------------------------

class InProcessDispatcher(threading.Thread):
    """Empties the outbox from inside the web process: process_due in a loop, woken early by kicks.
    Every BOOKINGS_COMPLETE_SECONDS it also marks ended bookings completed (the RQ job's work), and
    it runs the group classes' periodic work (class_duties_when_due)."""

    def __init__(self, app: Flask, interval: float) -> None:
        super().__init__(name="notification-dispatcher", daemon=True)
        self.app = app
        self.interval = interval
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.last_run_at: float | None = None
        self.next_completion_at = 0.0  # time.monotonic() from which bookings are due to be looked at
        # time.monotonic() from which each class duty is due: both at once when the thread starts.
        self.next_class_duty_at = {"promote_waitlists": 0.0, "extend_timetables": 0.0}

    def run(self) -> None:
        while not self.stopped.is_set():
            self.wake.clear()
            try:
                with self.app.app_context():
                    outcome = notifications.process_due()
                    db.session.remove()
                if outcome.claimed:
                    log.info("notifications: %s", outcome.as_dict())
            except Exception:  # noqa: BLE001 (a bad pass must not end the thread)
                log.exception("in-process notification dispatcher failed; trying again")
            self.complete_bookings_when_due()
            self.class_duties_when_due()
            self.last_run_at = time.time()
            self.wake.wait(self.interval)

    def complete_bookings_when_due(self) -> None:
        interval = float(self.app.config["BOOKINGS_COMPLETE_SECONDS"])
        if interval <= 0 or time.monotonic() < self.next_completion_at:
            return
        self.next_completion_at = time.monotonic() + interval
        try:
            with self.app.app_context():
                try:
                    bookings.complete_past_bookings()
                finally:
                    db.session.remove()
        except Exception:  # noqa: BLE001 (the next time round catches up: nothing is lost)
            log.exception("marking ended bookings completed failed; trying again later")

    def class_duties_when_due(self) -> None:
        """Promote waitlists every WAITLIST_PROMOTE_SECONDS and extend timetables every
        TIMETABLE_EXTEND_SECONDS (both on the first turn); one failing never stops the other."""
        duties = (("promote_waitlists", WAITLIST_PROMOTE_SECONDS, classes.promote_waitlists),
                  ("extend_timetables", TIMETABLE_EXTEND_SECONDS, classes.extend_timetables))
        for name, interval, work in duties:
            if time.monotonic() < self.next_class_duty_at[name]:
                continue
            self.next_class_duty_at[name] = time.monotonic() + interval
            try:
                with self.app.app_context():
                    try:
                        work()
                    finally:
                        db.session.remove()
            except Exception:  # noqa: BLE001 (the next turn catches up: the database keeps what is due)
                log.exception("%s failed; trying again later", name)

    def stop(self, timeout: float = 10) -> None:
        self.stopped.set()
        self.wake.set()
        self.join(timeout)


def _start_dispatcher_with_first_request(app: Flask) -> None:
    """Embedded default: start the in-process dispatcher with the first request — not at import, so
    CLI commands such as `flask db upgrade` never start sending."""
    lock = threading.Lock()

    @app.before_request
    def start_notification_dispatcher():
        if "notifications_dispatcher" in app.extensions:
            return
        with lock:
            if "notifications_dispatcher" in app.extensions:
                return
            dispatcher = InProcessDispatcher(app, float(app.config["NOTIFICATIONS_DISPATCH_SECONDS"]))
            dispatcher.start()
            app.extensions["notifications_dispatcher"] = dispatcher
            atexit.register(dispatcher.stop)


# --- Google Calendar jobs ------------------------------------------------------------------------------
#
# The same three runtimes as the outbox: RQ jobs with REDIS_URL; a thread in the web process on the
# embedded default; inline (in the caller, after its commit) under tests. The database is the truth
# here too — a booking whose event is not written yet is `pending` with a due time, and the periodic
# pass (`calendar_job("pass")`) finds it whatever happened to the job that was meant to write it.

CALENDAR_TICK_SECONDS = 30.0


def _run_calendar_job(kind: str, argument):
    """The work behind each kind of calendar job, in the current app context (every runtime uses it)."""
    if kind == "booking":  # write these bookings' events (insert, patch or delete)
        return {str(booking_id): calendar_sync.sync_booking_event(booking_id) for booking_id in argument}
    if kind == "class_session":  # write these class sessions' events in their instructors' calendars
        return {str(session_id): calendar_sync.sync_session_event(session_id) for session_id in argument}
    if kind == "sync":  # incremental sync of one calendar (after a push notification)
        return bookings.sync_calendar(argument).as_dict()
    if kind == "setup":  # channels, first sync and busy times of a connection just made or changed
        bookings.setup_connection(argument)
        return None
    if kind == "pass":  # the periodic pass: due write-backs, channel renewals, backstop syncs
        return bookings.calendar_pass().as_dict()
    raise ValueError(f"unknown calendar job {kind!r}")


def calendar_job(kind: str, argument=None):
    """The RQ job: one kind of calendar work, in the worker's app context."""
    app = _job_app()
    with app.app_context():
        _fresh_pool_after_fork()
        return _run_calendar_job(kind, argument)


def calendar_queue(app: Flask, connection: Redis | None = None):
    return rq_queues.queue(app, app.config["CALENDAR_QUEUE"], connection)


def submit_calendar_job(app: Flask, kind: str, argument) -> None:
    """Run a calendar job soon (RQ, the in-process worker, or inline). Failures are the caller's to
    log: the database keeps what is due and the periodic pass catches up with a lost job."""
    if calendar_sync.settings() is None:
        return
    mode = background.calendar_mode(app)
    if mode == "rq":
        calendar_queue(app).enqueue(calendar_job, kind, argument, job_timeout=JOB_TIMEOUT, result_ttl=300,
                                    failure_ttl=24 * 3600)
    elif mode == "thread":
        _calendar_worker(app).submit(kind, argument)
    else:
        _run_calendar_job(kind, argument)


def kick_calendar_rq(app: Flask) -> bool:
    """Queue the periodic pass unless one is already waiting (the marker expires on its own)."""
    connection = rq_queues.redis_connection(app)
    key = f"atlas:{app.config['CALENDAR_QUEUE']}:pass-queued"
    if not connection.set(key, "1", nx=True, px=int(CALENDAR_TICK_SECONDS * 2000)):
        return False
    calendar_queue(app, connection).enqueue(calendar_job, "pass", job_timeout=JOB_TIMEOUT, result_ttl=60,
                                            failure_ttl=24 * 3600)
    return True


class CalendarWorker(threading.Thread):
    """The embedded default's calendar runtime: runs submitted jobs at once and the periodic pass
    every CALENDAR_TICK_SECONDS, in a daemon thread of the web process."""

    def __init__(self, app: Flask, interval: float = CALENDAR_TICK_SECONDS) -> None:
        super().__init__(name="calendar-worker", daemon=True)
        self.app = app
        self.interval = interval
        self.jobs: list[tuple[str, object]] = []
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopped = threading.Event()

    def submit(self, kind: str, argument) -> None:
        with self.lock:
            self.jobs.append((kind, argument))
        self.wake.set()

    def run(self) -> None:
        last_pass = 0.0
        while not self.stopped.is_set():
            self.wake.clear()
            with self.lock:
                jobs, self.jobs = self.jobs, []
            with self.app.app_context():
                for kind, argument in jobs:
                    try:
                        _run_calendar_job(kind, argument)
                    except Exception:  # noqa: BLE001 (the periodic pass retries)
                        db.session.rollback()
                        log.exception("calendar job %s failed", kind)
                if time.monotonic() - last_pass >= self.interval:
                    try:
                        bookings.calendar_pass()
                    except Exception:  # noqa: BLE001
                        db.session.rollback()
                        log.exception("calendar periodic pass failed; trying again")
                    last_pass = time.monotonic()
                db.session.remove()
            self.wake.wait(self.interval)

    def stop(self, timeout: float = 10) -> None:
        self.stopped.set()
        self.wake.set()
        self.join(timeout)


_calendar_worker_lock = threading.Lock()


def _calendar_worker(app: Flask) -> CalendarWorker:
    worker = app.extensions.get("calendar_worker")
    if worker is None:
        with _calendar_worker_lock:
            worker = app.extensions.get("calendar_worker")
            if worker is None:
                worker = CalendarWorker(app)
                worker.start()
                app.extensions["calendar_worker"] = worker
                atexit.register(worker.stop)
    return worker


# --- the runtime services talk to (app/services/background.py) -------------------------------------------

CALENDAR_JOBS = {"calendar.events": "booking", "calendar.class_events": "class_session", "calendar.sync": "sync",
                 "calendar.setup": "setup", "calendar.pass": "pass"}


# --- account emails (a password reset link) -----------------------------------------------------------

def account_email_job(email: str) -> bool:
    """Send a password reset link to this address if it has an active account (RQ or a thread)."""
    app = _job_app()
    with app.app_context():
        _fresh_pool_after_fork()
        try:
            return team.send_password_reset(email)
        finally:
            db.session.remove()


def submit_account_email(app: Flask, email: str) -> None:
    """Send the reset email away from the request, so its answer takes the same time whether or not
    the address has an account: an RQ job with Redis, else a short-lived thread of this process.
    Only tests without a dispatcher (NOTIFICATIONS_DISPATCHER off) send it inline, to read it at once."""
    mode = background.dispatcher_mode(app)
    if mode == "rq":
        notification_queue(app).enqueue(account_email_job, email, job_timeout=120, result_ttl=0,
                                        failure_ttl=24 * 3600)
    elif app.testing and mode == "off":
        team.send_password_reset(email)
    else:
        threading.Thread(target=_send_account_email_in_thread, args=(app, email), name="account-email",
                         daemon=True).start()


def _send_account_email_in_thread(app: Flask, email: str) -> None:
    with app.app_context():
        try:
            team.send_password_reset(email)
        except Exception:  # noqa: BLE001 (the person can ask again; say why in the log)
            log.exception("the password reset email could not be sent")
        finally:
            db.session.remove()


class Runtime:
    """What background.submit/kick reach: routes each job to the runtime this configuration uses."""

    def submit(self, app: Flask, job: str, argument) -> None:
        if job == team.RESET_EMAIL_JOB:
            submit_account_email(app, argument)
            return
        kind = CALENDAR_JOBS.get(job)
        if kind is None:
            raise ValueError(f"unknown background job {job!r}")
        submit_calendar_job(app, kind, argument)

    def kick(self, app: Flask, name: str) -> None:
        if name != "notifications":
            raise ValueError(f"unknown dispatcher {name!r}")
        mode = background.dispatcher_mode(app)
        if mode == "rq":
            kick_rq(app)
        elif mode == "thread":
            dispatcher = app.extensions.get("notifications_dispatcher")
            if dispatcher is not None:
                dispatcher.wake.set()


def init_app(app: Flask) -> None:
    """Register the job runtime for this app, and start the in-process threads the embedded default
    needs (with the first request). The first app registered in a process is the one RQ jobs run in."""
    global _job_app_instance
    if _job_app_instance is None:
        _job_app_instance = app
    app.extensions[background.RUNTIME_KEY] = Runtime()
    if background.dispatcher_mode(app) == "thread":
        _start_dispatcher_with_first_request(app)
    if background.calendar_mode(app) == "thread" and GoogleSettings.from_config(app.config) is not None:
        @app.before_request
        def start_calendar_worker():
            if "calendar_worker" not in app.extensions:
                _calendar_worker(app)
