"""Notification endpoints: the cron-style processor and its health report (admin key), and the
unsubscribe link that reminder emails carry (a signed token; no sign-in)."""
from __future__ import annotations

from flask import current_app, jsonify, render_template, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.api.admin_key import admin_key_required
from app.api.blueprint import bp
from app.api.responses import service_error_response, validation_error_response
from app.errors import api_error
from app.integrations import queue
from app.services import background, notifications
from app.services.errors import NotFound, ServiceError

DEFAULT_PROCESS_LIMIT = 500


class ProcessBody(BaseModel):
    """POST /api/notifications/process (every member optional; `limit` may come in the query instead)."""

    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(None, ge=1, le=notifications.MAX_PROCESS_LIMIT,
                              description="Claim at most this many due notifications in this call.")


@bp.post("/notifications/process")
@admin_key_required
def process_notifications():
    """Send what is due now, in batches (for deployments that run this from cron instead of a worker).

    Optional `limit` (query or JSON body): how many rows to claim at most in this call."""
    body = request.get_json(silent=True) if request.get_data(cache=True).strip() else {}
    if not isinstance(body, dict):
        return api_error(400, "invalid_request", 'The body must be a JSON object, such as {"limit": 100}.',
                         fields={"body": "a JSON object"})
    try:
        parsed = ProcessBody.model_validate(body)  # checked even when the query gives the limit
        raw = request.args.get("limit") or parsed.limit
        limit = notifications.check_limit(raw) if raw is not None else DEFAULT_PROCESS_LIMIT
        outcome = notifications.process_due(limit=limit)
    except ValidationError as exc:
        return validation_error_response(exc, "The request is not valid.")
    except ServiceError as exc:
        return service_error_response(exc)
    health = notifications.queue_health()
    return jsonify({"success": True, "processed": outcome.as_dict(), "remaining_due": health["due_now"],
                    "counts": health["counts"]})


@bp.get("/notifications/process")
@admin_key_required
def notifications_health():
    """Health and queue counts: rows per status, what is due, the oldest due, stuck sends, and RQ."""
    app = current_app._get_current_object()
    health = notifications.queue_health()
    mode = background.dispatcher_mode(app)
    body = {"success": True, "mode": mode, **health}
    if mode == "rq":
        try:
            body["redis"] = queue.notification_queue_health(app)
        except Exception as exc:  # noqa: BLE001 (report it, don't fail the health check itself)
            body["redis"] = {"ok": False, "error": str(exc) or exc.__class__.__name__}
    elif mode == "thread":
        dispatcher = app.extensions.get("notifications_dispatcher")
        body["dispatcher"] = {"running": bool(dispatcher and dispatcher.is_alive())}
    healthy = body["stuck_sending"] == 0 and (mode != "rq" or body["redis"].get("ok"))
    body["healthy"] = bool(healthy)
    return jsonify(body), 200


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET: a page with a button (mail scanners open links; they must not unsubscribe anyone).
    POST: unsubscribe — also RFC 8058 one-click (List-Unsubscribe-Post) from the mail client."""
    try:
        if request.method == "POST":
            org, email = notifications.unsubscribe_email(token)
            state = "done"
        else:
            org, email = notifications.read_unsubscribe_token(token)
            state = "ask"
    except NotFound:
        return render_template("notifications/unsubscribe.html", state="invalid", org_name=None, email=None,
                               action=None), 404
    return render_template("notifications/unsubscribe.html", state=state, org_name=org.name, email=email,
                           action=request.path)
