"""Helpers shared by the sign-in tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import re

PASSWORD = "correct horse battery"  # the factories' default


def token_of(response) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', response.get_data(as_text=True)).group(1)


def sign_in(client, email: str, password: str, **extra):
    token = token_of(client.get("/auth/login"))
    return client.post("/auth/login", data={"csrf_token": token, "email": email, "password": password, **extra})
