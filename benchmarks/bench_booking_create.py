"""Booking creation throughput on PostgreSQL under gunicorn (2 workers), many clients, distinct slots.

    .venv/bin/python benchmarks/bench_booking_create.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--clients 8] [--bookings 1500] [--workers 2] [--threads 1]

Goal (issue: booking lifecycle): ≥ 200 bookings/s with p99 latency ≤ 100 ms, and no two active
bookings of one trainer overlapping afterwards (checked in SQL).
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import demo_database, gunicorn, print_table, summarize, write_json  # noqa: E402


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--bookings", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (1: sync workers)")
    parser.add_argument("--port", type=int, default=5893)
    args = parser.parse_args()

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    with demo_database(args.database_url) as (env, backend):
        with gunicorn(env, args.port, workers=args.workers, threads=args.threads):
            pairs = distinct_slots(args.port, 60)[: args.bookings]
            latencies: list[float] = []
            codes: dict[int, int] = {}
            lock = threading.Lock()
            queue = list(enumerate(pairs))

            def client() -> None:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
                while True:
                    with lock:
                        if not queue:
                            break
                        i, (staff_id, start) = queue.pop()
                    payload = json.dumps({"link_slug": "gym-consultation", "staff_id": staff_id, "start_time": start,
                                          "attendee_name": f"Member {i}", "attendee_email": f"m{i}@example.com"})
                    t0 = time.perf_counter()
                    conn.request("POST", "/api/booking/create", body=payload,
                                 headers={"Content-Type": "application/json"})
                    response = conn.getresponse()
                    response.read()
                    elapsed = (time.perf_counter() - t0) * 1000
                    with lock:
                        latencies.append(elapsed)
                        codes[response.status] = codes.get(response.status, 0) + 1
                conn.close()

            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - started
        engine = create_engine(make_url(env["DATABASE_URL"]))
        with engine.connect() as conn:
            overlaps = conn.execute(text(
                "SELECT count(*) FROM bookings a JOIN bookings b ON a.staff_id = b.staff_id AND a.id < b.id "
                "AND a.status IN ('pending','confirmed') AND b.status IN ('pending','confirmed') "
                "AND tstzrange(a.start_at, a.end_at) && tstzrange(b.start_at, b.end_at)")).scalar_one()
            made = conn.execute(text("SELECT count(*) FROM bookings WHERE source = 'api'")).scalar_one()
        engine.dispose()

    stats = summarize(latencies)
    throughput = round(codes.get(201, 0) / wall, 1)
    rows = [{"requests": len(latencies), "created (201)": codes.get(201, 0),
             "other": {k: v for k, v in codes.items() if k != 201} or "-", "seconds": round(wall, 2),
             "bookings/s": throughput, **stats}]
    print_table(f"Booking creation (PostgreSQL, gunicorn {args.workers} workers × {args.threads} threads, "
                f"{args.clients} clients)", rows,
                ["requests", "created (201)", "other", "seconds", "bookings/s", "median_ms", "p95_ms", "p99_ms"])
    checks = [
        {"check": "throughput", "value": throughput, "goal": "≥ 200 bookings/s", "pass": throughput >= 200},
        {"check": "p99 latency", "value": stats["p99_ms"], "goal": "≤ 100 ms", "pass": stats["p99_ms"] <= 100},
        {"check": "overlapping active bookings", "value": overlaps, "goal": "0", "pass": overlaps == 0},
        {"check": "rows created = 201 answers", "value": made, "goal": codes.get(201, 0),
         "pass": made == codes.get(201, 0)},
    ]
    print_table("Goals", checks, ["check", "value", "goal", "pass"])
    write_json("booking_create_postgresql", {"clients": args.clients, "workers": args.workers,
                                             "threads": args.threads, "codes": codes,
                                             "wall_seconds": wall, "latency": stats, "throughput": throughput,
                                             "checks": checks})
    return 0


if __name__ == "__main__":
    sys.exit(main())
