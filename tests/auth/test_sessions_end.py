"""Sessions end when they should: a password reset, a deactivation and signing out end every session
and remember-me cookie of that person — on every device, the one that did it included."""
from __future__ import annotations

from auth_helpers import PASSWORD, sign_in, token_of

from app.models import User
from app.services import team


def signed_in(app, email: str, remember: bool = False):
    client = app.test_client()
    response = sign_in(client, email, PASSWORD, **({"remember": "y"} if remember else {}))
    assert response.status_code == 303
    assert client.get("/dashboard/").status_code == 200
    return client


def remember_cookie(client):
    return client.get_cookie("remember_token")


def test_remember_me_cookie_flags_and_lifetime(app, owner):
    client = app.test_client()
    response = sign_in(client, owner.email, PASSWORD, remember="y")
    header = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("remember_token="))
    assert "HttpOnly" in header and "SameSite=Lax" in header
    cookie = remember_cookie(client)
    assert cookie is not None and cookie.expires is not None


def test_a_password_reset_ends_every_session_and_remember_me_cookie(app, db, owner):
    laptop = signed_in(app, owner.email)
    phone = signed_in(app, owner.email, remember=True)
    kept_cookie = remember_cookie(phone).value
    token = team.password_reset_token(owner.id)
    team.reset_password(token, "a brand new password")
    assert laptop.get("/dashboard/").status_code == 302  # back to sign-in
    assert phone.get("/dashboard/").status_code == 302
    # A remember-me cookie copied before the reset signs nobody in either.
    thief = app.test_client()
    thief.set_cookie("remember_token", kept_cookie)
    assert thief.get("/dashboard/").status_code == 302


def test_deactivating_someone_ends_their_sessions(app, db, owner, make_user):
    trainer = make_user(org=owner.organization, name="Tess Trainer", email="tess@acme.example", password=PASSWORD)
    session = signed_in(app, trainer.email, remember=True)
    team.set_active(owner.organization_id, trainer.id, False, acting_user_id=owner.id)
    assert session.get("/dashboard/").status_code == 302
    team.set_active(owner.organization_id, trainer.id, True, acting_user_id=owner.id)
    assert session.get("/dashboard/").status_code == 302  # reactivated: they sign in again
    assert signed_in(app, trainer.email)


def test_signing_out_ends_the_sessions_on_every_device(app, db, owner):
    laptop = signed_in(app, owner.email)
    phone = signed_in(app, owner.email, remember=True)
    token = token_of(laptop.get("/dashboard/"))
    assert laptop.post("/auth/logout", data={"csrf_token": token}).status_code == 303
    assert laptop.get("/dashboard/").status_code == 302
    assert phone.get("/dashboard/").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, owner.id).session_version == 1


def test_a_session_from_before_session_versions_asks_to_sign_in_again(app, owner):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(owner.id)  # no version: signed in before this release
        session["_fresh"] = True
    assert client.get("/dashboard/").status_code == 302
