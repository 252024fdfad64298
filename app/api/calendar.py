"""Google Calendar endpoints (paths from the spec).

* GET /api/calendar/google/connect — a signed-in member of staff is sent to Google's consent
  screen (state + PKCE; the verifier stays in the database).
* GET /api/calendar/google/callback — Google sends them back here; tokens are stored encrypted,
  calendars listed, and they land on the dashboard's calendar-sync page to choose calendars.
* POST /api/calendar/webhooks/google — push notifications. Authenticated by the channel id and
  the channel's random token (stored hashed); an unknown channel (404) or a wrong token (403) is
  rejected and logged. `sync` is acknowledged; `exists`/`not_exists` start an incremental sync.
* GET /api/calendar/webhooks/google — health check for the webhook endpoint.

The first two are browser steps of a person signed in to the dashboard, so they answer with
redirects and flashed messages rather than JSON.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user, login_required

from app.api.blueprint import bp
from app.api.responses import iso_utc
from app.errors import api_error
from app.extensions import limiter
from app.services import calendar as calendar_sync
from app.services import urls
from app.services.errors import InvalidRequest, NotFound, ServiceError

log = logging.getLogger(__name__)


def _redirect_uri() -> str:
    return urls.google_callback_url()


def _back_to_dashboard():
    return redirect(url_for("dashboard.sync_settings"))


@bp.get("/calendar/google/connect")
@login_required
def google_connect():
    """Send the signed-in person to Google's consent screen."""
    try:
        url = calendar_sync.start_connect(current_user, _redirect_uri())
    except ServiceError as exc:
        flash(exc.message, "error")
        return _back_to_dashboard()
    return redirect(url)


@bp.get("/calendar/google/callback")
@login_required
def google_callback():
    """Finish connecting: check state, exchange the code, store tokens, list calendars."""
    try:
        connection = calendar_sync.finish_connect(
            current_user, state=request.args.get("state"), code=request.args.get("code"),
            error=request.args.get("error"), redirect_uri=_redirect_uri())
    except ServiceError as exc:
        flash(exc.message, "error")
        return _back_to_dashboard()
    flash(f"Google Calendar connected ({connection.account_email}). Choose which calendars block your "
          "availability and which one receives bookings.", "success")
    return _back_to_dashboard()


@bp.post("/calendar/webhooks/google")
@limiter.limit(lambda: current_app.config["RATELIMIT_WEBHOOK"])
def google_webhook():
    """A push notification: check the channel and its token, then sync that calendar."""
    channel_id = request.headers.get("X-Goog-Channel-ID")
    state = (request.headers.get("X-Goog-Resource-State") or "").lower()
    try:
        calendar_sync.receive_push(channel_id, request.headers.get("X-Goog-Channel-Token"),
                                   request.headers.get("X-Goog-Resource-ID"), state)
    except NotFound:
        log.warning("google webhook: unknown channel %r from %s", (channel_id or "")[:64], request.remote_addr)
        return api_error(404, "unknown_channel", "No such notification channel.")
    except calendar_sync.ChannelRejected as exc:
        log.warning("google webhook: rejected channel %r from %s: %s", (channel_id or "")[:64],
                    request.remote_addr, exc.message)
        return api_error(403, exc.code, exc.message)
    except InvalidRequest as exc:
        return api_error(400, exc.code, exc.message, fields=exc.fields)
    return jsonify({"success": True, "state": state})


@bp.get("/calendar/webhooks/google")
def google_webhook_health():
    """Health check: the endpoint is up, and whether Google Calendar is configured."""
    return jsonify({
        "success": True, "status": "ok", "service": "google-calendar-webhook",
        "configured": calendar_sync.settings() is not None,
        "webhook_url": current_app.config["GOOGLE_WEBHOOK_URL"],
        "time": iso_utc(datetime.now(timezone.utc)),
    })
