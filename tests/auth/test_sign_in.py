"""Sign-in with flask-login: hashed passwords, session protection, rate limits, safe redirects."""
from __future__ import annotations

import pytest
from auth_helpers import PASSWORD, sign_in, token_of
from sqlalchemy import select

from app.models import User


def test_passwords_are_stored_as_scrypt_hashes(owner):
    assert owner.password_hash.startswith("scrypt:")
    assert PASSWORD not in owner.password_hash


def test_sign_in_goes_to_the_dashboard_and_records_the_time(client, owner, db):
    response = sign_in(client, "OLIVIA@acme.example ", PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    db.session.expire_all()
    assert db.session.get(User, owner.id).last_login_at is not None


@pytest.mark.parametrize("email, password", [("olivia@acme.example", "wrong password"),
                                             ("nobody@acme.example", PASSWORD)])
def test_wrong_email_or_password_says_the_same(client, owner, email, password):
    response = sign_in(client, email, password)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "That email and password don&#39;t match an account." in body
    assert PASSWORD not in body
    assert client.get("/dashboard/").status_code == 302


def test_deactivated_user_cannot_sign_in(client, owner, db):
    owner.active = False
    db.session.commit()
    response = sign_in(client, owner.email, PASSWORD)
    assert response.status_code == 422 and "deactivated" in response.get_data(as_text=True)


def test_dashboard_asks_for_sign_in_and_comes_back(client, owner):
    response = client.get("/dashboard/bookings?status=pending")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/dashboard/bookings?status%3Dpending"
    login = client.get(response.headers["Location"])
    assert 'value="/dashboard/bookings?status=pending"' in login.get_data(as_text=True)
    done = sign_in(client, owner.email, PASSWORD, next="/dashboard/bookings?status=pending")
    assert done.headers["Location"] == "/dashboard/bookings?status=pending"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"])
def test_no_open_redirect_after_sign_in(client, owner, target):
    response = sign_in(client, owner.email, PASSWORD, next=target)
    assert response.headers["Location"] == "/dashboard/"


def test_htmx_sign_in_redirects_the_window(client, owner):
    token = token_of(client.get("/auth/login"))
    response = client.post("/auth/login", data={"csrf_token": token, "email": owner.email, "password": PASSWORD},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/dashboard/"


def test_sign_out_needs_a_post_with_csrf(client, owner):
    sign_in(client, owner.email, PASSWORD)
    assert client.get("/auth/logout").status_code == 405
    token = token_of(client.get("/dashboard/"))
    response = client.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/auth/login"
    assert client.get("/dashboard/").status_code == 302


def test_session_protection_is_strong(client, owner, app):
    """A session cookie replayed from another browser (another user agent) is not signed in."""
    assert app.login_manager.session_protection == "strong"
    sign_in(client, owner.email, PASSWORD)
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/dashboard/", headers={"User-Agent": "SomethingElse/1.0"}).status_code == 302


def test_signed_in_user_visiting_login_goes_to_the_dashboard(client, owner):
    sign_in(client, owner.email, PASSWORD)
    assert client.get("/auth/login").headers["Location"] == "/dashboard/"


def test_sign_in_is_rate_limited(make_app, app_config, owner):
    app = make_app(dict(app_config, RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3/minute"))
    client = app.test_client()
    with app.app_context():
        codes = []
        for _ in range(4):
            token = token_of(client.get("/auth/login"))
            codes.append(client.post("/auth/login", data={"csrf_token": token, "email": owner.email,
                                                          "password": "wrong"}).status_code)
    assert codes == [422, 422, 422, 429]
    # The page itself (GET) is not limited: only attempts are.
    assert client.get("/auth/login").status_code == 200


def test_unknown_account_and_known_account_cost_alike(client, owner, db):
    """No account: the password is still checked against a hash, so timing does not tell."""
    from app.services import team

    assert team._DUMMY_HASH.startswith("scrypt:")
    assert db.session.scalar(select(User).where(User.email == "nobody@acme.example")) is None
