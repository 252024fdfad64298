"""1,000 due reminders delivered to a local SMTP server (aiosmtpd) by one RQ worker (`python worker.py`).

Reports messages per second (goal: at least 100/s) and checks that every reminder arrived exactly
once. The clock starts when the 1,000 rows become due (the worker is already up and idle) and stops
when the SMTP server has accepted the last message.

    .venv/bin/python -m benchmarks.bench_notifications                 # SQLite
    .venv/bin/python -m benchmarks.bench_notifications --db postgresql  # PostgreSQL at 127.0.0.1:5432

Needs Redis at 127.0.0.1:6379 (a free database between 3 and 14 is used and emptied).
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.common import (
    PYTHON,
    ROOT,
    demo_database,
    print_table,
    summarize,
    write_json,
)

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.MULTILINE | re.IGNORECASE)


class Counting:
    """aiosmtpd handler: when each message arrived, to whom, with which Message-ID (no parsing beyond that)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        found = MESSAGE_ID.search(envelope.content)
        with self.lock:
            self.arrivals.append((time.perf_counter(), ",".join(envelope.rcpt_tos),
                                  found.group(1).decode() if found else "?"))
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def claim_redis_db() -> str:
    import redis

    owner = f"bench-{os.getpid()}-{secrets.token_hex(3)}"
    for number in range(3, 15):
        url = f"redis://127.0.0.1:6379/{number}"
        connection = redis.Redis.from_url(url)
        if connection.set("atlas-test-run", owner, nx=True, ex=3600):
            if connection.dbsize() == 1:
                return url
            connection.delete("atlas-test-run")
    raise SystemExit("no free Redis database between 3 and 14")


