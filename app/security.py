"""Security headers on every response.

* `Content-Security-Policy`: scripts and stylesheets from this site only (htmx is vendored), no
  inline script at all; the one inline stylesheet (a booking page's brand colours) carries this
  response's nonce; `style` attributes are allowed (positions and colours in the calendar), nothing
  else inline. Images may come from https (a gym's logo).
* Framing: the dashboard, sign-in and the API can never be framed (`frame-ancestors 'none'`). A gym's
  public booking and manage pages may be embedded in its own website: the views name the
  organization's allowed origins (set on the dashboard's settings page) in `g.frame_origins`.
* `X-Content-Type-Options: nosniff`; `Referrer-Policy: strict-origin-when-cross-origin` unless a page
  already chose a stricter one (pages with a secret in their URL say `no-referrer`); HSTS when the
  portal's address is https.
"""
from __future__ import annotations

import secrets

from flask import Flask, current_app, g

HSTS = "max-age=31536000; includeSubDomains"


def csp_nonce() -> str:
    """This response's nonce for the inline <style> a page needs (made on first use)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def allow_framing_by(origins) -> None:
    """Let these origins (the organization's own websites) frame the page being answered."""
    g.frame_origins = tuple(origins or ())


def content_security_policy(nonce: str | None, frame_origins: tuple[str, ...] | None) -> str:
    style = "style-src 'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    ancestors = "'none'" if not frame_origins else "'self' " + " ".join(frame_origins)
    return "; ".join((
        "default-src 'self'", "script-src 'self'", style, "style-src-attr 'unsafe-inline'",
        "img-src 'self' https: data:", "font-src 'self'", "connect-src 'self'", "form-action 'self'",
        "base-uri 'self'", "object-src 'none'", f"frame-ancestors {ancestors}",
    ))


def add_security_headers(response):
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(g.get("csp_nonce"), g.get("frame_origins"))
    if not g.get("frame_origins"):
        headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if current_app.config["APP_URL"].startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
    app.add_template_global(csp_nonce)
