"""Redis and RQ: the connection every process shares, and what the queues and workers look like.

The job runtime (app/jobs.py) enqueues through these; the health endpoint and the self-test read
the counts. Nothing here touches the database: Redis only carries hints, the database the truth.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import timezone
from urllib.parse import urlsplit

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from app.integrations.health import (
    DEGRADED,
    NOT_CONFIGURED,
    OK,
    PROBE_TIMEOUT,
    Probe,
    describe,
    ms_since,
)
from app.timeformat import iso_utc

MAX_WORKERS_LISTED = 20


def redis_connection(app: Flask) -> Redis:
    """One connection pool per app and process, with short timeouts: a booking request that nudges
    a dispatcher must never hang on an unreachable Redis."""
    cached = app.extensions.get("atlas.redis")
    if cached is not None and cached[0] == os.getpid() and cached[1] == app.config["REDIS_URL"]:
        return cached[2]
    connection = Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=5)
    app.extensions["atlas.redis"] = (os.getpid(), app.config["REDIS_URL"], connection)
    return connection


def queue(app: Flask, name: str, connection: Redis | None = None) -> Queue:
    return Queue(name, connection=connection or redis_connection(app))


def queue_counts(name: str, connection: Redis) -> dict:
    """Jobs waiting, running, failed and scheduled on one queue."""
    found = Queue(name, connection=connection)
    return {"queued": found.count, "started": StartedJobRegistry(queue=found).count,
            "failed": FailedJobRegistry(queue=found).count, "scheduled": ScheduledJobRegistry(queue=found).count}


def workers(connection: Redis, queue_names: list[str]) -> dict:
    """The registered RQ workers, and how many serve each of `queue_names`."""
    found = Worker.all(connection=connection)
    serving = {name: 0 for name in queue_names}
    listed = []
    for worker in sorted(found, key=lambda w: w.name):
        names = worker.queue_names()
        for name in names:
            if name in serving:
                serving[name] += 1
        heartbeat = worker.last_heartbeat
        listed.append({"name": worker.name, "state": str(worker.get_state()), "queues": names,
                       "last_heartbeat": iso_utc(heartbeat if heartbeat.tzinfo else heartbeat.replace(tzinfo=timezone.utc))
                       if heartbeat else None})
    return {"count": len(found), "serving": serving, "list": listed[:MAX_WORKERS_LISTED]}


def notification_queue_health(app: Flask) -> dict:
    """The notification queue as RQ sees it (for the health endpoint)."""
    connection = redis_connection(app)
    found = queue(app, app.config["NOTIFICATIONS_QUEUE"], connection)
    return {"ok": bool(connection.ping()), "queue": found.name, "queued_jobs": found.count,
            "running_jobs": StartedJobRegistry(queue=found).count, "failed_jobs": FailedJobRegistry(queue=found).count}


# --- health probe (the self-test's Redis and workers check) -----------------------------------------

def probe(config, queue_names: Sequence[str]) -> Probe:
    """Redis ping and version, the sizes of `queue_names` and the registered RQ workers (with how
    many listen on each of those queues), on a connection of its own with PROBE_TIMEOUT. Without
    REDIS_URL: not configured (no queues, no workers)."""
    url = config["REDIS_URL"]
    if not url:
        return Probe(NOT_CONFIGURED, "No REDIS_URL: no RQ queues or workers.", {})
    details: dict = {"redis": redis_location(url)}
    connection = Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT)
    try:
        started = time.perf_counter()
        connection.ping()
        details["ping_ms"] = ms_since(started)
        details["redis_version"] = connection.info("server").get("redis_version")
        details["queues"] = {name: queue_counts(name, connection) for name in queue_names}
        details["workers"] = workers(connection, list(queue_names))
    except RedisError as exc:
        details["error"] = describe(exc)
        return Probe(DEGRADED, "Redis cannot be reached: workers get no jobs.", details)
    finally:
        connection.close()
    return Probe(OK, f"Redis answers in {details['ping_ms']} ms; {details['workers']['count']} worker(s) serve "
                     "the queues.", details)


def redis_location(url: str) -> str:
    """The Redis address without its credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    path = parts.path if parts.path not in ("", "/") else ""
    return f"{parts.scheme}://{host}{port}{path}"
