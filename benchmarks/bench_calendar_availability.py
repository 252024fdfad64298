"""Availability for a trainer with two connected Google calendars (fresh busy cache) against a
trainer with none, over HTTP on gunicorn, counting the calls that reach Google.

    .venv/bin/python benchmarks/bench_calendar_availability.py [--database-url URL] [--rounds 300]

Goal (issue 7): GET /api/booking/availability for the connected trainer has a median no more than
1.2 × the median for the trainer with no calendar, and the measured requests make zero calls to
Google (counted at the stand-in, which the portal reaches through the real client libraries).

Set-up: the demo database; a local Google stand-in (tests/services/calendar/google_standin.py) holding Sam's
account with two calendars and 120 busy events over the next 90 days; Sam connects through the
real OAuth flow and marks both calendars as blocking; Jordan (same weekly hours) connects nothing.
Both are asked the same week on the same booking page, interleaved round by round, with the
in-process answer cache off (every request computes) and then on (the shipped setting).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "services" / "calendar"))

from benchmarks.common import (  # noqa: E402,E501
    demo_database,
    gunicorn,
    print_table,
    summarize,
    time_requests,
    write_json,
)

GOAL_RATIO = 1.2
LONDON = ZoneInfo("Europe/London")
SECONDARY = "sam-classes@group.calendar.google.com"


def next_monday(after: date) -> date:
    day = after + timedelta(days=7)
    while day.weekday() != 0:
        day += timedelta(days=1)
    return day


def seed_google(standin, email: str) -> int:
    """Sam's account: a primary and a class calendar, 60 timed events on each over 90 days."""
    standin.add_account(email, calendars=[
        {"id": email, "summary": "Sam", "timeZone": "Europe/London", "primary": True},
        {"id": SECONDARY, "summary": "Classes", "timeZone": "Europe/London"},
    ])
    rng = random.Random(7)
    today = datetime.now(LONDON).date()
    count = 0
    for calendar_id in (email, SECONDARY):
        for _ in range(60):
            day = today + timedelta(days=rng.randrange(1, 90))
            start = datetime.combine(day, time(rng.randrange(7, 19), rng.choice((0, 30))), tzinfo=LONDON)
            standin.user_insert_event(calendar_id, start, start + timedelta(minutes=rng.choice((30, 60, 90))),
                                      summary="Busy")
            count += 1
    return count


