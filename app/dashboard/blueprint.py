"""The dashboard blueprint and what every dashboard request goes through: sign-in, private caching,
the navigation (routes live in the modules beside this one)."""
from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

from app.dashboard.access import nav_items
from app.extensions import htmx
from app.services.branding import is_hex_color

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.before_request
def require_sign_in():
    if current_user.is_authenticated:
        return None
    target = request.full_path if request.query_string else request.path
    if request.method != "GET":
        target = url_for("dashboard.home")
    location = url_for("auth.login", next=target)
    if htmx:
        # htmx would swap a sign-in page into a fragment: send the whole window there instead.
        return "", 401, {"HX-Redirect": location}
    return redirect(location)


@bp.after_request
def private_pages(response):
    # Pages and fragments differ per request header and per person: keep caches out of it.
    response.vary.add("HX-Request")
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


@bp.context_processor
def dashboard_globals():
    if not current_user.is_authenticated:
        return {}
    return {"nav_items": nav_items(), "org": current_user.organization}


@bp.app_template_filter("hex_color")
def hex_color(value: str | None, default: str = "") -> str:
    """A colour safe to put in a style attribute: #rrggbb, or the default."""
    return value if is_hex_color(value) else default
