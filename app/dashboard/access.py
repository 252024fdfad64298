"""Who may see and change what: the fetch-and-authorise helpers (flaskr's get_post pattern).

* Another organization's row, or no row: 404 — the same answer, so ids of other gyms reveal nothing.
* A row of this organization the user may not touch (a trainer looking at a colleague's booking,
  or changing something only owners and admins change): 403.
Owners and admins see and edit everything in their organization; staff see their own bookings,
schedule and booking pages, and edit their own availability. The team's roles are the owner's.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps

from flask import abort, request, url_for
from flask_login import current_user

from app.models import User
from app.services.bookings import Actor
from app.services.errors import NotFound
from app.services.team import get_member


def org_id() -> uuid.UUID:
    return current_user.organization_id


def org_tz() -> str:
    return current_user.organization.timezone


def is_admin() -> bool:
    return current_user.role in ("owner", "admin")


def is_owner() -> bool:
    return current_user.role == "owner"


def admin_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not is_admin():
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def owner_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not is_owner():
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def fetch(getter: Callable, row_id, *args, **kwargs):
    """getter(org_id, row_id) from a service, with NotFound (missing or another org's) as a 404."""
    try:
        return getter(org_id(), row_id, *args, **kwargs)
    except NotFound:
        abort(404)


def check_own(user_id: uuid.UUID | None) -> None:
    """A trainer may only act on their own rows; owners and admins on every row of the organization."""
    if not is_admin() and user_id != current_user.id:
        abort(403)


def trainer_param(value: str | None, *, default_self: bool = True) -> User | None:
    """The trainer a page is about, from a query/form value: staff always get themselves (asking for a
    colleague is a 403); owners and admins any member of their organization (another org's id: 404)."""
    if not value:
        if not is_admin() or default_self:
            return current_user._get_current_object()
        return None
    try:
        member = get_member(org_id(), value)
    except NotFound:
        abort(404)
    check_own(member.id)
    return member


def staff_actor() -> Actor:
    return Actor("staff", id=str(current_user.id), ip=request.remote_addr,
                 user_agent=(request.headers.get("User-Agent") or "")[:300] or None)


# Section → the endpoints (by prefix) that belong to it, for marking the current section in the nav.
SECTIONS = [
    ("dashboard.home", "Overview", ("dashboard.home",)),
    ("dashboard.calendar", "Calendar", ("dashboard.calendar",)),
    ("dashboard.bookings", "Bookings", ("dashboard.booking",)),
    # Everyone: a trainer sees the clients they have bookings with (app/dashboard/clients.py).
    # Everyone: the week of classes and the timetable; a trainer opens the rosters of their own sessions.
    ("dashboard.classes_week", "Classes", ("dashboard.class",)),
    ("dashboard.clients", "Clients", ("dashboard.client",)),
    ("dashboard.availability", "Availability", ("dashboard.availability", "dashboard.rule_", "dashboard.override_",
                                                "dashboard.holiday_")),
    # Everyone: each person connects their own calendar (owners and admins also see the team's).
    ("dashboard.sync_settings", "Calendar sync", ("dashboard.sync_",)),
    ("dashboard.types", "Services", ("dashboard.type",)),
    ("dashboard.links", "Booking pages", ("dashboard.link",)),
    ("dashboard.team", "Team", ("dashboard.team",)),
    ("dashboard.outbox", "Outbox", ("dashboard.outbox",)),
    ("dashboard.api_keys", "API keys", ("dashboard.api_key",)),
    ("dashboard.settings", "Settings", ("dashboard.settings",)),
]
ADMIN_SECTIONS = {"dashboard.team", "dashboard.outbox", "dashboard.api_keys", "dashboard.settings"}


def nav_items() -> list[tuple[str, str, bool]]:
    """(label, url, is current) of the sections this user can open."""
    endpoint = request.endpoint or ""
    return [(label, url_for(target), endpoint.startswith(prefixes))
            for target, label, prefixes in SECTIONS if is_admin() or target not in ADMIN_SECTIONS]


MAX_PAGE = 10_000


def page_arg() -> int:
    """The list page asked for in ?page=, as a page that exists for a query: 1…MAX_PAGE (anything
    else — text, a negative number, 10**20 — is page 1 or the last page a database can offset to)."""
    try:
        page = int(request.args.get("page", 1))
    except (TypeError, ValueError):
        return 1
    return min(max(1, page), MAX_PAGE)
