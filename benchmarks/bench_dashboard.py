"""The staff dashboard over HTTP on gunicorn, signed in as the demo owner.

    .venv/bin/python benchmarks/bench_dashboard.py [--database-url URL] [--rounds 200]

Goals (issue 5, staff dashboard), each a median over `rounds` requests:
  * the team week view (GET /dashboard/calendar, whole team) with 10 trainers and 500 bookings in the
    week: ≤ 100 ms;
  * the availability editor's preview refresh (the htmx request its scheduleChanged event sends):
    ≤ 100 ms.
GET /healthz on the same server is measured alongside, for scale. Runs on the embedded default (a
fresh SQLite file) unless --database-url names a PostgreSQL server, where a throwaway database is
created and dropped.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import sys
import uuid
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402,E501
    demo_database,
    gunicorn,
    print_table,
    summarize,
    time_requests,
    write_json,
)

TRAINERS = 10
BOOKINGS = 500
GOAL_MS = 100.0


def build_week(env: dict) -> dict:
    """Ten trainers working every day 07:00–21:00 and 500 bookings spread over this week (Monday to
    Sunday in the gym's zone), non-overlapping per trainer. Returns the ids the requests need."""
    os.environ.update(env)
    from sqlalchemy import delete, insert, select

    from app import create_app
    from app.extensions import db
    from app.models import (
        AppointmentType,
        AvailabilityRule,
        Booking,
        BookingAudit,
        BookingLink,
        Organization,
        User,
    )
    from app.models.bookings import blocked_range

    app = create_app()
    with app.app_context():
        org = db.session.scalars(select(Organization).filter_by(slug="atlas-fitness")).one()
        tz = ZoneInfo(org.timezone)
        # The demo's own few bookings would collide with the grid below: start from an empty week.
        db.session.execute(delete(BookingAudit))
        db.session.execute(delete(Booking))
        trainers = list(db.session.scalars(select(User).where(User.role == "staff").order_by(User.name)))
        for n in range(len(trainers), TRAINERS):
            user = User(organization_id=org.id, email=f"trainer{n}@atlas-fitness.example", name=f"Trainer {n:02d}",
                        role="staff", timezone=org.timezone)
            user.set_password("atlas-demo")
            db.session.add(user)
            trainers.append(user)
        db.session.flush()
        db.session.execute(delete(AvailabilityRule))
        db.session.execute(insert(AvailabilityRule), [
            {"id": uuid.uuid4(), "organization_id": org.id, "user_id": t.id, "day_of_week": day,
             "start_time": time(7), "end_time": time(21)} for t in trainers for day in range(7)])
        link = db.session.scalars(select(BookingLink).filter_by(slug="gym-consultation")).one()
        atype = db.session.scalars(select(AppointmentType).filter_by(name="Gym Consultation")).one()
        today = datetime.now(tz).date()
        monday = today - timedelta(days=today.weekday())
        rows = []
        for i in range(BOOKINGS):
            trainer = trainers[i % TRAINERS]
            k = i // TRAINERS  # 0..49 per trainer: 7 a day, hourly from 07:00
            start = datetime.combine(monday + timedelta(days=k % 7), time(7 + k // 7), tzinfo=tz).astimezone(timezone.utc)
            rows.append({
                "id": uuid.uuid4(), "organization_id": org.id, "booking_link_id": link.id,
                "appointment_type_id": atype.id, "staff_id": trainer.id, "start_at": start,
                "end_at": start + timedelta(minutes=30), "buffer_before_minutes": 0, "buffer_after_minutes": 0,
                **dict(zip(("blocked_start_at", "blocked_end_at"), blocked_range(start, start + timedelta(minutes=30), 0, 0))),
                "status": "confirmed", "attendee_name": f"Member {i}", "attendee_email": f"member{i}@example.com",
                "calendar_sync_status": "not_applicable", "source": "bench", "sequence": 0,
                "created_at": start - timedelta(days=3), "updated_at": start,
            })
        db.session.execute(insert(Booking), rows)
        db.session.commit()
        db.session.execute(db.text("ANALYZE bookings" if db.engine.dialect.name == "postgresql" else "ANALYZE"))
        db.session.commit()
        return {"trainer": str(trainers[0].id), "type": str(atype.id), "date": today.isoformat()}


def session_cookie(response) -> str:
    for header in response.msg.get_all("Set-Cookie") or []:
        if header.startswith("session="):
            return header.split(";", 1)[0]
    raise RuntimeError("no session cookie")


def sign_in(port: int, email: str, password: str) -> str:
    """The session cookie of a signed-in owner (the sign-in form, CSRF token and all)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/auth/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = session_cookie(response)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    body = urlencode({"csrf_token": token, "email": email, "password": password})
    conn.request("POST", "/auth/login", body=body, headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    if response.status != 303:
        raise RuntimeError(f"sign-in answered {response.status}")
    conn.close()
    return session_cookie(response)


def check_pages(port: int, week: str, preview: str, signed_in: dict, htmx: dict) -> None:
    """What is timed is what it claims to be: the week shows all 500 bookings of the 10 trainers, and
    the preview answers with the fragment alone."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", week, headers=signed_in)
    page = conn.getresponse().read().decode()
    shown, rows = page.count('class="chip chip--'), page.count('class="team-week__who"')
    if (shown, rows) != (BOOKINGS, TRAINERS):
        raise RuntimeError(f"team week shows {shown} bookings of {rows} trainers, not {BOOKINGS} of {TRAINERS}")
    conn.request("GET", preview, headers=htmx)
    fragment = conn.getresponse().read().decode()
    if "<html" in fragment or "data-slots" not in fragment:
        raise RuntimeError("the preview refresh did not answer with the preview fragment")
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL (a throwaway database is created)")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--port", type=int, default=5893)
    args = parser.parse_args()

    with demo_database(args.database_url) as (env, backend):
        ids = build_week(env)
        week = f"/dashboard/calendar?view=week&trainer=all&date={ids['date']}"
        preview = f"/dashboard/availability?trainer={ids['trainer']}&type={ids['type']}"
        with gunicorn(env, args.port):
            cookie = sign_in(args.port, "owner@atlas-fitness.example", "atlas-demo")
            signed_in = {"Cookie": cookie}
            htmx = {**signed_in, "HX-Request": "true", "HX-Target": "slot-preview"}
            check_pages(args.port, week, preview, signed_in, htmx)
            samples = time_requests(args.port, [
                "/healthz",
                ("team week, 10 trainers, 500 bookings", week, signed_in),
                ("availability preview refresh (htmx)", preview, htmx),
            ], args.rounds)

    results = {label: summarize(values) for label, values in samples.items()}
    rows = [{"request": label, **stats} for label, stats in results.items()]
    print_table(f"Dashboard over HTTP (gunicorn, 1 worker, {backend})", rows,
                ["request", "runs", "median_ms", "p95_ms", "p99_ms"])
    checks = [
        {"check": f"{label}: median", "value": results[label]["median_ms"], "goal": f"≤ {GOAL_MS:g} ms",
         "pass": results[label]["median_ms"] <= GOAL_MS}
        for label in ("team week, 10 trainers, 500 bookings", "availability preview refresh (htmx)")
    ]
    print_table("Goals", checks, ["check", "value", "goal", "pass"])
    write_json(f"dashboard_{backend}", {"backend": backend, "rounds": args.rounds, "trainers": TRAINERS,
                                        "bookings_in_week": BOOKINGS, "results": results, "checks": checks})
    return 0 if all(c["pass"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
