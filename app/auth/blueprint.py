"""The sign-in blueprint (routes in routes.py)."""
from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")
