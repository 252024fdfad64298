"""Calendar sync: each member of staff connects their own Google Calendar, chooses which calendars
block their availability and which one receives their bookings, and sees why sync is degraded
(a connection needing reconnecting, busy times that cannot be read, bookings not written).

Owners and admins also see the team at a glance and may disconnect a colleague's connection; staff
only ever touch their own (a colleague's or another organization's connection, or a malformed id,
answers 404 — the service's rule). The OAuth steps themselves are the API's browser endpoints
(`api.google_connect` and its callback, which lands back here).
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, flash, request, url_for
from flask_login import current_user

from app.dashboard.access import is_admin, org_id, org_tz
from app.dashboard.blueprint import bp
from app.extensions import htmx
from app.htmx import render, see_other
from app.models import CalendarConnection
from app.services import calendar as calendar_sync
from app.services import team as team_service
from app.services.errors import InvalidRequest, NotFound

TEMPLATE = "dashboard/calendar_sync.html"
# Sent after a change, so the notices at the top of the page (problems) catch up with an htmx save.
CALENDAR_SYNC_CHANGED = "calendarSyncChanged"
# A connection's status → its badge: the words, and the badge colour of the shared badge styles.
STATUS_LABELS = {"active": ("Connected", "confirmed"), "needs_reconnect": ("Needs reconnecting", "pending"),
                 "error": ("Error", "cancelled"), "revoked": ("Access revoked", "cancelled")}


def _connection(connection_id) -> CalendarConnection:
    """The connection if the signed-in person may manage it (their own; owners and admins also a
    colleague's). Anything else — another organization's, a malformed id — is a 404."""
    try:
        return calendar_sync.get_connection(connection_id, current_user)
    except NotFound:
        abort(404)


def _team() -> list[dict]:
    """Every active member of staff with their connections, problems and failed write-backs."""
    members = team_service.team(org_id(), active_only=True)
    problems = calendar_sync.calendar_problems(members)
    connections = calendar_sync.connections_by_user(members)
    failed = calendar_sync.failed_write_counts(org_id())
    return [{"member": member, "connections": connections.get(member.id, []),
             "problems": problems.get(member.id, []), "failed": failed.get(member.id, 0)} for member in members]


def _page(*, status: int = 200, block: str | None = None, connection: CalendarConnection | None = None,
          notice: str | None = None, notice_kind: str = "ok", posted: dict | None = None, trigger: str | None = None):
    """The whole page, or (block="connection_card") one connection's card."""
    user = current_user._get_current_object()
    configured = calendar_sync.settings() is not None
    connections = calendar_sync.connections_for(user)
    destination = next((c for conn in connections for c in conn.calendars if c.is_destination), None)
    context = {
        "configured": configured, "tz": org_tz(), "now": datetime.now(timezone.utc), "labels": STATUS_LABELS,
        "destination": destination, "admin": is_admin(), "notices": {}, "posted": {},
    }
    if connection is not None:
        context["notices"] = {connection.id: (notice, notice_kind)} if notice else {}
        context["posted"] = {connection.id: posted} if posted else {}
    if block == "connection_card":
        return render(TEMPLATE, status=status, block=block, trigger=trigger, connection=connection, **context)
    return render(TEMPLATE, ["sync_problems"], status=status, block=block, trigger=trigger, connections=connections,
                  problems=calendar_sync.calendar_problems([user]).get(user.id, []),
                  failed=calendar_sync.failed_writes(org_id(), staff_id=user.id),
                  team=_team() if configured and is_admin() else None, **context)


@bp.get("/calendar-sync")
def sync_settings():
    """The signed-in person's Google connections and calendars; for owners and admins, the team's."""
    return _page()


@bp.post("/calendar-sync/<connection_id>")
def sync_select(connection_id):
    """Save which calendars block availability and which one receives bookings, then set them up
    (push channels, busy times) in the background."""
    connection = _connection(connection_id)
    conflict_ids = request.form.getlist("conflict")
    destination_id = request.form.get("destination") or None
    try:
        connection = calendar_sync.update_selection(connection.id, current_user, conflict_ids=conflict_ids,
                                                    destination_id=destination_id)
    except InvalidRequest as exc:
        # Nothing was changed; the form comes back with what was ticked and the reason.
        posted = {"conflict": set(conflict_ids), "destination": destination_id or ""}
        return _page(status=422, block="connection_card" if htmx else None, connection=connection,
                     notice=exc.message, notice_kind="error", posted=posted)
    message = f"Calendar choices saved for {connection.account_email}."
    if htmx:
        return _page(block="connection_card", connection=connection, notice=message, trigger=CALENDAR_SYNC_CHANGED)
    flash(message, "success")
    return see_other(url_for("dashboard.sync_settings"))


@bp.post("/calendar-sync/<connection_id>/sync")
def sync_now(connection_id):
    """Read busy times and changes from Google now, and write any bookings still waiting."""
    connection = _connection(connection_id)
    try:
        calendar_sync.sync_now(connection.id, current_user)
    except calendar_sync.GoogleNotConfigured:
        flash("Google Calendar isn't set up on this portal, so nothing can be synced.", "error")
        return see_other(url_for("dashboard.sync_settings"))
    flash(f"Syncing {connection.account_email} with Google now: busy times and bookings are refreshed "
          "in the background.", "success")
    return see_other(url_for("dashboard.sync_settings"))


@bp.post("/calendar-sync/<connection_id>/disconnect")
def sync_disconnect(connection_id):
    """Disconnect a Google account: its calendars stop blocking availability and receiving bookings."""
    connection = _connection(connection_id)
    email = connection.account_email
    whose = "" if connection.user_id == current_user.id \
        else f"{team_service.get_member(org_id(), connection.user_id).name}'s "
    calendar_sync.disconnect(connection.id, current_user)
    flash(f"Disconnected {whose}Google Calendar ({email}). Events already written stay in Google; "
          "new bookings are no longer added.", "success")
    return see_other(url_for("dashboard.sync_settings"))
