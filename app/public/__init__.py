from flask import Blueprint

bp = Blueprint("public", __name__)

from app.public import routes  # noqa: E402,F401
from app.public import assistant  # noqa: E402,F401  (the booking assistant)
