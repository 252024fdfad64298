"""Writing the outbox for class spots: the rows a spot's change causes, in the caller's transaction.

The same outbox as appointments (rows with `class_booking_id` instead of `booking_id`), so the same
guarantees hold: a spot and its messages exist together or not at all, each row is sent at most once
per claim, retried with backoff, and rendered at send time from the spot and its session as they are
then (messages.py). Reminders follow the session: a new time cancels the pending ones and writes
new ones; a cancelled spot or session cancels them.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import update

from app.extensions import db
from app.models import ClassBooking, ClassSession, Notification
from app.models.organizations import DEFAULT_REMINDER_OFFSETS_MINUTES
from app.services.notifications.clock import utcnow
from app.services.notifications.opt_outs import seal
from app.services.notifications.scheduling import REMINDER_GAP, _add

# What each class message is about (rendered by messages.py from templates/notifications/<name>.*).
CLASS_TEMPLATES = ("class_booked", "class_waitlisted", "class_promoted", "class_spot_cancelled",
                   "class_session_cancelled", "class_session_changed", "class_reminder")
# Messages that a later change of the spot or session makes pointless while still pending.
_SUPERSEDED_BY_CANCEL = ("class_reminder", "class_session_changed", "class_promoted", "class_waitlisted")


def schedule_class_message(spot: ClassBooking, session: ClassSession, template: str, *,
                           manage_token: str | None = None, context: dict | None = None,
                           now: datetime | None = None) -> list[Notification]:
    """Queue `template` to the spot's person (email, and SMS when they gave a number), due now, in
    the caller's transaction. The manage token, when given, is sealed into the row (the link in the
    message); later messages of the spot reuse the one sealed in its first."""
    now = now or utcnow()
    if template not in CLASS_TEMPLATES:
        raise ValueError(f"unknown class message {template!r}")
    with db.session.no_autoflush:
        base = dict(context or {})
        if manage_token:
            base["manage"] = seal(manage_token)
        rows = [_row(spot, session, "email", template, spot.attendee_email, now, base)]
        if spot.attendee_phone:
            rows.append(_row(spot, session, "sms", template, spot.attendee_phone, now, base))
    return _add(rows)


def schedule_class_reminders(spot: ClassBooking, session: ClassSession, offsets, *, manage_token: str | None = None,
                             sealed: dict | None = None, now: datetime | None = None) -> list[Notification]:
    """Queue the reminders of a confirmed spot at the organization's offsets (minutes before the
    start; None: the default offsets) still ahead and not due within REMINDER_GAP of now. The manage
    link is the token given, or one already `sealed` ({"manage": …} from the spot's first message)."""
    now = now or utcnow()
    offsets = offsets if offsets is not None else DEFAULT_REMINDER_OFFSETS_MINUTES
    context = {"manage": seal(manage_token)} if manage_token else dict(sealed or {})
    rows = []
    with db.session.no_autoflush:
        for offset in sorted({int(o) for o in offsets if int(o) > 0}, reverse=True):
            due = session.start_at - timedelta(minutes=offset)
            if due < now + REMINDER_GAP:
                continue
            for channel, recipient in [("email", spot.attendee_email)] + (
                    [("sms", spot.attendee_phone)] if spot.attendee_phone else []):
                rows.append(_row(spot, session, channel, "class_reminder", recipient, due,
                                 {**context, "offset_minutes": offset}, key_extra=f"{offset}m"))
    return _add(rows)


def cancel_class_pending(spot_id: uuid.UUID, reason: str, *, templates=_SUPERSEDED_BY_CANCEL,
                         now: datetime | None = None) -> None:
    """Cancel the spot's pending messages of these kinds (its reminders and notices superseded by a
    cancellation or a move), in the caller's transaction."""
    now = now or utcnow()
    db.session.execute(
        update(Notification)
        .where(Notification.class_booking_id == spot_id, Notification.template.in_(templates),
               Notification.status == "pending")
        .values(status="cancelled", last_error=reason, updated_at=now),
        execution_options={"synchronize_session": False},
    )


def _row(spot: ClassBooking, session: ClassSession, channel: str, template: str, recipient: str, send_at: datetime,
         context: dict, key_extra: str = "") -> Notification:
    sequence = session.sequence or 0
    # Each kind happens to a spot once (a spot is booked, promoted or cancelled once; a person who
    # books again gets a new spot), except a change of the session's time, which raises its sequence.
    key = ":".join(p for p in (f"class:{spot.id}", template, channel, key_extra, f"s{sequence}") if p)
    return Notification(
        id=uuid.uuid4(), organization_id=spot.organization_id, booking_id=None, class_booking_id=spot.id,
        channel=channel, template=template, recipient=recipient, send_at=send_at, status="pending", attempts=0,
        max_attempts=current_app.config["NOTIFICATIONS_MAX_ATTEMPTS"], idempotency_key=key[:255],
        booking_sequence=sequence, context=dict(context))
