"""Writing the outbox for class spots: the rows a spot's change causes, in the caller's transaction.

The same outbox as appointments (rows with `class_booking_id` instead of `booking_id`), so the same
guarantees hold: a spot and its messages exist together or not at all, each row is sent at most once
per claim, retried with backoff, and rendered at send time from the spot and its session as they are
then (messages.py). Reminders follow the session: a new time cancels the pending ones and writes
new ones; a cancelled spot or session cancels them.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import ClassBooking, ClassSession, Notification, Organization
from app.services.notifications.clock import utcnow
from app.services.notifications.opt_outs import seal
from app.services.notifications.scheduling import FROM_ORGANIZATION, _add, follow_reminders, place_reminders
from app.services.quiet_hours import organization_quiet_hours
from app.services.zones import first_zone

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
                             sealed: dict | None = None, quiet_hours=FROM_ORGANIZATION, org_timezone: str | None = None,
                             now: datetime | None = None) -> list[Notification]:
    """Queue the reminders of a confirmed spot at the organization's offsets (minutes before the
    start; None: the default offsets) still ahead and not due within REMINDER_GAP of now, placed
    around the organization's quiet hours for texts exactly as appointment reminders are
    (scheduling.place_reminders). The manage link is the token given, or one already `sealed`
    ({"manage": …} from the spot's first message). `quiet_hours` (None: none) and `org_timezone`
    are read from the organization unless given."""
    now = now or utcnow()
    context = {"manage": seal(manage_token)} if manage_token else dict(sealed or {})
    with db.session.no_autoflush:
        if quiet_hours is FROM_ORGANIZATION or org_timezone is None:
            org = db.session.get(Organization, spot.organization_id)
            if quiet_hours is FROM_ORGANIZATION:
                quiet_hours = organization_quiet_hours(org.settings)
            org_timezone = org_timezone or org.timezone
        rows = _reminder_rows(spot, session, offsets, now, context, quiet_hours, org_timezone)
    return _add(rows)


def _reminder_rows(spot: ClassBooking, session: ClassSession, offsets, now: datetime, context: dict,
                   quiet_hours, org_timezone: str | None) -> list[Notification]:
    channels = [("email", spot.attendee_email)] + ([("sms", spot.attendee_phone)] if spot.attendee_phone else [])
    return place_reminders(
        session.start_at, channels, offsets, now=now, quiet=quiet_hours,
        tz=first_zone(spot.attendee_timezone, org_timezone),
        make_row=lambda channel, recipient, send_at, offset: _row(
            spot, session, channel, "class_reminder", recipient, send_at,
            {**context, "offset_minutes": offset, "start_at": session.start_at.isoformat()}, key_extra=f"{offset}m"))


def class_reminders_follow_settings(organization_id, offsets, quiet_hours, *, now: datetime | None = None) -> int:
    """The organization's reminder offsets or quiet hours changed: the reminders of every booked
    spot in a class still ahead follow, as appointments' do (scheduling.follow_reminders; no commit).
    Spots whose person was never told (staff chose not to notify) get none. Returns how many spots
    were looked at."""
    now = now or utcnow()
    org_timezone = db.session.get(Organization, organization_id).timezone
    told = select(Notification.class_booking_id).where(Notification.organization_id == organization_id,
                                                       Notification.template.in_(_TOLD))
    spots = db.session.scalars(select(ClassBooking).join(ClassSession, ClassSession.id == ClassBooking.session_id)
                               .where(ClassBooking.organization_id == organization_id,
                                      ClassBooking.status == "confirmed", ClassSession.status == "scheduled",
                                      ClassSession.start_at > now, ClassBooking.id.in_(told))).all()
    if not spots:
        return 0
    manage: dict = {}
    reminders: dict = {}
    for row in db.session.scalars(select(Notification).where(
            Notification.class_booking_id.in_([spot.id for spot in spots]),
            Notification.template.in_((*_TOLD, "class_reminder"))).order_by(Notification.created_at)):
        if row.template == "class_reminder":
            reminders.setdefault(row.class_booking_id, []).append(row)
        elif (row.context or {}).get("manage"):
            manage.setdefault(row.class_booking_id, {"manage": row.context["manage"]})
    with db.session.no_autoflush:
        for spot in spots:
            session = spot.session
            wanted = _reminder_rows(spot, session, offsets, now, manage.get(spot.id, {}), quiet_hours, org_timezone)
            follow_reminders(wanted, [row for row in reminders.get(spot.id, []) if still_for(row, session)], now)
    return len(spots)


def still_for(reminder: Notification, session: ClassSession) -> bool:
    """Whether a class reminder is still about the session as it is: written for its current
    version, or for its current start (a new instructor or place raises the session's sequence,
    but a reminder of the same time is still right: it is rendered at send time)."""
    if reminder.booking_sequence is not None and reminder.booking_sequence == (session.sequence or 0):
        return True
    written_for = (reminder.context or {}).get("start_at")
    return written_for is not None and written_for == session.start_at.isoformat()


# The messages that tell a person their spot is booked (and carry its manage link).
_TOLD = ("class_booked", "class_promoted")


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
