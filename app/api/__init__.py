"""The JSON API under /api/: public booking and class endpoints, AI tools, webhooks, admin operations.

Requests here are authenticated by tokens and keys, not cookies, so CSRF does not apply.
Importing this package registers every route on `bp`.
"""
from app.api import ai, booking, calendar, classes, notifications, openapi, selftest, twilio  # noqa: F401  (register the routes)
from app.api.blueprint import bp

__all__ = ["bp"]
