"""The API blueprint (its routes live in the modules beside this one)."""
from flask import Blueprint

from app.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
# Requests here are authenticated by tokens and keys, not cookies, so CSRF does not apply.
csrf.exempt(bp)
