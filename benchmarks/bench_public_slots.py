"""The public page's day-slots fragment over HTTP on gunicorn, against GET /healthz on the same
server in the same run.

    .venv/bin/python benchmarks/bench_public_slots.py [--database-url URL] [--rounds 300]

Goal (issue 4, public pages): the htmx request a visitor makes on every day click —
GET /book/<slug>?date=… with HX-Request/HX-Target: booking-step — has a median ≤ 3 × the median
of GET /healthz. Measured on the demo's round-robin link (three trainers). Runs on the embedded
default (a fresh SQLite file) unless --database-url names a PostgreSQL server, where a throwaway
database is created and dropped. The full page and the fragment with the cache switched off are
measured too, for information.
"""
from __future__ import annotations

import argparse
import http.client
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
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

FRAGMENT_HEADERS = {"HX-Request": "true", "HX-Target": "booking-step"}


def fetch(port: int, path: str, headers: dict) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")
    return body


def next_weekday(after: date) -> date:
    day = after + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL (a throwaway database is created)")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--port", type=int, default=5893)
    args = parser.parse_args()

    day = next_weekday(datetime.now(ZoneInfo("Europe/London")).date())
    fragment = f"/book/gym-consultation?date={day.isoformat()}"
    requests = [
        ("healthz", "/healthz", {}),
        ("day slots fragment (htmx)", fragment, FRAGMENT_HEADERS),
        ("full booking page, same day", fragment, {}),
    ]
    results: dict[str, dict] = {}
    with demo_database(args.database_url) as (env, backend):
        # "cached": the shipped configuration; "computed": the availability cache off.
        for label, seconds in (("cached", "60"), ("computed", "0")):
            with gunicorn(dict(env, AVAILABILITY_CACHE_SECONDS=seconds), args.port):
                body = fetch(args.port, fragment, FRAGMENT_HEADERS)
                if "<html" in body or 'class="slot"' not in body:
                    raise RuntimeError("the fragment request did not answer with the day's slots only")
                samples = time_requests(args.port, requests, args.rounds)
            for request_label, values in samples.items():
                results[f"{request_label} ({label})"] = summarize(values)
            results[f"fragment bytes ({label})"] = {"runs": 1, "median_ms": "-", "p95_ms": "-", "p99_ms": "-",
                                                    "bytes": len(body.encode())}

    def ratio(label: str, run: str) -> float:
        return round(results[f"{label} ({run})"]["median_ms"] / results[f"healthz ({run})"]["median_ms"], 2)

    rows = [{"request": k, **v} for k, v in results.items() if "bytes" not in v]
    print_table(f"Public booking page over HTTP (gunicorn, 1 worker, {backend}, round-robin demo link, {day})",
                rows, ["request", "runs", "median_ms", "p95_ms", "p99_ms"])
    fragment_ratio = ratio("day slots fragment (htmx)", "cached")
    checks = [
        {"check": "day slots fragment ÷ healthz (cached)", "value": fragment_ratio, "goal": "≤ 3.0",
         "pass": fragment_ratio <= 3.0},
        {"check": "day slots fragment ÷ healthz (computed, for information)",
         "value": ratio("day slots fragment (htmx)", "computed"), "goal": "-", "pass": "-"},
        {"check": "full page ÷ healthz (cached, for information)",
         "value": ratio("full booking page, same day", "cached"), "goal": "-", "pass": "-"},
    ]
    print_table("Goals", checks, ["check", "value", "goal", "pass"])
    write_json(f"public_slots_{backend}", {"backend": backend, "rounds": args.rounds, "day": day.isoformat(),
                                           "path": fragment, "headers": FRAGMENT_HEADERS, "results": results,
                                           "checks": checks})
    return 0 if fragment_ratio <= 3.0 else 1


if __name__ == "__main__":
    sys.exit(main())
