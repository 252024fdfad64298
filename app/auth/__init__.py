"""Sign-in, sign-out and password reset for staff (flask-login sessions)."""
from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from app.auth import routes  # noqa: E402,F401
