"""Real parts for the notification tests: an SMTP server (aiosmtpd) that can refuse, stall and go
down; a local stand-in of Twilio's Messages API reached through the real twilio client; a Redis
database of this run's own and `python worker.py` processes to start and kill.

The default app of these tests sends through the SMTP server and the Twilio stand-in; tests of the
file outbox build their own app with `make_app`.
"""
from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

import pytest
from notification_helpers import (
    ADMIN_KEY,
    START,
    TWILIO_FROM,
    TWILIO_SID,
    TWILIO_TOKEN,
    free_port,
)
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parents[3]  # tests/services/notifications/ → the repository


# --- SMTP ------------------------------------------------------------------------------------------

class Inbox:
    """aiosmtpd handler: keeps every accepted message; can refuse recipients and hold a conversation."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], object]] = []
        self.refuse: dict[str, str] = {}
        self.hold_rcpt: dict[str, threading.Event] = {}   # address → released when set
        self.hold_after_data: dict[str, threading.Event] = {}
        self.seen_rcpt: dict[str, threading.Event] = {}    # address → set when its RCPT TO arrives
        self.arrived = threading.Event()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.seen_rcpt:
            self.seen_rcpt[address].set()
        if address in self.refuse:
            return self.refuse[address]
        gate = self.hold_rcpt.get(address)
        if gate is not None:
            await asyncio.to_thread(gate.wait, 60)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=email_policy)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        self.arrived.set()
        for address in envelope.rcpt_tos:
            gate = self.hold_after_data.get(address)
            if gate is not None:  # received, but the client hears nothing until released
                await asyncio.to_thread(gate.wait, 60)
        return "250 Message accepted"

    def to(self, address: str) -> list:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]

    def subjects(self) -> list[str]:
        with self.lock:
            return sorted(str(m["Subject"]) for _, m in self.messages)


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            for gate in [*self.inbox.hold_rcpt.values(), *self.inbox.hold_after_data.values()]:
                gate.set()
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- Twilio ----------------------------------------------------------------------------------------

HIDDEN = ("status_callback", "validity_period")  # request parameters, not fields of Twilio's Message


@dataclass
class TwilioStandIn:
    """The part of Twilio's REST API the portal uses: create and list Messages."""

    base_url: str = ""
    messages: list[dict] = field(default_factory=list)
    errors: dict[str, tuple[int, int, str]] = field(default_factory=dict)   # To → (HTTP status, code, message)
    stall: dict[str, float] = field(default_factory=dict)                   # To → seconds to sit on the reply
    posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, number: str) -> list[dict]:
        with self.lock:
            return [m for m in self.messages if m["to"] == number]

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self.error(401, 20003, "Authenticate")
        path = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
        if request.path != path:
            return self.error(404, 20404, "The requested resource was not found")
        if request.method == "POST":
            return self.create(request)
        return self.list(request)

    def create(self, request: Request) -> Response:
        form = request.form
        to = form.get("To", "")
        with self.lock:
            self.posts += 1
        if to in self.errors:
            status, code, text = self.errors[to]
            return self.error(status, code, text)
        validity = form.get("ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
            return self.error(400, 21624, "Validity period can only be set to integers between 1 and 36,000 seconds")
        now = datetime.now(timezone.utc)
        message = {
            "sid": "SM" + uuid.uuid4().hex, "account_sid": TWILIO_SID, "to": to, "from": form.get("From"),
            "body": form.get("Body"), "status": "queued", "num_segments": "1", "direction": "outbound-api",
            "date_created": email.utils.format_datetime(now), "date_updated": email.utils.format_datetime(now),
            "date_sent": None, "price": None, "error_code": None, "error_message": None, "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/x.json", "status_callback": form.get("StatusCallback"),
            "validity_period": int(validity) if validity is not None else None,
        }
        with self.lock:
            message["uri"] = message["uri"].replace("x.json", f"{message['sid']}.json")
            self.messages.append(message)
        if to in self.stall:
            time.sleep(self.stall[to])  # accepted, but the client gives up waiting
        return Response(json.dumps({k: v for k, v in message.items() if k not in HIDDEN}), status=201,
                        mimetype="application/json")

    def list(self, request: Request) -> Response:
        to, sender = request.args.get("To"), request.args.get("From")
        with self.lock:
            found = [m for m in reversed(self.messages)
                     if (not to or m["to"] == to) and (not sender or m["from"] == sender)]
        size = int(request.args.get("PageSize", 50))
        body = {"messages": [{k: v for k, v in m.items() if k not in HIDDEN} for m in found[:size]],
                "first_page_uri": request.full_path, "next_page_uri": None, "previous_page_uri": None,
                "page": 0, "page_size": size, "start": 0, "end": min(size, len(found)), "uri": request.full_path}
        return Response(json.dumps(body), mimetype="application/json")

    def report(self, client, sid: str, status: str, *, error_code: int | None = None):
        """Twilio's status callback for message `sid` moving to `status`: the form Twilio POSTs to
        the message's StatusCallback, signed as Twilio signs it, posted through the app's `client`.
        Tests call it in whatever order callbacks arrive (Twilio does not promise their order)."""
        from urllib.parse import urlsplit

        from twilio.request_validator import RequestValidator

        with self.lock:
            message = next(m for m in self.messages if m["sid"] == sid)
            message["status"] = status
            if error_code is not None:
                message["error_code"] = error_code
        form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
                "AccountSid": TWILIO_SID, "From": message["from"], "To": message["to"], "ApiVersion": "2010-04-01"}
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        url = message["status_callback"]
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        return client.post(urlsplit(url).path, data=form, headers={"X-Twilio-Signature": signature})

    @staticmethod
    def error(status: int, code: int, message: str) -> Response:
        return Response(json.dumps({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                    "status": status}), status=status, mimetype="application/json")


