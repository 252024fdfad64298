"""Writing the outbox: the rows a booking change causes, called by the booking service inside its
own transaction, just before its commit.

A booking and its messages exist together or not at all, and nothing here touches Redis or a
provider: the dispatcher is only nudged once the transaction has committed. Reminders follow the
booking: a new time cancels the pending ones and writes new ones; a cancellation cancels them.
Staff messages about no booking (calendar sync trouble) are written the same way, in the
transaction of whatever decided to send them.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import ACTIVE_STATUSES, Booking, Notification, Organization, User
from app.models.organizations import DEFAULT_REMINDER_OFFSETS_MINUTES
from app.services import background
from app.services.notifications.clock import utcnow
from app.services.notifications.opt_outs import seal
from app.services.quiet_hours import QuietHours, organization_quiet_hours
from app.services.zones import first_zone

# schedule_booking_created's default: read the offsets from the organization.
FROM_ORGANIZATION = object()


def schedule_booking_created(booking: Booking, *, manage_token: str | None, staff: Sequence | None = None,
                             reminder_offsets=FROM_ORGANIZATION, quiet_hours=FROM_ORGANIZATION,
                             org_timezone: str | None = None, notify_attendee: bool = True,
                             now: datetime | None = None) -> list[Notification]:
    """Queue the messages a new booking causes, in the caller's transaction (no commit):
    the attendee's confirmation (email with a calendar invitation, and SMS when a phone was given),
    a notice to each trainer, and the reminders at the organization's offsets that are still ahead.
    With `notify_attendee` off (staff chose "don't notify the client"), only the trainers' notices:
    no confirmation and no reminders.

    A caller that already knows them passes the trainers (anything with `id` and `email`; default:
    the booking's own) and the organization's `reminder_offsets` (None: the default offsets),
    `quiet_hours` (None: none) and `org_timezone`, and nothing more is read."""
    now = now or utcnow()
    with db.session.no_autoflush:
        if reminder_offsets is FROM_ORGANIZATION or quiet_hours is FROM_ORGANIZATION or org_timezone is None:
            org = db.session.get(Organization, booking.organization_id)
            if reminder_offsets is FROM_ORGANIZATION:
                reminder_offsets = org.reminder_offsets_minutes
            if quiet_hours is FROM_ORGANIZATION:
                quiet_hours = organization_quiet_hours(org.settings)
            org_timezone = org_timezone or org.timezone
        staff = sorted(staff, key=lambda member: str(member.id)) if staff is not None \
            else _staff_by_id([booking.staff_id])
        sequence = booking.sequence or 0
        attendee_context = {"manage": seal(manage_token)} if manage_token else {}
        rows = _attendee_messages(booking, "booking_confirmation", sequence, now, attendee_context) \
            if notify_attendee else []
        rows += [_row(booking, "email", "staff_booking_created", member.email, now, sequence, {"staff_id": str(member.id)},
                      key_extra=str(member.id)) for member in staff]
        if notify_attendee:
            rows += _reminders(booking, reminder_offsets, sequence, now, attendee_context, quiet_hours, org_timezone)
    return _add(rows)


def schedule_booking_rescheduled(booking: Booking, group: list[Booking] | None = None, *,
                                 previous: dict | None = None, now: datetime | None = None) -> list[Notification]:
    """Queue the messages a new time causes (no commit): the update (email with the same calendar
    UID and a raised SEQUENCE, SMS when there is a phone), a notice to the trainer(s), and the
    reminders moved: pending ones for the old time are cancelled and new ones made for the new time."""
    now = now or utcnow()
    lead = _lead(booking, group)
    with db.session.no_autoflush:
        org = db.session.get(Organization, lead.organization_id)
        _cancel_pending(lead.id, ["booking_reminder"], "moved: the booking was rescheduled", now)
        _cancel_pending(lead.id, ["booking_update", *STAFF_CHANGE_NOTICES], "superseded by a later change", now)
        context = _manage_context(lead.id)
        if previous:
            context.update({k: previous.get(k) for k in ("start_at", "end_at", "staff_id") if previous.get(k)})
        staff = _staff_by_id([row.staff_id for row in (group or [lead])])
        rows = _attendee_messages(lead, "booking_update", lead.sequence, now, context)
        notice = {k: v for k, v in context.items() if k != "manage"}
        before = (previous or {}).get("staff_id")
        if before and before != str(lead.staff_id) and not (group and len(group) > 1):
            # Reassigned: the new trainer gets it as theirs, the old one is told it is not any more.
            [was] = _staff_by_id([uuid.UUID(before)]) or [None]
            if was is not None:
                notice["previous_staff_name"] = was.name
                rows.append(_row(lead, "email", "staff_booking_unassigned", was.email, now, lead.sequence,
                                 {"staff_id": str(was.id), **notice}, key_extra=str(was.id)))
            template = "staff_booking_assigned"
        else:
            template = "staff_booking_rescheduled"
        rows += [_row(lead, "email", template, member.email, now, lead.sequence,
                      {"staff_id": str(member.id), **notice}, key_extra=str(member.id)) for member in staff]
        rows += _reminders(lead, org.reminder_offsets_minutes, lead.sequence, now, _manage_context(lead.id),
                           organization_quiet_hours(org.settings), org.timezone)
    return _add(rows)


def schedule_booking_cancelled(booking: Booking, group: list[Booking] | None = None, *,
                               now: datetime | None = None) -> list[Notification]:
    """Queue the cancellation (email with the event marked cancelled, SMS when there is a phone) and
    the trainer notices, and cancel every pending reminder of the booking (no commit).

    The customer hears of it only while the booking is still to come: a session that has started
    (staff cancelling one in progress) is not news to send them — nor is one that is over, which no
    one can cancel (services.bookings.policy). The trainers' notices go either way."""
    now = now or utcnow()
    lead = _lead(booking, group)
    with db.session.no_autoflush:
        _cancel_pending(lead.id, ["booking_reminder"], "the booking was cancelled", now)
        _cancel_pending(lead.id, ["booking_update", *STAFF_CHANGE_NOTICES], "the booking was cancelled", now)
        staff = _staff_by_id([row.staff_id for row in (group or [lead])])
        rows = _attendee_messages(lead, "booking_cancellation", lead.sequence, now, {}) \
            if now < lead.start_at else []
        rows += [_row(lead, "email", "staff_booking_cancelled", member.email, now, lead.sequence,
                      {"staff_id": str(member.id)}, key_extra=str(member.id)) for member in staff]
    return _add(rows)


def booking_reminders_follow_settings(organization_id, offsets: Sequence[int] | None,
                                      quiet_hours: QuietHours | None, *, now: datetime | None = None) -> int:
    """The organization's reminder offsets or quiet hours changed: every upcoming booking's
    reminders follow (no commit; reminder_settings.py does class spots' too). A reminder no longer wanted (its offset removed, or quiet hours
    leave it no time) is cancelled; one newly wanted is written (or, if it was cancelled before,
    pending again); a pending one moves to its new time. Reminders already sent stay sent. Returns
    how many bookings were looked at."""
    now = now or utcnow()
    org_timezone = db.session.get(Organization, organization_id).timezone
    confirmed = select(Notification.booking_id).where(Notification.organization_id == organization_id,
                                                      Notification.template == "booking_confirmation")
    upcoming = select(Booking.id).where(Booking.organization_id == organization_id,
                                        Booking.status.in_(ACTIVE_STATUSES), Booking.start_at > now,
                                        Booking.id.in_(confirmed))
    leads = db.session.scalars(select(Booking).where(Booking.id.in_(upcoming))).all()
    # Three queries whatever the number of bookings: their manage links and their reminders, at once.
    manage: dict = {}
    reminders: dict = {}
    for row in db.session.scalars(select(Notification).where(
            Notification.booking_id.in_(upcoming),
            Notification.template.in_(("booking_confirmation", "booking_reminder")))):
        if row.template == "booking_confirmation":
            if (row.context or {}).get("manage"):
                manage.setdefault(row.booking_id, {"manage": row.context["manage"]})
        else:
            reminders.setdefault(row.booking_id, []).append(row)
    with db.session.no_autoflush:
        for lead in leads:
            follow_reminders(
                _reminders(lead, offsets, lead.sequence, now, manage.get(lead.id, {}), quiet_hours, org_timezone),
                [row for row in reminders.get(lead.id, []) if row.booking_sequence == lead.sequence], now)
    return len(leads)


def follow_reminders(wanted_rows: list[Notification], existing_rows: list[Notification], now: datetime) -> None:
    """Make one booking's (or class spot's) reminders for its current time what the settings now
    want (no commit): `wanted_rows` (new rows, as place_reminders makes them) against the rows
    already written (`existing_rows`, matched by idempotency key). One no longer wanted and still
    pending is cancelled; one newly wanted is added (or, cancelled before, pending again); a pending
    one moves to its new time. Reminders already sent stay sent."""
    wanted = {row.idempotency_key: row for row in wanted_rows}
    existing = {row.idempotency_key: row for row in existing_rows}
    for key, row in existing.items():
        if key not in wanted and row.status == "pending":
            row.status, row.last_error, row.updated_at = "cancelled", "the reminder settings changed", now
    for key, row in wanted.items():
        found = existing.get(key)
        if found is None:
            _add([row])
        elif found.status == "pending" and found.send_at != row.send_at:
            found.send_at, found.enqueued_at, found.updated_at = row.send_at, None, now
        elif found.status == "cancelled":
            found.status, found.send_at, found.last_error, found.attempts = "pending", row.send_at, None, 0
            found.claim_token = found.handed_off_at = found.enqueued_at = None
            background.kick_after_commit("notifications")


def schedule_staff_message(member: User, template: str, *, key: str, context: dict | None = None,
                           now: datetime | None = None) -> Notification:
    """Queue an email to a member of staff that is about no booking (their calendar sync needs them,
    say), due now, in the caller's transaction (no commit): it goes out with the same guarantees as
    every other message, or not at all if the caller rolls back. `key` names the message: the same
    key twice is refused by the outbox's unique idempotency key."""
    now = now or utcnow()
    row = Notification(
        id=uuid.uuid4(), organization_id=member.organization_id, booking_id=None, channel="email",
        template=template, recipient=member.email, send_at=now, status="pending", attempts=0,
        max_attempts=current_app.config["NOTIFICATIONS_MAX_ATTEMPTS"], idempotency_key=f"{template}:{key}"[:255],
        booking_sequence=None, context={**(context or {}), "staff_id": str(member.id)},
    )
    return _add([row])[0]


def _add(rows: list[Notification]) -> list[Notification]:
    """Add the rows to the caller's transaction; the dispatcher is nudged once it commits (never
    before: it must be able to see them)."""
    db.session.add_all(rows)
    background.kick_after_commit("notifications")
    return rows


def _lead(booking: Booking, group: list[Booking] | None) -> Booking:
    """The row of a collective group that carries the manage token (its messages hang off it)."""
    return next((row for row in group or [] if row.manage_token_hash), booking)


def _staff_by_id(ids: Iterable) -> list[User]:
    wanted = {uuid.UUID(str(i)) for i in ids}
    found = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}
    return [found[i] for i in sorted(wanted, key=str) if i in found]


