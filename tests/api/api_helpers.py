"""Helpers for the JSON API tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request


def post(url: str, payload: dict, headers: dict | None = None) -> tuple[int, dict]:
    """POST `payload` as JSON over real HTTP: (status, decoded body)."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def run_threads(count: int, target) -> list:
    """target(0) … target(count - 1), each in its own thread, released together; their results in order."""
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def worker(i):
        barrier.wait()
        results[i] = target(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
