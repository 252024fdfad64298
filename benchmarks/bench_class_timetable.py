"""The public class timetable over HTTP on gunicorn, a week of 150 sessions, against GET /healthz on
the same server in the same run.

    .venv/bin/python benchmarks/bench_class_timetable.py [--database-url URL] [--rounds 300]

Goals (issue 18): for a week holding 150 sessions, the htmx week fragment (GET /classes/<slug>?week=…
with HX-Request/HX-Target: class-week) has a median ≤ 3 × /healthz's, and the full page ≤ 8 ×.
The demo gym's own timetable is topped up with one-off sessions (rows written directly) until the
measured week holds 150, some of them booked and waitlisted so the page shows every state. Runs on
the embedded default (a fresh SQLite file) unless --database-url names a PostgreSQL server.
"""
from __future__ import annotations

import argparse
import http.client
import sys
import uuid
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import demo_database, gunicorn, print_table, summarize, time_requests, write_json  # noqa: E402

SESSIONS = 150
FRAGMENT_HEADERS = {"HX-Request": "true", "HX-Target": "class-week"}


def fill_week(env: dict, monday: date) -> tuple[str, int]:
    """Top the demo gym's week up to SESSIONS sessions (ORM rows, as the timetable makes them);
    returns (org slug, sessions in the week)."""
    import os

    os.environ.update({k: env[k] for k in ("DATABASE_URL", "ATLAS_INSTANCE_PATH", "SECRET_KEY")})
    os.environ["NOTIFICATIONS_DISPATCHER"] = "off"
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import ClassSession, ClassType, Organization, User

    app = create_app()
    with app.app_context():
        org = db.session.scalars(select(Organization).order_by(Organization.created_at)).first()
        zone = ZoneInfo(org.timezone)
        week_start = datetime.combine(monday, time(0), zone).astimezone(timezone.utc)
        week_end = datetime.combine(monday + timedelta(days=7), time(0), zone).astimezone(timezone.utc)

        def count() -> int:
            return db.session.scalar(select(func.count()).select_from(ClassSession).where(
                ClassSession.organization_id == org.id, ClassSession.start_at >= week_start,
                ClassSession.start_at < week_end))

        types = db.session.scalars(select(ClassType).where(ClassType.organization_id == org.id)).all()
        staff = db.session.scalars(select(User).where(User.organization_id == org.id).order_by(User.email)).all()
        for i in range(max(SESSIONS - count(), 0)):
            ctype = types[i % len(types)]
            day = monday + timedelta(days=i % 7)
            start = datetime.combine(day, time(6 + (i // 7) % 15, 5 * (i % 12)), zone).astimezone(timezone.utc)
            db.session.add(ClassSession(
                id=uuid.uuid4(), organization_id=org.id, class_type_id=ctype.id, instructor_id=staff[i % len(staff)].id,
                occurrence_date=day, start_at=start, end_at=start + timedelta(minutes=ctype.duration_minutes),
                capacity=ctype.capacity, booked_count=(i * 7) % (ctype.capacity + 1), waitlist_seq=0,
                status="scheduled", detached=True, sequence=0))
        db.session.commit()
        slug, total = org.slug, count()
        db.engine.dispose()
    return slug, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL (a throwaway database is created)")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--port", type=int, default=5895)
    args = parser.parse_args()

    today = datetime.now(ZoneInfo("Europe/London")).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=1)  # next week: every session still ahead
    with demo_database(args.database_url) as (env, backend):
        slug, total = fill_week(env, monday)
        page = f"/classes/{slug}?week={monday.isoformat()}"
        requests = [("healthz", "/healthz", {}), ("week fragment (htmx)", page, FRAGMENT_HEADERS),
                    ("full timetable page", page, {})]
        with gunicorn(env, args.port):
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            conn.request("GET", page, headers=FRAGMENT_HEADERS)
            response = conn.getresponse()
            body = response.read().decode()
            conn.close()
            shown = body.count('id="session-')
            if response.status != 200 or "<html" in body or shown != total:
                raise RuntimeError(f"the fragment answered {response.status} with {shown} of {total} sessions")
            samples = time_requests(args.port, requests, args.rounds)
    results = {label: summarize(values) for label, values in samples.items()}

    def ratio(label: str) -> float:
        return round(results[label]["median_ms"] / results["healthz"]["median_ms"], 2)

    print_table(f"Public class timetable over HTTP (gunicorn, 1 worker, {backend}, {total} sessions in the week "
                f"of {monday})", [{"request": k, **v} for k, v in results.items()],
                ["request", "runs", "median_ms", "p95_ms", "p99_ms"])
    checks = [
        {"check": "week fragment ÷ healthz", "value": ratio("week fragment (htmx)"), "goal": "≤ 3.0",
         "pass": ratio("week fragment (htmx)") <= 3.0},
        {"check": "full page ÷ healthz", "value": ratio("full timetable page"), "goal": "≤ 8.0",
         "pass": ratio("full timetable page") <= 8.0},
    ]
    print_table("Goals", checks, ["check", "value", "goal", "pass"])
    write_json(f"class_timetable_{backend}", {"backend": backend, "rounds": args.rounds, "week": monday.isoformat(),
                                              "sessions": total, "path": page, "results": results, "checks": checks})
    return 0 if all(c["pass"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
