"""Public pages: the portal's front page and the health check."""
from __future__ import annotations

from flask import current_app, jsonify, render_template
from sqlalchemy import select, text

from app.extensions import db
from app.models import BookingLink, Organization
from app.public import bp


@bp.get("/")
def index():
    """The front page: each organization's public booking links."""
    orgs = db.session.scalars(select(Organization).order_by(Organization.name)).all()
    links = db.session.scalars(
        select(BookingLink)
        .where(BookingLink.is_public.is_(True), BookingLink.is_active.is_(True))
        .order_by(BookingLink.name)
    ).all()
    links_by_org: dict = {}
    for link in links:
        links_by_org.setdefault(link.organization_id, []).append(link)
    return render_template(
        "public/index.html",
        orgs=orgs,
        links_by_org=links_by_org,
        booking_pages_enabled="public.book" in current_app.view_functions,
    )


@bp.get("/healthz")
def healthz():
    """Liveness and database reachability, as JSON (503 when the database cannot be reached)."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # any driver error means "not reachable" here
        db.session.rollback()
        current_app.logger.warning("healthz: database unreachable: %s", type(exc).__name__)
        database = "unreachable"
    status = 200 if database == "ok" else 503
    return jsonify({"status": "ok" if status == 200 else "degraded", "database": database}), status
