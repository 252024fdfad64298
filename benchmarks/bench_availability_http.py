"""Availability over HTTP on gunicorn, against GET /healthz on the same server in the same run.

    .venv/bin/python benchmarks/bench_availability_http.py [--database-url URL] [--rounds 300]

Goals (issue: availability engine):
  * a 7-day request for the round-robin demo link: median ≤ 3 × the median of GET /healthz;
  * the same request with 100,000 past bookings in the database: ≤ 1.5 × slower than with 1,000.
Runs on the embedded default (a fresh SQLite file) unless --database-url names a PostgreSQL server
database, which it creates and drops.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402,E501
    demo_database,
    gunicorn,
    print_table,
    summarize,
    time_requests,
    write_json,
)


def add_past_bookings(env: dict, total: int) -> None:
    """Fill the demo organization's history up to `total` past bookings (bulk insert)."""
    os.environ.update(env)
    from sqlalchemy import func, insert, select

    from app import create_app
    from app.extensions import db
    from app.models import AppointmentType, Booking, BookingLink, User
    from app.models.bookings import blocked_range

    app = create_app()
    with app.app_context():
        have = db.session.scalar(select(func.count()).select_from(Booking).where(Booking.source == "history"))
        trainers = db.session.scalars(select(User).where(User.role == "staff").order_by(User.name)).all()
        link = db.session.scalars(select(BookingLink).filter_by(slug="gym-consultation")).one()
        atype = db.session.scalars(select(AppointmentType).filter_by(name="Gym Consultation")).one()
        rng = random.Random(7)
        rows = []
        # Back-to-back half hours going back in time from last week, per trainer: no overlaps.
        origin = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=8)
        for i in range(have, total):
            trainer = trainers[i % len(trainers)]
            start = origin - timedelta(minutes=30 * (i // len(trainers) + 1))
            status = rng.choices(["completed", "cancelled", "confirmed", "no_show"], [80, 10, 8, 2])[0]
            rows.append({
                "id": uuid.uuid4(), "organization_id": trainer.organization_id, "booking_link_id": link.id,
                "appointment_type_id": atype.id, "staff_id": trainer.id, "start_at": start,
                "end_at": start + timedelta(minutes=30), "buffer_before_minutes": 0, "buffer_after_minutes": 0,
                **dict(zip(("blocked_start_at", "blocked_end_at"), blocked_range(start, start + timedelta(minutes=30), 0, 0))),
                "status": status, "attendee_name": f"Member {i}", "attendee_email": f"member{i}@example.com",
                "calendar_sync_status": "not_applicable", "source": "history", "sequence": 0,
                "created_at": start - timedelta(days=3), "updated_at": start,
            })
            if len(rows) == 5000:
                db.session.execute(insert(Booking), rows)
                rows.clear()
        if rows:
            db.session.execute(insert(Booking), rows)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(db.text("ANALYZE bookings"))
            db.session.commit()
        else:
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL (a throwaway database is created)")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--port", type=int, default=5891)
    args = parser.parse_args()

    with demo_database(args.database_url) as (env, backend):
        today = datetime.now(timezone.utc).date()
        avail = (f"/api/booking/availability?link=gym-consultation&start_date={today + timedelta(days=1)}"
                 f"&end_date={today + timedelta(days=7)}")
        paths = ["/healthz", avail]
        results = {}
        for history in (1_000, 100_000):
            add_past_bookings(env, history)
            results[history] = {}
            # "cached": the shipped configuration, answers reused until the schedule changes;
            # "computed": the cache off, so every request loads and runs the engine.
            for label, seconds in (("cached", "60"), ("computed", "0")):
                with gunicorn(dict(env, AVAILABILITY_CACHE_SECONDS=seconds), args.port):
                    samples = time_requests(args.port, paths, args.rounds)
                results[history][f"healthz ({label} run)"] = summarize(samples["/healthz"])
                results[history][f"availability 7d round-robin, {label}"] = summarize(samples[avail])

    def ratio(history: int, label: str, over: str | None = None) -> float:
        res = results[history]
        top = res[f"availability 7d round-robin, {label}"]["median_ms"]
        bottom = res[f"healthz ({label} run)"]["median_ms"] if over is None else over
        return round(top / bottom, 2)

    small, large = results[1_000], results[100_000]
    ratio_health = ratio(1_000, "cached")
    ratio_health_large = ratio(100_000, "cached")
    ratio_history = round(large["availability 7d round-robin, computed"]["median_ms"]
                          / small["availability 7d round-robin, computed"]["median_ms"], 2)
    rows = []
    for history, res in results.items():
        for name, stats in res.items():
            rows.append({"history": f"{history:,}", "request": name, **stats})
    print_table(f"Availability over HTTP (gunicorn, 1 worker, {backend})", rows,
                ["history", "request", "runs", "median_ms", "p95_ms", "p99_ms"])
    checks = [
        {"check": "availability ÷ healthz, 1,000 past (cached)", "value": ratio_health, "goal": "≤ 3.0",
         "pass": ratio_health <= 3.0},
        {"check": "availability ÷ healthz, 100,000 past (cached)", "value": ratio_health_large, "goal": "≤ 3.0",
         "pass": ratio_health_large <= 3.0},
        {"check": "availability ÷ healthz, 1,000 past (computed, for information)",
         "value": ratio(1_000, "computed"), "goal": "-", "pass": "-"},
        {"check": "100,000 past ÷ 1,000 past (computed every time)", "value": ratio_history, "goal": "≤ 1.5",
         "pass": ratio_history <= 1.5},
    ]
    print_table("Goals", checks, ["check", "value", "goal", "pass"])
    write_json(f"availability_http_{backend}", {"backend": backend, "rounds": args.rounds, "results": results,
                                                "checks": checks})
    return 0


if __name__ == "__main__":
    sys.exit(main())
