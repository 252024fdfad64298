"""Background worker: `python worker.py` runs an RQ worker (with its scheduler) inside an app context.

Needs REDIS_URL. On the embedded default (no Redis) nothing needs this process: work that would be
queued runs inside the web process instead.
"""
from __future__ import annotations

import logging
import sys

from redis import Redis
from rq import Queue, Worker

from app import create_app

QUEUES = ("default",)


def main(argv: list[str] | None = None) -> int:
    app = create_app()
    redis_url = app.config.get("REDIS_URL")
    if not redis_url:
        print("REDIS_URL is not set: the worker needs Redis (e.g. REDIS_URL=redis://127.0.0.1:6379/0).",
              file=sys.stderr)
        return 2
    connection = Redis.from_url(redis_url)
    logging.getLogger(__name__).info("worker listening on %s", ", ".join(QUEUES))
    with app.app_context():
        worker = Worker([Queue(name, connection=connection) for name in QUEUES], connection=connection)
        worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
