"""Redis and RQ: the connection every process shares, and what the queues and workers look like.

The job runtime (app/jobs.py) enqueues through these; the health endpoint and the self-test read
the counts. Nothing here touches the database: Redis only carries hints, the database the truth.
"""
from __future__ import annotations

import os
from datetime import timezone

from flask import Flask
from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

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