def _attendee_messages(booking: Booking, template: str, sequence: int, now: datetime, context: dict) -> list:
    rows = [_row(booking, "email", template, booking.attendee_email, now, sequence, dict(context))]
    if booking.attendee_phone:
        rows.append(_row(booking, "sms", template, booking.attendee_phone, now, sequence, dict(context)))
    return rows


# What a trainer is told of a change: superseded by the next change, dropped by a cancellation.
STAFF_CHANGE_NOTICES = ("staff_booking_rescheduled", "staff_booking_assigned", "staff_booking_unassigned")

# A reminder due this soon after the confirmation (or the update of a move) is not written: booked
# 2 h 01 min ahead, the 2-hour reminder would follow the confirmation by a minute.
REMINDER_GAP = timedelta(minutes=30)


def _reminders(booking: Booking, offsets, sequence: int, now: datetime, context: dict,
               quiet: QuietHours | None, org_timezone: str | None) -> list:
    """The booking's reminders at these offsets (placed by place_reminders)."""
    channels = [("email", booking.attendee_email)] + ([("sms", booking.attendee_phone)] if booking.attendee_phone else [])
    return place_reminders(
        booking.start_at, channels, offsets, now=now, quiet=quiet,
        tz=first_zone(booking.attendee_timezone, org_timezone),
        make_row=lambda channel, recipient, send_at, offset: _row(
            booking, channel, "booking_reminder", recipient, send_at, sequence,
            {**context, "offset_minutes": offset}, key_extra=f"{offset}m"))