def connect_sam(env: dict, standin) -> dict:
    """Run the real connect flow and the setup job in-process; returns ids for the requests."""
    import requests

    os.environ.update(env)
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import Calendar, User
    from app.services import bookings
    from app.services import calendar as calendar_sync

    app = create_app({"CALENDAR_JOBS": "inline"})
    with app.app_context():
        sam = db.session.scalars(select(User).where(User.email == "sam@atlas-fitness.example")).one()
        jordan = db.session.scalars(select(User).where(User.email == "jordan@atlas-fitness.example")).one()
        redirect_uri = f"{app.config['APP_URL']}/api/calendar/google/callback"
        consent = requests.get(calendar_sync.start_connect(sam, redirect_uri), allow_redirects=False, timeout=10)
        answer = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["Location"]).query).items()}
        connection = calendar_sync.finish_connect(sam, state=answer["state"], code=answer["code"], error=None,
                                                  redirect_uri=redirect_uri)
        calendars = db.session.scalars(select(Calendar).where(Calendar.connection_id == connection.id)).all()
        primary = next(c for c in calendars if c.is_primary)
        calendar_sync.update_selection(connection.id, sam, conflict_ids=[str(c.id) for c in calendars],
                                       destination_id=str(primary.id))
        bookings.setup_connection(connection.id)
        db.session.expire_all()
        calendars = db.session.scalars(select(Calendar).where(Calendar.connection_id == connection.id)).all()
        busy = sum(len(c.busy_cache or []) for c in calendars)
        if len(calendars) != 2 or not all(c.check_for_conflicts and c.busy_refreshed_at for c in calendars):
            raise RuntimeError("Sam's two calendars were not connected with a fresh busy cache")
        return {"sam": str(sam.id), "jordan": str(jordan.id), "busy_intervals": busy}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL (a throwaway database is created)")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--port", type=int, default=5894)
    args = parser.parse_args()

    from google_standin import GoogleStandIn

    monday = next_monday(datetime.now(LONDON).date())
    week = f"start_date={monday.isoformat()}&end_date={(monday + timedelta(days=6)).isoformat()}"
    results: dict[str, dict] = {}
    calls: dict[str, int] = {}
    slots: dict[str, int] = {}
    with GoogleStandIn() as standin, demo_database(args.database_url) as (env, backend):
        env = dict(env, GOOGLE_CLIENT_ID=standin.client_id, GOOGLE_CLIENT_SECRET=standin.client_secret,
                   GOOGLE_API_ENDPOINT=standin.api_endpoint, GOOGLE_OAUTH_AUTH_URI=standin.auth_uri,
                   GOOGLE_OAUTH_TOKEN_URI=standin.token_uri, GOOGLE_OAUTH_REVOKE_URI=standin.revoke_uri,
                   GOOGLE_WEBHOOK_URL=f"http://127.0.0.1:{args.port}/api/calendar/webhooks/google")
        events = seed_google(standin, "sam@atlas-fitness.example")
        ids = connect_sam(env, standin)
        base = f"/api/booking/availability?link=gym-consultation&{week}"
        requests = [
            ("trainer with no calendar", f"{base}&staff_id={ids['jordan']}", {}),
            ("trainer with 2 Google calendars", f"{base}&staff_id={ids['sam']}", {}),
        ]
        for run, seconds in (("computed", "0"), ("cached", "60")):
            with gunicorn(dict(env, AVAILABILITY_CACHE_SECONDS=seconds), args.port):
                import http.client

                for label, path, _ in requests:
                    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
                    conn.request("GET", path)
                    body = json.loads(conn.getresponse().read())
                    conn.close()
                    slots[label] = len(body["slots"])
                standin.reset_requests()
                samples = time_requests(args.port, requests, args.rounds)
                calls[run] = standin.count()
            for label, values in samples.items():
                results[f"{label} ({run})"] = summarize(values)

    def ratio(run: str) -> float:
        return round(results[f"trainer with 2 Google calendars ({run})"]["median_ms"]
                     / results[f"trainer with no calendar ({run})"]["median_ms"], 3)

    rows = [{"request": k, **v} for k, v in results.items()]
    print_table(f"Availability with Google Calendar busy times (gunicorn, 1 worker, {backend}, one week, {monday})",
                rows, ["request", "runs", "median_ms", "p95_ms", "p99_ms"])
    verdict = []
    for run in ("computed", "cached"):
        ok = ratio(run) <= GOAL_RATIO and calls[run] == 0
        verdict.append(ok)
        print(f"{run:>8}: connected / none = {ratio(run)} (goal ≤ {GOAL_RATIO}); calls to Google during "
              f"{args.rounds * 2 + 40} requests: {calls[run]} (goal 0) → {'PASS' if ok else 'FAIL'}")
    print(f"busy events in Google: {events}; cached busy intervals: {ids['busy_intervals']}; "
          f"slots offered this week: {slots}")
    write_json("calendar_availability", {
        "backend": backend, "week_of": monday.isoformat(), "rounds": args.rounds, "results": results,
        "ratios": {run: ratio(run) for run in ("computed", "cached")}, "google_calls": calls,
        "goal_ratio": GOAL_RATIO, "busy_events": events, "busy_intervals": ids["busy_intervals"], "slots": slots,
        "pass": all(verdict),
    })
    return 0 if all(verdict) else 1


if __name__ == "__main__":
    sys.exit(main())
