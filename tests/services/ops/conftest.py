"""Real parts for the self-test's tests: an SMTP server (aiosmtpd; optionally with STARTTLS or
implicit TLS, and a login), a stand-in of Twilio's account endpoint reached through the real twilio
client, a local HTTP server that counts requests (standing in for Google, which must never be
called), and Redis database 15 with RQ workers registered in it.

Minimal copies of the pieces in tests/services/notifications/conftest.py, which serve a different API
surface (messages) and stay untouched.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import ssl
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from selftest_helpers import (
    ADMIN_KEY,
    SMTP_PASSWORD,
    SMTP_USER,
    TWILIO_SID,
    TWILIO_TOKEN,
    free_port,
)
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SELFTEST_REDIS_DB = 15


@pytest.fixture
def app_config(app_config, tmp_path):
    """The embedded defaults (no Redis, file outbox, no Twilio, no Google) plus an admin key."""
    return dict(app_config, ADMIN_API_KEY=ADMIN_KEY, OUTBOX_DIR=str(tmp_path / "outbox"))


# --- SMTP ------------------------------------------------------------------------------------------

class _Handler:
    """Accepts whatever arrives (the self-test sends nothing; a message here would be a bug)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


def _self_signed_context(folder) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


class SmtpServer:
    """aiosmtpd on a free port: plain, with STARTTLS required, or TLS from the first byte (implicit
    TLS, as on port 465); optionally with a login (SMTP_USER/PASSWORD)."""

    def __init__(self, *, starttls: bool = False, implicit_tls: bool = False, login: bool = False,
                 tls_folder=None) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self.logins: list[tuple[str, bool]] = []
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.login = login
        self.tls_folder = tls_folder
        self.controller = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD
        self.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers (235 or 535)

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        kwargs: dict = {}
        if self.login:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; an implicit-TLS session is encrypted anyway.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=self.starttls)
        if self.starttls:
            kwargs.update(tls_context=_self_signed_context(self.tls_folder), require_starttls=True)
        if self.implicit_tls:
            kwargs.update(ssl_context=_self_signed_context(self.tls_folder))
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server(tmp_path):
    """Start SMTP servers on demand; all stopped afterwards."""
    started: list[SmtpServer] = []

    def start(**options) -> SmtpServer:
        server = SmtpServer(tls_folder=tmp_path, **options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- HTTP stand-ins ----------------------------------------------------------------------------------

@dataclass
class TwilioAccountStandIn:
    """GET /2010-04-01/Accounts/<sid>.json with HTTP Basic auth, as Twilio answers it — including the
    auth token in the payload, which the self-test must not pass on."""

    base_url: str = ""
    status: str = "active"
    echo_token_in_errors: bool = False
    requests: list[str] = field(default_factory=list)

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append(f"{request.method} {request.path}")
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            given = base64.b64decode(request.headers.get("Authorization", "Basic ")[6:] or b"").decode(errors="replace")
            message = f"Authenticate (got {given})" if self.echo_token_in_errors else "Authenticate"
            return self.error(401, 20003, message)
        if request.method != "GET" or request.path != f"/2010-04-01/Accounts/{TWILIO_SID}.json":
            return self.error(404, 20404, "The requested resource was not found")
        body = {"sid": TWILIO_SID, "owner_account_sid": TWILIO_SID, "friendly_name": "Atlas Fitness",
                "status": self.status, "type": "Full", "auth_token": TWILIO_TOKEN,
                "date_created": "Mon, 06 Jan 2031 10:00:00 +0000", "date_updated": "Mon, 06 Jan 2031 10:00:00 +0000",
                "uri": f"/2010-04-01/Accounts/{TWILIO_SID}.json", "subresource_uris": {}}
        return Response(json.dumps(body), mimetype="application/json")

    @staticmethod
    def error(status: int, code: int, message: str) -> Response:
        return Response(json.dumps({"code": code, "message": message, "status": status,
                                    "more_info": f"https://www.twilio.com/docs/errors/{code}"}),
                        status=status, mimetype="application/json")


class CountingServer:
    """Answers every request 503 and remembers it (stands in for Google: the check must not call)."""

    def __init__(self) -> None:
        self.base_url = ""
        self.requests: list[str] = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append(f"{request.method} {request.path}")
        return Response("{}", status=503, mimetype="application/json")(environ, start_response)


@contextmanager
def _serving(standin):
    """Serve `standin` (a WSGI app with a `base_url`) on a free local port while the block runs."""
    server = make_server("127.0.0.1", 0, standin, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    standin.base_url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield standin
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def twilio_account():
    with _serving(TwilioAccountStandIn()) as standin:
        yield standin


@pytest.fixture
def google_standin():
    with _serving(CountingServer()) as standin:
        yield standin


# --- Redis database 15 and RQ workers -------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_url():
    """Redis database 15, held by this test run (a lock key; another run waits for it) and emptied
    afterwards. The notification tests use databases 3…14."""
    import redis

    url = f"redis://127.0.0.1:6379/{SELFTEST_REDIS_DB}"
    connection = redis.Redis.from_url(url)
    owner = f"{os.getpid()}-{secrets.token_hex(4)}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if connection.set("atlas-selftest-run", owner, nx=True, ex=1800):
                break
        except redis.ConnectionError:
            pytest.fail("Redis at 127.0.0.1:6379 is not reachable (CI starts it; see .ci/run)")
        if time.monotonic() > deadline:
            pytest.fail(f"Redis database {SELFTEST_REDIS_DB} stayed held by another test run")
        time.sleep(0.5)
    try:
        yield url
    finally:
        connection.flushdb()
        connection.close()


@pytest.fixture
def queue_name():
    return f"atlas-selftest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def rq_worker(redis_url):
    """Register RQ workers (as `python worker.py` does at start) listening on the given queues;
    their deaths are registered afterwards."""
    from redis import Redis
    from rq import Queue, Worker

    connection = Redis.from_url(redis_url)
    registered = []

    def register(*queue_names: str):
        worker = Worker([Queue(name, connection=connection) for name in queue_names], connection=connection,
                        name=f"selftest-{uuid.uuid4().hex[:8]}")
        worker.register_birth()
        registered.append(worker)
        return worker

    yield register
    for worker in registered:
        worker.register_death()
    connection.close()