def place_reminders(start_at: datetime, channels: Sequence[tuple[str, str]], offsets, *, now: datetime,
                    quiet: QuietHours | None, tz: str, make_row) -> list:
    """The reminders of something starting at `start_at` (a booking, a spot in a class) at these
    offsets (minutes before the start; None: the default offsets) still to come, not due within
    REMINDER_GAP of now, and placed around quiet hours in the customer's zone `tz` (the gym's when
    they gave none; app/services/quiet_hours.py): a text reminder that would fall inside them goes
    after them or before them, or not at all. `make_row(channel, recipient, send_at, offset)` makes
    each row; returns them, longest notice first."""
    offsets = offsets if offsets is not None else DEFAULT_REMINDER_OFFSETS_MINUTES
    last: dict[str, datetime] = {}  # channel → when its previous (longer) reminder goes
    rows = []
    for offset in sorted({int(o) for o in offsets if int(o) > 0}, reverse=True):
        due = start_at - timedelta(minutes=offset)
        if due < now + REMINDER_GAP:
            continue  # late, or just after the confirmation (or update): it would say nothing new
        for channel, recipient in channels:
            send_at = due
            if quiet is not None and quiet.applies_to(channel):
                earliest = max(now, last.get(channel, now)) + REMINDER_GAP
                send_at = quiet.place(due, start_at, timedelta(minutes=offset), tz, earliest=earliest)
                if send_at is None:
                    continue  # no time outside quiet hours that would still help
            last[channel] = send_at
            rows.append(make_row(channel, recipient, send_at, offset))
    return rows