@pytest.fixture
def twilio():
    standin = TwilioStandIn()
    server = make_server("127.0.0.1", 0, standin, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    standin.base_url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield standin
    finally:
        server.shutdown()
        thread.join(timeout=10)


# --- the app ----------------------------------------------------------------------------------------

def smtp_config(port: int) -> dict:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
            "MAIL_USE_TLS": False, "MAIL_USE_SSL": False,
            # Flask-Mail suppresses sending when TESTING is on: these tests want the real conversation.
            "MAIL_SUPPRESS_SEND": False, "SMTP_TIMEOUT": 5}


def twilio_config(base_url: str) -> dict:
    return {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_PHONE_NUMBER": TWILIO_FROM,
            "TWILIO_API_BASE_URL": base_url, "TWILIO_TIMEOUT": 5}


@pytest.fixture
def app_config(app_config, smtp, twilio, tmp_path):
    return dict(app_config, **smtp_config(smtp.port), **twilio_config(twilio.base_url),
                OUTBOX_DIR=str(tmp_path / "outbox"), ADMIN_API_KEY=ADMIN_KEY, SMTP_FROM="Atlas Fitness <hello@atlas.example>",
                NOTIFICATIONS_BACKOFF_SECONDS=30, NOTIFICATIONS_LEASE_SECONDS=60, NOTIFICATIONS_MAX_ATTEMPTS=3)


@dataclass
class World:
    org: object
    trainer: object
    atype: object
    link: object


@pytest.fixture
def world(db, make_org, make_trainer, make_appointment_type, make_link) -> World:
    # Quiet hours off: these tests book 05:00 New York time and follow reminders to the minute;
    # test_quiet_hours.py turns them on.
    org = make_org(name="Atlas Fitness", slug=f"atlas-{uuid.uuid4().hex[:6]}", contact_email="desk@atlas.example",
                   settings={"quiet_hours": {"off": True}})
    trainer = make_trainer(org=org, name="Terry Trainer", email=f"terry-{uuid.uuid4().hex[:6]}@atlas.example")
    atype = make_appointment_type(org=org, name="PT Session", location="Studio 2")
    link = make_link([trainer], [atype])
    link.branding.primary_color = "#0a7d4f"
    link.branding.accent_color = "#ffcc00"
    db.session.commit()
    return World(org, trainer, atype, link)


