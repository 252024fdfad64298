"""The admin key that guards operator endpoints (notification processing, the system self-test).

`Authorization: Bearer <ADMIN_API_KEY>`, compared in constant time. With no key configured nobody
gets in: an operator endpoint must never be open because a setting was forgotten.
"""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, request

from app.errors import api_error


def admin_key_ok() -> bool:
    """True when the request carries the configured admin key as a Bearer token."""
    expected = current_app.config["ADMIN_API_KEY"] or ""
    scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def unauthorized():
    """The 401 every admin endpoint answers without a valid key."""
    response, status = api_error(401, "unauthorized", "A valid admin key is required (Authorization: Bearer …).")
    response.headers["WWW-Authenticate"] = 'Bearer realm="atlas-admin"'
    return response, status


def admin_key_required(view):
    """Decorator: answer 401 unless the request carries the admin key."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not admin_key_ok():
            return unauthorized()
        return view(*args, **kwargs)

    return guarded
