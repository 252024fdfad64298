"""The public blueprint: the front page, booking pages and manage pages (routes beside this module)."""
from flask import Blueprint

bp = Blueprint("public", __name__)
