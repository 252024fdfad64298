"""The booking assistant in the dashboard: GET/POST /dashboard/assistant (404 without a key).

It acts as the signed-in person (`principal_for_staff`): owners and admins may book, move and cancel;
trainers find times and read their own bookings, as elsewhere in the dashboard. Every tool call is
audited as the AI acting for that person ("assistant:<user id>").
"""
from __future__ import annotations

from flask import abort, current_app, request, url_for
from flask_login import current_user

from app.agents import panel as assistant_panel
from app.agents import principal_for_staff
from app.dashboard.access import staff_actor
from app.dashboard.blueprint import bp
from app.extensions import limiter
from app.htmx import BOOKING_CHANGED, private, render, wants_fragment


def _per_person() -> str:
    return f"user:{current_user.get_id()}" if current_user.is_authenticated else (request.remote_addr or "")


@bp.get("/assistant")
def assistant():
    """The assistant in a page of its own (where the dock's form lands without JavaScript)."""
    if not assistant_panel.enabled():
        abort(404)
    return private(render("dashboard/assistant.html"))


@bp.post("/assistant")
@limiter.limit(lambda: current_app.config["RATELIMIT_ASSISTANT"], key_func=_per_person)
def assistant_send():
    """One message to the assistant: its page again with the conversation, or for htmx the new exchange."""
    if not assistant_panel.enabled():
        abort(404)
    user = current_user._get_current_object()
    seen = staff_actor()  # this request's address and browser, for the audit trail
    principal = principal_for_staff(user).seen_from(seen.ip, seen.user_agent)
    org = user.organization
    context = {
        "organization": {"name": org.name, "slug": org.slug, "timezone": org.timezone},
        "timezone": user.timezone or org.timezone,
        "user": {"name": user.name, "role": user.role},
        "fallback": ", or use the dashboard's pages",
    }
    panel, status = assistant_panel.handle(principal, context=context, audience=f"staff:{user.id}",
                                           action=url_for("dashboard.assistant_send"))
    if wants_fragment():
        response = assistant_panel.fragment_response(panel, status)
        if panel.changed:
            response.headers["HX-Trigger"] = BOOKING_CHANGED
        return private(response)
    return private(render("dashboard/assistant.html", status=status, assistant=panel))
