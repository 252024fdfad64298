"""Hostile input on sign-in: a NUL character, a non-ASCII `next=` (with and without htmx)."""
from __future__ import annotations

import pytest
from auth_helpers import PASSWORD, sign_in, token_of


def test_a_nul_character_in_the_email_is_a_400(client, owner):
    response = sign_in(client, "olivia\x00@acme.example", PASSWORD)
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)


@pytest.mark.parametrize("htmx", [False, True])
def test_a_non_ascii_next_is_followed_percent_encoded(client, owner, htmx):
    token = token_of(client.get("/auth/login"))
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post("/auth/login", headers=headers, data={
        "csrf_token": token, "email": owner.email, "password": PASSWORD, "next": "/dashboard/bookings?q=Zoë Ünal"})
    location = response.headers["HX-Redirect" if htmx else "Location"]
    assert response.status_code == (200 if htmx else 303)
    assert location == "/dashboard/bookings?q=Zo%C3%AB%20%C3%9Cnal"
    location.encode("latin-1")  # a header value a server can send
