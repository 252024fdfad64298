"""Password reset by an emailed signed link: expiring, bound to the current password hash (so a used link
dies), and the same answer whether or not the address has an account."""
from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone

import time_machine
from auth_helpers import PASSWORD, sign_in, token_of
from itsdangerous import URLSafeTimedSerializer

from app.models import User
from app.services import team


def reset_path(message) -> str:
    url = re.search(r"http://localhost(/auth/reset/\S+)", message.get_content()).group(1)
    return url


def ask_for_link(client, email: str):
    token = token_of(client.get("/auth/forgot"))
    return client.post("/auth/forgot", data={"csrf_token": token, "email": email})


def choose(client, path: str, password: str, confirm: str | None = None):
    page = client.get(path)
    token = token_of(page)
    return client.post(path, data={"csrf_token": token, "password": password, "confirm": confirm or password})


def test_forgot_password_emails_a_link_that_works_once(client, owner, outbox, db):
    response = ask_for_link(client, "olivia@acme.example")
    assert response.status_code == 303
    [message] = outbox()
    assert message["To"] == "olivia@acme.example" and "Reset your Atlas Booking password" in message["Subject"]
    path = reset_path(message)
    page = client.get(path)
    assert page.status_code == 200 and "olivia@acme.example" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"

    done = choose(client, path, "a brand new password")
    assert done.status_code == 303 and done.headers["Location"] == "/auth/login"
    db.session.expire_all()
    assert db.session.get(User, owner.id).check_password("a brand new password")
    assert sign_in(client, owner.email, "a brand new password").status_code == 303

    again = client.get(path)  # the hash it was bound to has changed: the link is dead
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)


def test_unknown_address_gets_the_same_answer_and_no_email(client, owner, outbox):
    known = ask_for_link(client, owner.email)
    unknown = ask_for_link(client, "stranger@example.com")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert len(outbox()) == 1


def test_link_expires(client, owner, outbox, app):
    ask_for_link(client, owner.email)
    path = reset_path(outbox()[0])
    later = datetime.now(timezone.utc) + timedelta(seconds=app.config["PASSWORD_RESET_MAX_AGE"] + 5)
    with time_machine.travel(later, tick=False):
        response = client.get(path)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def test_forged_or_other_salt_tokens_are_refused(client, owner, app):
    wrong_key = URLSafeTimedSerializer("not-the-key", salt=team.RESET_SALT).dumps({"u": str(owner.id), "p": "x"})
    wrong_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="other").dumps({"u": str(owner.id)})
    for token in (wrong_key, wrong_salt, "garbage"):
        response = client.get(f"/auth/reset/{token}")
        assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)


def test_new_password_is_checked(client, owner, outbox, db):
    ask_for_link(client, owner.email)
    path = reset_path(outbox()[0])
    short = choose(client, path, "short")
    assert short.status_code == 422 and "at least 10 characters" in short.get_data(as_text=True)
    mismatch = choose(client, path, "a long enough password", "a different password")
    assert mismatch.status_code == 422 and "not the same" in mismatch.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, owner.id).check_password(PASSWORD)


def test_password_change_elsewhere_kills_the_link(client, owner, outbox, db):
    ask_for_link(client, owner.email)
    path = reset_path(outbox()[0])
    owner.set_password("changed by the owner")
    db.session.commit()
    assert client.get(path).status_code == 400


def test_forgot_is_rate_limited(make_app, app_config, owner):
    app = make_app(dict(app_config, RATELIMIT_ENABLED=True, RATELIMIT_PASSWORD_RESET="2/minute"))
    client = app.test_client()
    with app.app_context():
        codes = [ask_for_link(client, "x@example.com").status_code for _ in range(3)]
    assert codes == [303, 303, 429]


def test_the_request_never_looks_the_address_up(make_app, app_config, owner):
    """No account probing: the request hands the address to a background job the same way whether or
    not it has an account (the same statements, the same answer), and the email comes from the job."""
    from email import message_from_bytes
    from email.policy import default as email_policy
    from pathlib import Path

    from sqlalchemy import event

    from app.extensions import db

    app = make_app(dict(app_config, NOTIFICATIONS_DISPATCHER="thread", NOTIFICATIONS_DISPATCH_SECONDS=30))
    client = app.test_client()
    sent, answers, statements = [], [], []
    folder = Path(app.config["OUTBOX_DIR"])

    def count(*_args, **_kwargs):
        if threading.current_thread() is threading.main_thread():
            statements[-1].append(_args[2])

    try:
        with app.app_context():
            engine = db.engine
        for email in ("stranger@example.com", owner.email, "nobody@acme.example", owner.email.upper()):
            form = token_of(client.get("/auth/forgot"))
            statements.append([])
            event.listen(engine, "before_cursor_execute", count)
            try:
                response = client.post("/auth/forgot", data={"csrf_token": form, "email": email})
            finally:
                event.remove(engine, "before_cursor_execute", count)
            answers.append((response.status_code, response.headers["Location"]))
        assert len(set(answers)) == 1 and answers[0][0] == 303
        assert not any("users" in statement for run in statements for statement in run)
        assert len({len(run) for run in statements}) == 1
        deadline = time.monotonic() + 10
        while len(sent) < 2 and time.monotonic() < deadline:
            sent = sorted(folder.glob("*.eml")) if folder.exists() else []
            time.sleep(0.05)
        messages = [message_from_bytes(path.read_bytes(), policy=email_policy) for path in sent]
        assert [message["To"] for message in messages] == [owner.email, owner.email]  # the job sent them
        time.sleep(0.3)
        assert len(list(folder.glob("*.eml"))) == 2  # and none to the addresses without an account
    finally:
        dispatcher = app.extensions.get("notifications_dispatcher")
        if dispatcher is not None:
            dispatcher.stop()
