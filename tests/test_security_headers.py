"""Security headers on every response: a Content-Security-Policy with only our own scripts and
styles (the brand colours' inline stylesheet carries the response's nonce), no framing of the
dashboard or sign-in, framing of a gym's booking pages only by the websites it lists, nosniff,
a referrer policy, HSTS under https."""
from __future__ import annotations

import re

import pytest

from app import create_app
from app.extensions import db


def csp(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
            for part in (p.strip() for p in header.split(";")) if part}


@pytest.fixture
def gym(make_org, make_trainer, make_appointment_type, make_link, make_user):
    org = make_org(slug="acme", name="Acme")
    trainer = make_trainer(org=org, name="Alex")
    make_link([trainer], [make_appointment_type(org=org)], slug="pt")
    return org


@pytest.mark.parametrize("path", ["/auth/login", "/", "/healthz", "/api/booking/availability?link=pt"])
def test_every_response_has_the_headers(client, gym, path):
    response = client.get(path)
    policy = csp(response)
    assert policy["script-src"] == "'self'" and "'unsafe-inline'" not in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'" and response.headers["X-Frame-Options"] == "DENY"
    assert policy["object-src"] == "'none'" and policy["default-src"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # http://localhost


def test_the_booking_pages_inline_style_carries_the_nonce(client, gym):
    response = client.get("/book/pt")
    nonce = re.search(r"'nonce-([^']+)'", csp(response)["style-src"]).group(1)
    assert f'<style nonce="{nonce}">' in response.get_data(as_text=True)
    assert client.get("/book/pt").headers["Content-Security-Policy"] != response.headers["Content-Security-Policy"]


def test_a_gym_may_let_its_own_website_frame_its_booking_pages(client, db, gym):
    gym.settings = {**(gym.settings or {}), "frame_origins": ["https://www.acme.example"]}
    db.session.commit()
    response = client.get("/book/pt")
    assert csp(response)["frame-ancestors"] == "'self' https://www.acme.example"
    assert "X-Frame-Options" not in response.headers
    assert csp(client.get("/auth/login"))["frame-ancestors"] == "'none'"  # never the sign-in page


def test_hsts_when_the_portal_is_https(app_config):
    key = "Z" * 20 + "q8Lx3vNp2Ws7Rt5Y" + "k" * 12
    app = create_app(dict(app_config, APP_URL="https://book.example.com", SECRET_KEY=key))
    response = app.test_client().get("/healthz")
    with app.app_context():
        db.engine.dispose()  # this app's own pool: close its connection now, not when collected
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def parse_origins(text):
    from app.services import team

    return team.parse_frame_origins(text)


def test_frame_origins_are_https_origins_only():
    assert parse_origins("https://www.acme.example/\nhttps://Acme.example:8443, https://www.acme.example") == [
        "https://www.acme.example", "https://acme.example:8443"]
    for bad in ("http://acme.example", "https://acme.example/booking", "javascript:alert(1)", "*", "acme.example"):
        from app.services.errors import InvalidRequest

        with pytest.raises(InvalidRequest) as caught:
            parse_origins(bad)
        assert "frame_origins" in caught.value.fields
