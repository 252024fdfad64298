"""Background worker: `python worker.py` runs an RQ worker (with its scheduler) inside an app context,
a ticker that queues the notification dispatcher every NOTIFICATIONS_DISPATCH_SECONDS, one that
queues the job marking ended bookings completed every BOOKINGS_COMPLETE_SECONDS, the group classes'
waitlist promotion pass every few minutes and the timetable extension daily (and at start) and, with
Google Calendar configured, one that queues the calendar pass (write-back retries, channel
renewals, backstop syncs) every 30 seconds.

Needs REDIS_URL. On the embedded default (no Redis) nothing needs this process: the web process
empties the notification outbox itself (see app/tasks.py). Run as many workers as you like: rows
are claimed in the database, so two workers never send the same message.

Options: --burst (work until the queues are empty, then exit), --queues a,b (default: the
notification queue, "calendar", the bookings queue and "default").
"""
from __future__ import annotations

import argparse
import logging
import sys

from redis import Redis
from rq import Queue, Worker

from app import create_app
from app.jobs import (
    CALENDAR_TICK_SECONDS,
    TIMETABLE_EXTEND_SECONDS,
    WAITLIST_PROMOTE_SECONDS,
    Ticker,
    kick_bookings_rq,
    kick_calendar_rq,
    kick_timetables_rq,
    kick_waitlists_rq,
    warm_up,
)

DEFAULT_QUEUES = ("default",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--queues", default="", help="comma-separated queue names")
    args = parser.parse_args(argv)

    app = create_app()
    redis_url = app.config.get("REDIS_URL")
    if not redis_url:
        print("REDIS_URL is not set: the worker needs Redis (e.g. REDIS_URL=redis://127.0.0.1:6379/0).",
              file=sys.stderr)
        return 2
    names = [q for q in args.queues.split(",") if q] or [app.config["NOTIFICATIONS_QUEUE"],
                                                         app.config.get("CALENDAR_QUEUE", "calendar"),
                                                         app.config["BOOKINGS_QUEUE"], *DEFAULT_QUEUES]
    names = list(dict.fromkeys(names))
    warm_up(app)
    connection = Redis.from_url(redis_url)
    logging.getLogger(__name__).info("worker listening on %s", ", ".join(names))
    with app.app_context():
        tickers = []
        if not args.burst:
            tickers.append(Ticker(app, float(app.config["NOTIFICATIONS_DISPATCH_SECONDS"])))
            if app.config["BOOKINGS_COMPLETE_SECONDS"] > 0:
                tickers.append(Ticker(app, float(app.config["BOOKINGS_COMPLETE_SECONDS"]), kick=kick_bookings_rq,
                                      name="bookings-ticker"))
            tickers.append(Ticker(app, WAITLIST_PROMOTE_SECONDS, kick=kick_waitlists_rq, name="waitlists-ticker"))
            # Its first tick is at start: a worker starting extends the timetables (once across workers).
            tickers.append(Ticker(app, TIMETABLE_EXTEND_SECONDS, kick=kick_timetables_rq, name="timetables-ticker"))
            if app.config.get("GOOGLE_CLIENT_ID"):
                tickers.append(Ticker(app, CALENDAR_TICK_SECONDS, kick=kick_calendar_rq, name="calendar-ticker"))
            for ticker in tickers:
                ticker.start()
        worker = Worker([Queue(name, connection=connection) for name in names], connection=connection)
        try:
            worker.work(with_scheduler=True, burst=args.burst)
        finally:
            for ticker in tickers:
                ticker.stopped.set()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
