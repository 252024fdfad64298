"""API keys: random, shown once, stored hashed, one organization, scopes, revocable."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.models import ApiKey
from app.services import api_keys
from app.services.errors import Conflict, InvalidRequest, NotFound


def test_a_new_key_is_random_prefixed_and_stored_only_as_its_hash(db, gym):
    first = api_keys.create_api_key(gym.org.id, name="  Claude   agent ", scopes=["bookings:read"],
                                    created_by_id=gym.owner.id)
    second = api_keys.create_api_key(gym.org.id, name="Other", scopes=["bookings:read"])
    assert first.token.startswith("atlas_sk_") and len(first.token) > 40
    assert first.token != second.token
    row = db.session.scalars(select(ApiKey).where(ApiKey.id == first.key.id)).one()
    assert row.key_hash == hashlib.sha256(first.token.encode()).hexdigest()
    assert row.prefix == first.token[:15] and first.token not in str(vars(row))
    assert (row.name, row.scopes, row.created_by_id) == ("Claude agent", ["bookings:read"], gym.owner.id)


def test_scopes_are_kept_in_a_fixed_order(gym):
    created = api_keys.create_api_key(gym.org.id, name="k", scopes=["bookings:write", "availability:read"])
    assert created.key.scopes == ["availability:read", "bookings:write"]


@pytest.mark.parametrize("name, scopes, field", [
    ("", ["bookings:read"], "name"), ("x" * 101, ["bookings:read"], "name"),
    ("k", [], "scopes"), ("k", ["admin:everything"], "scopes"),
])
def test_invalid_keys_are_refused(db, gym, name, scopes, field):
    with pytest.raises(InvalidRequest) as caught:
        api_keys.create_api_key(gym.org.id, name=name, scopes=scopes)
    assert field in caught.value.fields
    assert db.session.scalars(select(ApiKey)).all() == []


def test_authenticate_records_last_use_to_the_minute(db, gym):
    created = api_keys.create_api_key(gym.org.id, name="k", scopes=["bookings:read"])
    t0 = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)
    assert api_keys.authenticate(created.token, now=t0).id == created.key.id
    assert created.key.last_used_at == t0
    api_keys.authenticate(created.token, now=t0 + timedelta(seconds=30))
    assert created.key.last_used_at == t0  # not a write per call
    api_keys.authenticate(created.token, now=t0 + timedelta(minutes=2))
    db.session.expire_all()
    assert db.session.get(ApiKey, created.key.id).last_used_at == t0 + timedelta(minutes=2)


@pytest.mark.parametrize("token", [None, "", "atlas_sk_", "atlas_sk_wrong", "sk_live_123", "atlas_sk_" + "a" * 200])
def test_unknown_tokens_authenticate_nothing(gym, token):
    api_keys.create_api_key(gym.org.id, name="k", scopes=["bookings:read"])
    assert api_keys.authenticate(token) is None


def test_revoked_keys_authenticate_nothing_and_revoking_twice_is_refused(gym):
    created = api_keys.create_api_key(gym.org.id, name="k", scopes=["bookings:read"])
    api_keys.revoke_api_key(gym.org.id, created.key.id)
    assert api_keys.authenticate(created.token) is None
    with pytest.raises(Conflict):
        api_keys.revoke_api_key(gym.org.id, created.key.id)


def test_another_organizations_key_is_not_found(gym, rival):
    created = api_keys.create_api_key(rival.id, name="theirs", scopes=["bookings:read"])
    for key_id in (created.key.id, "not-a-uuid"):
        with pytest.raises(NotFound):
            api_keys.get_api_key(gym.org.id, key_id)
        with pytest.raises(NotFound):
            api_keys.revoke_api_key(gym.org.id, key_id)
    assert api_keys.list_api_keys(gym.org.id) == []


def test_keys_go_when_their_organization_does(db, gym):
    from sqlalchemy import text

    api_keys.create_api_key(gym.org.id, name="k", scopes=["bookings:read"])
    org_id = gym.org.id.hex if db.engine.dialect.name == "sqlite" else gym.org.id
    db.session.execute(text("DELETE FROM organizations WHERE id = :id"), {"id": org_id})
    db.session.commit()
    assert db.session.scalars(select(ApiKey)).all() == []
