"""Booking creation throughput on PostgreSQL under gunicorn (2 workers), many clients, distinct slots.

    .venv/bin/python benchmarks/bench_booking_create.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--clients 8] [--bookings 1500] [--workers 2] [--threads 1]

Goal (issue: booking lifecycle): ≥ 200 bookings/s with p99 latency ≤ 100 ms, and no two active
bookings of one trainer overlapping afterwards (checked in SQL). The goal is judged with delivery
left to the workers (NOTIFICATIONS_DISPATCHER=off: on this 2-core machine a sending process would
share the cores being measured; delivery has its own benchmark, bench_notifications.py). The same
run is then repeated with the embedded default's in-process dispatcher sending while it books, and
the SQL statements one booking costs are counted on the API path.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    demo_database,
    gunicorn,
    print_table,
    summarize,
    write_json,
)

DAYS = 60  # how far ahead the free slots are collected (the demo's booking window)


def distinct_slots(port: int, days: int) -> list[tuple[str, str]]:
    """(staff_id, start) pairs: every trainer's free consultation slots over the coming weeks."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    staff_ids = set()
    pairs = []
    start = date.today() + timedelta(days=1)
    for chunk in range(0, days, 31):
        first, last = start + timedelta(days=chunk), start + timedelta(days=min(chunk + 30, days - 1))
        conn.request("GET", f"/api/booking/availability?link=gym-consultation&start_date={first}&end_date={last}")
        slots = json.loads(conn.getresponse().read())["slots"]
        staff_ids.update(s["staff_id"] for s in slots)
    for staff_id in sorted(staff_ids):
        for chunk in range(0, days, 31):
            first, last = start + timedelta(days=chunk), start + timedelta(days=min(chunk + 30, days - 1))
            conn.request("GET", f"/api/booking/availability?link=gym-consultation&start_date={first}"
                                f"&end_date={last}&staff_id={staff_id}")
            pairs += [(staff_id, s["start"]) for s in json.loads(conn.getresponse().read())["slots"]]
    conn.close()
    return pairs


def payload(i: int, staff_id: str, start: str) -> dict:
    return {"link_slug": "gym-consultation", "staff_id": staff_id, "start_time": start,
            "attendee_name": f"Member {i}", "attendee_email": f"m{i}@example.com"}


def book_all(port: int, pairs: list[tuple[int, tuple[str, str]]], clients: int) -> tuple[list[float], dict, float]:
    """POST every pair from `clients` keep-alive connections; (latencies ms, status counts, wall seconds)."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    queue = list(pairs)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                i, (staff_id, start) = queue.pop()
            body = json.dumps(payload(i, staff_id, start))
            t0 = time.perf_counter()
            conn.request("POST", "/api/booking/create", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(elapsed)
                codes[response.status] = codes.get(response.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, codes, time.perf_counter() - started


def statements_per_booking(env: dict, pairs: list[tuple[int, tuple[str, str]]]) -> tuple[float, int]:
    """The SQL statements one POST /api/booking/create runs (in this process, on the same database),
    and how many bookings that made."""
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "ATLAS_INSTANCE_PATH", "SECRET_KEY", "RATELIMIT_ENABLED")})
    os.environ["NOTIFICATIONS_DISPATCHER"] = "off"
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db

    app = create_app()
    with app.app_context():
        engine = db.engine
    counted: list[int] = []
    created = 0
    current = [0]

    def count(*_args) -> None:
        current[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    client = app.test_client()
    for n, (i, (staff_id, start)) in enumerate(pairs):
        current[0] = 0
        response = client.post("/api/booking/create", json=payload(i, staff_id, start))
        created += response.status_code == 201
        if response.status_code == 201 and n > 0:  # the first one fills this process's caches
            counted.append(current[0])
    event.remove(engine, "before_cursor_execute", count)
    engine.dispose()
    return (round(sum(counted) / len(counted), 2) if counted else float("nan")), created


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--bookings", type=int, default=1500, help="bookings per run, at most (two runs)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (1: sync workers)")
    parser.add_argument("--port", type=int, default=5893)
    args = parser.parse_args()

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    runs = []
    overlaps = made = answered = 0
    statements = float("nan")
    # Each run on a database of its own, freshly seeded, so both book the same free slots.
    for label, dispatcher in (("off (delivery left to the worker)", "off"), ("thread (in-process dispatcher on)", "thread")):
        with demo_database(args.database_url) as (env, backend):
            env = dict(env, NOTIFICATIONS_DISPATCHER=dispatcher)
            with gunicorn(env, args.port, workers=args.workers, threads=args.threads):
                pairs = list(enumerate(distinct_slots(args.port, DAYS)))
                spare, pairs = pairs[:20], pairs[20:args.bookings + 20]
                latencies, codes, wall = book_all(args.port, pairs, args.clients)
            runs.append({"dispatcher": label, "requests": len(latencies), "created (201)": codes.get(201, 0),
                         "other": {k: v for k, v in codes.items() if k != 201} or "-", "seconds": round(wall, 2),
                         "bookings/s": round(codes.get(201, 0) / wall, 1), **summarize(latencies)})
            created_here = 0
            if dispatcher == "off":
                statements, created_here = statements_per_booking(env, spare)
            engine = create_engine(make_url(env["DATABASE_URL"]))
            with engine.connect() as conn:
                overlaps += conn.execute(text(
                    "SELECT count(*) FROM bookings a JOIN bookings b ON a.staff_id = b.staff_id AND a.id < b.id "
                    "AND a.status IN ('pending','confirmed') AND b.status IN ('pending','confirmed') "
                    "AND tstzrange(a.start_at, a.end_at) && tstzrange(b.start_at, b.end_at)")).scalar_one()
                made += conn.execute(text("SELECT count(*) FROM bookings WHERE source = 'api'")).scalar_one()
            engine.dispose()
            answered += codes.get(201, 0) + created_here

    print_table(f"Booking creation (PostgreSQL, gunicorn {args.workers} workers × {args.threads} threads, "
                f"{args.clients} clients; {statements} SQL statements per booking)", runs,
                ["dispatcher", "requests", "created (201)", "other", "seconds", "bookings/s", "median_ms", "p95_ms",
                 "p99_ms"])
    judged = runs[0]
    checks = [
        {"check": "throughput", "value": judged["bookings/s"], "goal": "≥ 200 bookings/s",
         "pass": judged["bookings/s"] >= 200},
        {"check": "p99 latency", "value": judged["p99_ms"], "goal": "≤ 100 ms", "pass": judged["p99_ms"] <= 100},
        {"check": "overlapping active bookings", "value": overlaps, "goal": "0", "pass": overlaps == 0},
        {"check": "rows created = 201 answers", "value": made, "goal": answered, "pass": made == answered},
    ]
    print_table("Goals (judged on the first run)", checks, ["check", "value", "goal", "pass"])
    write_json("booking_create_postgresql", {"clients": args.clients, "workers": args.workers,
                                             "threads": args.threads, "runs": runs,
                                             "statements_per_booking": statements, "checks": checks})
    return 0


if __name__ == "__main__":
    sys.exit(main())
