"""Real Redis and real `python worker.py` processes: the worker sends what bookings queue; a worker
killed mid-batch loses nothing and doubles nothing; a booking made while Redis is down goes out
once Redis is back. (Worker settings: batches of 5, a 3-second lease, a dispatch tick of 0.3 s.)"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from notification_helpers import START, free_port, wait_for

TERMINAL = {"sent", "failed", "skipped", "cancelled"}


def transactional(rows):
    """The rows due now (everything but the reminders, which are days away)."""
    return [r for r in rows() if r.template != "booking_reminder"]


def settled(rows, expected: int):
    current = transactional(rows)
    return current if len(current) == expected and all(r.status in TERMINAL for r in current) else None


def arrivals(smtp) -> Counter:
    with smtp.inbox.lock:
        return Counter((tuple(rcpts), str(m["Message-ID"])) for rcpts, m in smtp.inbox.messages)


def book_many(book, count: int, phone: bool = False):
    return [book(start=START + timedelta(days=i // 7, hours=i % 7), email=f"member{i}@example.com",
                 name=f"Member {i}", phone=f"+4477009001{i:02d}" if phone else None) for i in range(count)]


def test_the_worker_sends_what_a_booking_queued(book, smtp, twilio, rows, start_worker, world):
    result = book(phone="+447700900123")
    worker = start_worker()
    done = wait_for(lambda: settled(rows, 3), timeout=30, message="the worker to send 3 messages")
    assert {r.status for r in done} == {"sent"}, worker.output()[-3000:]
    assert len(smtp.inbox.to("ann@example.com")) == 1 and len(smtp.inbox.to(world.trainer.email)) == 1
    [sms] = twilio.to("+447700900123")
    assert result.manage_token in sms["body"]
    assert set(arrivals(smtp).values()) == {1}


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(book, smtp, rows, start_worker, world):
    """SIGKILL while the SMTP server is in the middle of one recipient (RCPT TO answered later): that
    message and the rest of the batch were claimed but never handed off; once the lease expires,
    a new worker sends each of them — once."""
    book_many(book, 8)
    gate, seen = threading.Event(), threading.Event()
    smtp.inbox.hold_rcpt["member3@example.com"] = gate
    smtp.inbox.seen_rcpt["member3@example.com"] = seen
    first = start_worker()
    assert seen.wait(30), first.output()[-3000:]
    first.kill()
    gate.set()
    stuck = [r for r in transactional(rows) if r.status == "sending"]
    assert stuck and all(r.handed_off_at is None for r in stuck)
    second = start_worker()
    done = wait_for(lambda: settled(rows, 16), timeout=40, message="every message to be settled")
    assert {r.status for r in done} == {"sent"}, second.output()[-3000:]
    for i in range(8):
        assert len(smtp.inbox.to(f"member{i}@example.com")) == 1, f"member{i}"
    assert len(smtp.inbox.to(world.trainer.email)) == 8
    counts = arrivals(smtp)
    assert len(counts) == 16 and set(counts.values()) == {1}
    assert max(r.attempts for r in done) == 2  # the interrupted ones took a second claim


def test_a_worker_killed_while_the_server_held_the_message_sends_it_at_most_once(book, smtp, rows, start_worker):
    """SIGKILL after the server received the message but before it said 250: delivery is unknown,
    so the row ends `failed` with that reason (Retry is a person's call) and the message is never
    sent again on its own. Everything else in the batch is sent once."""
    book_many(book, 4)
    gate = threading.Event()
    smtp.inbox.hold_after_data["member1@example.com"] = gate
    first = start_worker()
    wait_for(lambda: smtp.inbox.to("member1@example.com"), timeout=30, message="member1's message to arrive")
    first.kill()
    gate.set()
    second = start_worker()
    done = wait_for(lambda: settled(rows, 8), timeout=40, message="every message to be settled")
    failed = [r for r in done if r.status == "failed"]
    assert [r.recipient for r in failed] == ["member1@example.com"], second.output()[-3000:]
    assert failed[0].last_error.startswith("delivery unknown")
    assert sum(r.status == "sent" for r in done) == 7
    for i in range(4):
        assert len(smtp.inbox.to(f"member{i}@example.com")) == 1, f"member{i}"
    assert set(arrivals(smtp).values()) == {1}


def test_two_workers_never_send_one_message_twice(book, smtp, twilio, rows, start_worker):
    book_many(book, 10, phone=True)
    start_worker()
    start_worker()
    done = wait_for(lambda: settled(rows, 30), timeout=40, message="30 messages to be settled")
    assert {r.status for r in done} == {"sent"}
    counts = arrivals(smtp)
    assert len(counts) == 20 and set(counts.values()) == {1}
    assert twilio.posts == 10 and len({m["to"] for m in twilio.messages}) == 10


def test_a_booking_made_while_redis_is_down_goes_out_once_redis_is_back(make_app, app_config, queue_name, smtp,
                                                                        rows, start_worker, world):
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    down = make_app(dict(app_config, REDIS_URL=closed, NOTIFICATIONS_QUEUE=queue_name))
    response = down.test_client().post("/api/booking/create", json={
        "link_slug": world.link.slug, "start_time": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "attendee_name": "Rita Redis", "attendee_email": "rita@example.com"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert {r.status for r in transactional(rows)} == {"pending"}
    start_worker()  # pointed at the real Redis
    done = wait_for(lambda: settled(rows, 2), timeout=30, message="the queued messages to go out")
    assert {r.status for r in done} == {"sent"}
    assert len(smtp.inbox.to("rita@example.com")) == 1


def test_with_redis_a_commit_queues_a_dispatch_at_once(make_app, app_config, redis_url, queue_name, world):
    from redis import Redis
    from rq import Queue

    app = make_app(dict(app_config, REDIS_URL=redis_url, NOTIFICATIONS_QUEUE=queue_name))
    response = app.test_client().post("/api/booking/create", json={
        "link_slug": world.link.slug, "start_time": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "attendee_name": "Quinn Queue", "attendee_email": "quinn@example.com"})
    assert response.status_code == 201
    queue = Queue(queue_name, connection=Redis.from_url(redis_url))
    assert [job.func_name for job in queue.jobs] == ["app.jobs.dispatch_notifications"]
    queue.empty()



def test_a_deliver_job_queued_twice_sends_once(book, smtp, rows, start_worker, app, redis_url, queue_name):
    """Redis may hold a job twice (a dispatcher's marker lost, a job retried): rows are claimed in the
    database, so the second copy finds nothing to send."""
    from redis import Redis
    from rq import Queue

    from app.jobs import deliver_notifications

    book_many(book, 3)
    ids = [str(r.id) for r in transactional(rows)]
    queue = Queue(queue_name, connection=Redis.from_url(redis_url))
    for _ in range(2):
        queue.enqueue(deliver_notifications, ids)
    start_worker()
    done = wait_for(lambda: settled(rows, 6), timeout=30, message="6 messages to be settled")
    assert {r.status for r in done} == {"sent"} and {r.attempts for r in done} == {1}
    wait_for(lambda: queue.count == 0, timeout=10, message="both jobs to run")
    counts = arrivals(smtp)
    assert len(counts) == 6 and set(counts.values()) == {1}


def test_a_password_reset_link_is_sent_by_the_worker(make_app, app_config, redis_url, queue_name, smtp, start_worker,
                                                      world):
    """With Redis, the request only queues the address (app/jobs.py account_email_job); `python worker.py`
    looks it up and sends the link, and sends nothing for an address without an account."""
    from rq import Queue

    from app.integrations import queue as rq_queues
    from app.services import team

    app = make_app(dict(app_config, REDIS_URL=redis_url, NOTIFICATIONS_QUEUE=queue_name))
    with app.app_context():
        team.request_password_reset("stranger@example.com")
        team.request_password_reset(world.trainer.email)
        queued = Queue(queue_name, connection=rq_queues.redis_connection(app)).jobs
        assert [job.func_name for job in queued] == ["app.jobs.account_email_job"] * 2
    worker = start_worker()
    wait_for(lambda: smtp.inbox.to(world.trainer.email), timeout=30, message="the reset email")
    [message] = smtp.inbox.to(world.trainer.email)
    assert "Reset your Atlas Booking password" in message["Subject"], worker.output()[-2000:]
    assert smtp.inbox.to("stranger@example.com") == []