@pytest.fixture
def book(world):
    """Book through the real service (the hook writes the outbox rows in its transaction)."""
    from app.services.bookings import Actor, create_booking

    def make(start=START, email="ann@example.com", phone=None, tz="America/New_York", name="Ann Attendee", **extra):
        return create_booking(link_slug=world.link.slug, start_time=start, attendee_name=name, attendee_email=email,
                              attendee_phone=phone, attendee_timezone=tz, actor=Actor("attendee"), **extra)

    return make


@pytest.fixture
def rows(db):
    """The outbox as the database has it now."""
    from sqlalchemy import select

    from app.models import Notification

    def read(**where):
        db.session.commit()  # end this session's read transaction: see what other processes committed
        query = select(Notification).order_by(Notification.send_at, Notification.template, Notification.channel)
        for name, value in where.items():
            query = query.where(getattr(Notification, name) == value)
        return db.session.scalars(query.execution_options(populate_existing=True)).all()

    return read


# --- Redis and real workers ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_url():
    """A Redis database of this test run's own (3…14, claimed with a lock key), emptied afterwards."""
    import redis

    owner = f"{os.getpid()}-{secrets.token_hex(4)}"
    for number in range(3, 15):
        url = f"redis://127.0.0.1:6379/{number}"
        connection = redis.Redis.from_url(url)
        try:
            claimed = connection.set("atlas-test-run", owner, nx=True, ex=3600)
        except redis.ConnectionError:
            pytest.fail("Redis at 127.0.0.1:6379 is not reachable (CI starts it; see .ci/run)")
        if claimed and connection.dbsize() == 1:
            try:
                yield url
            finally:
                connection.flushdb()
            return
        if claimed:
            connection.delete("atlas-test-run")
    pytest.fail("no free Redis database between 3 and 14 for this test run")


@pytest.fixture
def queue_name():
    return f"atlas-test-{uuid.uuid4().hex[:10]}"


class WorkerProcess:
    """`python worker.py` (RQ forks a work-horse per job, and a scheduler process)."""

    def __init__(self, env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def descendants(self) -> list[int]:
        """Every process this worker started, by id (RQ's work-horse calls setpgrp(), so the worker's
        process group does not hold it)."""
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
        found, frontier = [], [self.proc.pid]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent]
            found += children
            frontier += children
        return found

    def kill(self) -> None:
        """SIGKILL the worker and everything it started: a crash (power cut, OOM kill), not a shutdown."""
        for pid in [self.proc.pid, *self.descendants()]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            children = self.descendants()
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            for pid in [self.proc.pid, *children]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=10)
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def worker_env(db_url, redis_url, queue_name, smtp, twilio, tmp_path):
    """The environment of a worker process: same database, SMTP server and Twilio stand-in as the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "TWILIO_", "NOTIFICATIONS_"))}
    env.update({
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SECRET_KEY": "test-secret-key", "APP_URL": "http://localhost",
        "ATLAS_INSTANCE_PATH": str(tmp_path / "worker-instance"), "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port), "SMTP_STARTTLS": "0", "SMTP_SSL": "0", "SMTP_FROM": "Atlas Fitness <hello@atlas.example>",
        "SMTP_TIMEOUT": "5", "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_PHONE_NUMBER": TWILIO_FROM, "TWILIO_API_BASE_URL": twilio.base_url, "TWILIO_TIMEOUT": "5",
        "NOTIFICATIONS_QUEUE": queue_name, "NOTIFICATIONS_DISPATCH_SECONDS": "0.3",
        "NOTIFICATIONS_LEASE_SECONDS": "3", "NOTIFICATIONS_BATCH_SIZE": "5", "NOTIFICATIONS_BACKOFF_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path):
    started: list[WorkerProcess] = []

    def start(**overrides) -> WorkerProcess:
        env = dict(worker_env, **{k: str(v) for k, v in overrides.items()})
        started.append(WorkerProcess(env, tmp_path / f"worker-{len(started)}.log"))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
