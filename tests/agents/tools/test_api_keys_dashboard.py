"""The dashboard's API keys page: owners and admins create keys (shown once) and revoke them."""
from __future__ import annotations

import hashlib
import re

import pytest
from ai_helpers import MONDAY
from sqlalchemy import select

from app.models import ApiKey

HTMX = {"HX-Request": "true", "HX-Target": "api-keys-panel"}


@pytest.fixture
def admin(gym, make_user):
    return make_user(org=gym.org, name="Ada Admin", role="admin", email="ada@atlas.example")


def shown_key(response) -> str | None:
    match = re.search(r'id="new-key-value" type="text" readonly value="(atlas_sk_[^"]+)"',
                      response.get_data(as_text=True))
    return match.group(1) if match else None


def create(client, token, name="Claude", scopes=("availability:read", "bookings:write"), headers=None):
    return client.post("/dashboard/api-keys", data={"csrf_token": token, "name": name, "scopes": list(scopes)},
                       headers=headers or {})


def test_owner_creates_a_key_that_is_shown_once_and_stored_hashed(signed_in, db, gym):
    client, token = signed_in(gym.owner)
    page = client.get("/dashboard/api-keys")
    assert page.status_code == 200 and "No keys yet" in page.get_data(as_text=True)
    assert 'aria-current="page">API keys' in page.get_data(as_text=True)

    response = create(client, token)
    assert response.status_code == 200
    secret = shown_key(response)
    assert secret and secret.startswith("atlas_sk_")
    assert "won't be shown again" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "private, no-store"
    row = db.session.scalars(select(ApiKey)).one()
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.scopes == ["availability:read", "bookings:write"] and row.created_by_id == gym.owner.id
    # Shown once: the list shows only the prefix from now on.
    again = client.get("/dashboard/api-keys").get_data(as_text=True)
    assert secret not in again and row.prefix in again and "Never" in again
    # And the key works.
    used = client.post("/api/ai/booking", json={"action": "find_availability", "date": MONDAY},
                       headers={"Authorization": f"Bearer {secret}"})
    assert used.status_code == 200


def test_htmx_create_answers_with_the_panel_fragment(signed_in, db, admin):
    client, token = signed_in(admin)
    response = create(client, token, headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "dash-nav" not in body
    assert shown_key(response) and response.headers["HX-Trigger"] == "apiKeysChanged"


def test_invalid_form_is_a_422_with_errors(signed_in, db, gym):
    client, token = signed_in(gym.owner)
    response = create(client, token, name="", scopes=())
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Name the key." in body and "Choose at least one permission." in body
    assert shown_key(response) is None and db.session.scalars(select(ApiKey)).all() == []
    response = create(client, token, scopes=("admin:everything",))
    assert response.status_code == 422 and db.session.scalars(select(ApiKey)).all() == []


def test_create_needs_the_csrf_token(signed_in, db, gym):
    client, _ = signed_in(gym.owner)
    response = client.post("/dashboard/api-keys", data={"name": "k", "scopes": ["bookings:read"]})
    assert response.status_code in (400, 422)
    assert db.session.scalars(select(ApiKey)).all() == []


def test_revoke_with_a_no_js_confirm(signed_in, db, gym, make_key):
    row, secret = make_key(gym.org, name="Old agent")
    client, token = signed_in(gym.owner)
    page = client.get("/dashboard/api-keys").get_data(as_text=True)
    # The confirmation is a <details> disclosure around a real form: no JavaScript needed.
    assert "<details" in page and f'action="/dashboard/api-keys/{row.id}/revoke"' in page
    response = client.post(f"/dashboard/api-keys/{row.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard/api-keys")
    db.session.expire_all()
    assert db.session.get(ApiKey, row.id).revoked_at is not None
    listed = client.get("/dashboard/api-keys").get_data(as_text=True)
    assert "Revoked" in listed and f"/dashboard/api-keys/{row.id}/revoke" not in listed
    assert client.post("/api/ai/booking", json={"action": "get_bookings"},
                       headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    # Revoking again: told, not an error page.
    again = client.post(f"/dashboard/api-keys/{row.id}/revoke", data={"csrf_token": token}, follow_redirects=True)
    assert "already revoked" in again.get_data(as_text=True)


def test_htmx_revoke_answers_with_the_panel(signed_in, db, gym, make_key):
    row, _ = make_key(gym.org, name="Old agent")
    client, token = signed_in(gym.owner)
    response = client.post(f"/dashboard/api-keys/{row.id}/revoke", data={"csrf_token": token}, headers=HTMX)
    assert response.status_code == 200 and "Revoked Old agent" in response.get_data(as_text=True)


@pytest.mark.parametrize("method, url", [("GET", "/dashboard/api-keys"), ("POST", "/dashboard/api-keys"),
                                         ("POST", "/dashboard/api-keys/{key}/revoke")])
def test_trainers_get_403_and_no_nav_entry(signed_in, db, gym, make_key, method, url):
    row, _ = make_key(gym.org)
    client, token = signed_in(gym.alex)
    url = url.format(key=row.id)
    response = client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token, "name": "x",
                                                                             "scopes": ["bookings:read"]})
    assert response.status_code == 403
    assert "API keys" not in client.get("/dashboard/").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ApiKey, row.id).revoked_at is None and len(db.session.scalars(select(ApiKey)).all()) == 1


def test_another_organizations_key_is_404_and_never_listed(signed_in, db, gym, rival, make_key):
    row, _ = make_key(rival, name="Rival secret agent")
    client, token = signed_in(gym.owner)
    assert client.post(f"/dashboard/api-keys/{row.id}/revoke", data={"csrf_token": token}).status_code == 404
    assert client.post("/dashboard/api-keys/not-a-uuid/revoke", data={"csrf_token": token}).status_code == 404
    assert "Rival secret agent" not in client.get("/dashboard/api-keys").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ApiKey, row.id).revoked_at is None


def test_signed_out_is_sent_to_sign_in(client, gym):
    response = client.get("/dashboard/api-keys")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