def seed(count: int) -> None:
    """1,000 bookings with one reminder each (not yet due) for a trainer of the demo gym."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Booking, BookingLink, Notification

    link = db.session.scalars(select(BookingLink).where(BookingLink.type == "individual")
                              .order_by(BookingLink.slug)).first()
    trainer, atype = link.staff[0], link.appointment_types[0]
    first = datetime(2031, 1, 6, 9, 0, tzinfo=timezone.utc)  # years after the demo's own bookings
    later = datetime.now(timezone.utc) + timedelta(days=365)
    for i in range(count):
        start = first + timedelta(hours=i)  # one trainer, no overlaps
        booking = Booking(id=uuid.uuid4(), organization_id=link.organization_id, booking_link_id=link.id,
                          appointment_type_id=atype.id, staff_id=trainer.id, start_at=start,
                          end_at=start + timedelta(minutes=atype.duration_minutes), status="confirmed",
                          attendee_name=f"Member {i}", attendee_email=f"member{i}@example.com",
                          attendee_timezone="Europe/London", sequence=0)
        db.session.add_all([booking, Notification(
            id=uuid.uuid4(), organization_id=link.organization_id, booking_id=booking.id, channel="email",
            template="booking_reminder", recipient=booking.attendee_email, send_at=later, status="pending",
            attempts=0, max_attempts=5, idempotency_key=f"bench-{i}", booking_sequence=0,
            context={"offset_minutes": 120})])
    db.session.commit()


def run(backend: str, count: int, batch: int) -> dict:
    from aiosmtpd.controller import Controller
    from redis import Redis
    from rq import Worker
    from sqlalchemy import func, select, update

    from app import create_app
    from app.extensions import db
    from app.models import Notification

    with demo_database(PG_SERVER if backend == "postgresql" else None, prefix="atlas-bench-notify-") as (env, _):
        redis_url = claim_redis_db()
        handler = Counting()
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO
        smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
        smtp.start()
        app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "SECRET_KEY": env["SECRET_KEY"],
                          "REDIS_URL": None, "RATELIMIT_ENABLED": False})
        worker = None
        try:
            with app.app_context():
                seed(count)
            folder = Path(env["ATLAS_INSTANCE_PATH"])
            worker_env = dict(env, REDIS_URL=redis_url, APP_URL="http://bench.example", SMTP_HOST="127.0.0.1",
                              SMTP_PORT=str(smtp.port), SMTP_STARTTLS="0", SMTP_SSL="0",
                              SMTP_FROM="Atlas Fitness <hello@bench.example>",
                              NOTIFICATIONS_QUEUE=f"atlas-bench-{secrets.token_hex(4)}",
                              NOTIFICATIONS_BATCH_SIZE=str(batch), NOTIFICATIONS_DISPATCH_SECONDS="0.2")
            log = open(folder / "worker.log", "wb")
            worker = subprocess.Popen([PYTHON, str(ROOT / "worker.py")], cwd=ROOT, env=worker_env, stdout=log,
                                      stderr=subprocess.STDOUT)
            connection = Redis.from_url(redis_url)
            deadline = time.time() + 30
            while not Worker.all(connection=connection):
                if time.time() > deadline or worker.poll() is not None:
                    raise RuntimeError(f"the worker did not start; see {folder / 'worker.log'}")
                time.sleep(0.1)
            time.sleep(0.5)  # let its first (empty) dispatch pass

            with app.app_context():
                started = time.perf_counter()
                db.session.execute(update(Notification).where(Notification.idempotency_key.like("bench-%"))
                                   .values(send_at=datetime.now(timezone.utc)))
                db.session.commit()
            deadline = time.time() + 300
            while len(handler.arrivals) < count and time.time() < deadline:
                time.sleep(0.02)
            with handler.lock:
                arrivals = list(handler.arrivals)
            finished = max(t for t, _, _ in arrivals) if arrivals else time.perf_counter()
            time.sleep(1.0)  # anything arriving late would be a duplicate: give it the chance to show
            with handler.lock:
                arrivals = list(handler.arrivals)
            with app.app_context():
                statuses = dict(db.session.execute(
                    select(Notification.status, func.count()).where(Notification.idempotency_key.like("bench-%"))
                    .group_by(Notification.status)).all())
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
            smtp.stop()
            with app.app_context():
                db.engine.dispose()
            Redis.from_url(redis_url).flushdb()

    by_recipient = Counter(r for _, r, _ in arrivals)
    by_message_id = Counter(m for _, _, m in arrivals)
    expected = {f"member{i}@example.com" for i in range(count)}
    exactly_once = (set(by_recipient) == expected and set(by_recipient.values()) == {1}
                    and len(by_message_id) == count and statuses.get("sent") == count)
    elapsed = finished - started
    latencies = [(t - started) * 1000 for t, _, _ in arrivals]
    return {
        "backend": backend, "messages": count, "batch": batch, "arrived": len(arrivals),
        "distinct_recipients": len(by_recipient), "duplicates": sum(v - 1 for v in by_recipient.values()),
        "missing": len(expected - set(by_recipient)), "db_statuses": statuses,
        "seconds": round(elapsed, 3), "messages_per_second": round(count / elapsed, 1),
        "exactly_once": exactly_once, "arrival_after_due": summarize(latencies) if latencies else {},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50, help="rows per RQ job (NOTIFICATIONS_BATCH_SIZE)")
    args = parser.parse_args(argv)
    os.environ.pop("REDIS_URL", None)
    result = run(args.db, args.count, args.batch)
    print_table(f"{args.count} due reminders → aiosmtpd, one worker ({args.db})", [{
        "messages": result["messages"], "arrived": result["arrived"], "duplicates": result["duplicates"],
        "missing": result["missing"], "seconds": result["seconds"], "msg/s": result["messages_per_second"],
        "exactly once": "yes" if result["exactly_once"] else "NO",
        "p50 ms after due": result["arrival_after_due"].get("median_ms"),
        "p95 ms after due": result["arrival_after_due"].get("p95_ms"),
    }], ["messages", "arrived", "duplicates", "missing", "seconds", "msg/s", "exactly once", "p50 ms after due",
         "p95 ms after due"])
    goal = result["messages_per_second"] >= 100
    print(f"\ngoal ≥ 100 messages/s: {'met' if goal else 'NOT met'}; database: {result['db_statuses']}")
    write_json(f"notifications_{args.db}", {"goal_messages_per_second": 100, **result})
    return 0 if result["exactly_once"] and goal else 1


if __name__ == "__main__":
    sys.exit(main())
