"""Encryption at rest for OAuth tokens (and other secrets the portal must be able to read back).

Fernet (AES-128-CBC + HMAC-SHA256, from the cryptography package). Keys come from
CALENDAR_TOKEN_KEYS — comma-separated Fernet keys, newest first, so a key can be rotated: new
values are encrypted with the first, old values still decrypt with the others. Without it a key is
derived from SECRET_KEY with HKDF, so the embedded default works with nothing to set up.
"""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class VaultError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"atlas-booking/token-vault", info=b"fernet-key")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _box() -> MultiFernet:
    config = current_app.config
    cached = current_app.extensions.get("token_vault")
    fingerprint = (config["CALENDAR_TOKEN_KEYS"], config["SECRET_KEY"])
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    configured = [k.strip() for k in (config["CALENDAR_TOKEN_KEYS"] or "").split(",") if k.strip()]
    keys = [Fernet(k) for k in configured] or [Fernet(_derived_key(config["SECRET_KEY"]))]
    box = MultiFernet(keys)
    current_app.extensions["token_vault"] = (fingerprint, box)
    return box


def encrypt(value: str | None) -> bytes | None:
    """The value encrypted with the newest key (None stays None)."""
    return None if value is None else _box().encrypt(value.encode())


def decrypt(value: bytes | None) -> str | None:
    """The plain value; VaultError when no configured key opens it."""
    if value is None:
        return None
    try:
        return _box().decrypt(bytes(value)).decode()
    except InvalidToken:
        raise VaultError("stored secret cannot be decrypted with the configured keys") from None
