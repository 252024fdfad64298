"""The outbox: every email and SMS the portal sent, will send, skipped or gave up on — with the last
error and a Retry button for failed ones. Owners and admins only; another organization's message
answers 404. On the embedded default (no SMTP) the page also shows what each email looked like."""
from __future__ import annotations

from flask import flash, request, url_for

from app.dashboard.access import admin_required, fetch, org_id, org_tz, page_arg
from app.dashboard.blueprint import bp
from app.extensions import htmx
from app.htmx import render, see_other
from app.models.notifications import NOTIFICATION_STATUSES
from app.services import notifications
from app.services.errors import Conflict

PER_PAGE = 50
TEMPLATE_LABELS = {
    "booking_confirmation": "Confirmation",
    "booking_update": "Booking moved",
    "booking_cancellation": "Cancellation",
    "booking_reminder": "Reminder",
    "staff_booking_created": "Trainer: new booking",
    "staff_booking_rescheduled": "Trainer: booking moved",
    "staff_booking_cancelled": "Trainer: booking cancelled",
    "staff_booking_assigned": "Trainer: booking moved to them",
    "staff_booking_unassigned": "Trainer: booking moved to a colleague",
    "staff_calendar_reconnect": "Trainer: reconnect Google Calendar",
    "staff_calendar_write_failures": "Trainer: bookings not in Google Calendar",
    "class_booked": "Class: booked",
    "class_waitlisted": "Class: on the waitlist",
    "class_promoted": "Class: off the waitlist, booked",
    "class_spot_cancelled": "Class: spot cancelled",
    "class_session_cancelled": "Class: class cancelled",
    "class_session_changed": "Class: class changed",
    "class_reminder": "Class: reminder",
}
OUTBOX_CHANGED = "outboxChanged"


def _filters() -> tuple[str | None, str | None, int]:
    status = request.args.get("status") or None
    channel = request.args.get("channel") or None
    status = status if status in NOTIFICATION_STATUSES else None
    channel = channel if channel in ("email", "sms") else None
    return status, channel, page_arg()


def _list_page(*, status_code: int = 200, notice: str | None = None, notice_kind: str = "ok",
               block: str | None = None, trigger: str | None = None):
    status, channel, page = _filters()
    rows, total, counts = notifications.outbox_page(org_id(), status=status, channel=channel, limit=PER_PAGE,
                                                    offset=(page - 1) * PER_PAGE)
    args = {k: v for k, v in {"status": status, "channel": channel}.items() if v}
    return render("dashboard/outbox.html", ["outbox_list"], status=status_code, block=block, trigger=trigger,
                  rows=rows, total=total, counts=counts, page=page, pages=max(1, -(-total // PER_PAGE)), args=args,
                  selected_status=status, selected_channel=channel, statuses=NOTIFICATION_STATUSES,
                  labels=TEMPLATE_LABELS, tz=org_tz(), notice=notice, notice_kind=notice_kind)


@bp.get("/outbox")
@admin_required
def outbox():
    """Messages newest first, filterable by status and channel."""
    return _list_page()


@bp.get("/outbox/<notification_id>")
@admin_required
def outbox_message(notification_id):
    """One message: its history, its last error, and (file outbox) what it looked like."""
    row = fetch(notifications.get_notification, notification_id)
    email = notifications.outbox_file(row)
    preview = None
    if email is not None:
        text = email.get_body(("plain",))
        html = email.get_body(("html",))
        preview = {"subject": email["Subject"], "to": email["To"], "from": email["From"],
                   "text": text.get_content() if text is not None else "",
                   "html": html.get_content() if html is not None else None,
                   "attachments": [part.get_filename() for part in email.iter_attachments()]}
    return render("dashboard/outbox.html", [], block=None, detail=row, preview=preview, labels=TEMPLATE_LABELS,
                  tz=org_tz())


@bp.post("/outbox/<notification_id>/retry")
@admin_required
def outbox_retry(notification_id):
    """Send a failed message again (now, with a fresh set of attempts)."""
    row = fetch(notifications.get_notification, notification_id)
    back = url_for("dashboard.outbox_message", notification_id=row.id) if request.form.get("next") == "detail" \
        else url_for("dashboard.outbox", **{k: v for k, v in request.args.items() if k in ("status", "channel")})
    try:
        notifications.retry_notification(org_id(), row.id)
    except Conflict as exc:
        if htmx and request.form.get("next") != "detail":
            return _list_page(status_code=409, notice=exc.message, notice_kind="error", block="outbox_list")
        flash(exc.message, "error")
        return see_other(back)
    message = f"Retrying the message to {row.recipient}: it goes out with the next dispatch."
    if htmx and request.form.get("next") != "detail":
        return _list_page(notice=message, block="outbox_list", trigger=OUTBOX_CHANGED)
    flash(message, "success")
    return see_other(back)
