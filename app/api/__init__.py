"""The JSON API under /api/: public booking endpoints, AI tools, webhooks, admin operations.

Requests here are authenticated by tokens and keys, not cookies, so CSRF does not apply.
"""
from flask import Blueprint

from app.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)

from app.api import booking  # noqa: E402,F401
from app.api import calendar, notifications, twilio  # noqa: E402,F401
from app.api import ai  # noqa: E402,F401
from app.api import selftest  # noqa: E402,F401
