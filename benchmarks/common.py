"""Shared helpers for the benchmarks: a result table, JSON output, and a gunicorn server to measure."""
from __future__ import annotations

import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(samples_ms: list[float]) -> dict:
    return {
        "runs": len(samples_ms),
        "median_ms": round(statistics.median(samples_ms), 3),
        "p95_ms": round(percentile(samples_ms, 95), 3),
        "p99_ms": round(percentile(samples_ms, 99), 3),
    }


def print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print(f"\n{title}")
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, **payload}
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nwrote {path.relative_to(ROOT)}")
    return path


def flask(env: dict, *args: str) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


@contextmanager
def gunicorn(env: dict, port: int, workers: int = 1, threads: int = 1):
    """Serve wsgi:app with gunicorn on 127.0.0.1:port until the block ends."""
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(workers), "--threads", str(threads), "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def time_requests(port: int, requests: list, rounds: int, warmup: int = 20) -> dict[str, list[float]]:
    """Latency of each request in ms, interleaved round by round on one keep-alive connection, so
    that noise from the machine falls on every request alike.

    Each request is a path, or a (label, path, headers) triple (headers such as HX-Request for a
    fragment or a session cookie); results are keyed by path or label."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    plan = [(r, r, {}) if isinstance(r, str) else r for r in requests]
    samples: dict[str, list[float]] = {label: [] for label, _, _ in plan}
    for i in range(warmup + rounds):
        for label, path, headers in plan:
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - start) * 1000
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}")
            if i >= warmup:
                samples[label].append(elapsed)
    conn.close()
    return samples


@contextmanager
def demo_database(database_url: str | None = None, prefix: str = "atlas-bench-"):
    """A migrated database holding the Atlas Fitness demo; yields (env, backend).

    Without `database_url`: a fresh SQLite file (the embedded default). With a PostgreSQL server
    URL: a throwaway database on that server, dropped afterwards. `env` is the environment to run
    the app with (instance folder, database, rate limits off, no Redis)."""
    import tempfile
    import uuid

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    # A real key: processes given a non-local APP_URL (the notification worker's) refuse a weak one.
    env = dict(os.environ, ATLAS_INSTANCE_PATH=str(tmp), RATELIMIT_ENABLED="false",
               SECRET_KEY=secrets.token_urlsafe(48), FLASK_APP="wsgi")
    env.pop("REDIS_URL", None)
    admin = name = None
    if database_url:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        server = make_url(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        name = f"atlas_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        env["DATABASE_URL"] = server.set(database=name).render_as_string(hide_password=False)
        backend = "postgresql"
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.db'}"
        backend = "sqlite"
    try:
        flask(env, "db", "upgrade")
        flask(env, "seed-demo")
        yield env, backend
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