def _row(booking: Booking, channel: str, template: str, recipient: str, send_at: datetime, sequence: int,
         context: dict, key_extra: str = "") -> Notification:
    key = ":".join(p for p in (str(booking.id), template, channel, key_extra, f"s{sequence}") if p)
    return Notification(
        id=uuid.uuid4(), organization_id=booking.organization_id, booking_id=booking.id, channel=channel,
        template=template, recipient=recipient, send_at=send_at, status="pending", attempts=0,
        max_attempts=current_app.config["NOTIFICATIONS_MAX_ATTEMPTS"], idempotency_key=key[:255], booking_sequence=sequence,
        context=context,
    )


def _cancel_pending(booking_id: uuid.UUID, templates: list[str], reason: str, now: datetime) -> None:
    db.session.execute(
        update(Notification)
        .where(Notification.booking_id == booking_id, Notification.template.in_(templates),
               Notification.status == "pending")
        .values(status="cancelled", last_error=reason, updated_at=now),
        execution_options={"synchronize_session": False},
    )


def _manage_context(booking_id: uuid.UUID) -> dict:
    """The sealed manage token written with the booking's first messages, for later ones."""
    for context in db.session.scalars(select(Notification.context).where(
            Notification.booking_id == booking_id, Notification.template == "booking_confirmation")):
        if context and context.get("manage"):
            return {"manage": context["manage"]}
    return {}
