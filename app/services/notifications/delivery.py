"""Emptying the outbox: claim due rows, check each against the booking as it is now, render it and
hand it over — one row's failure never stops the others.

Failures are classified: permanent ones (bad address, refused recipient, opted out) fail at once;
temporary ones go back to pending with capped exponential backoff for as long as the message is
useful (claims.useful_until), then fail where staff see them. Reminders (and
superseded updates) are checked at send time: a changed booking sequence or a cancelled booking
means `skipped`, never a stale message.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    ACTIVE_STATUSES,
    Booking,
    BookingLink,
    ClassBooking,
    Notification,
    NotificationOptOut,
    Organization,
    User,
)
from app.models.organizations import DEFAULT_REMINDER_OFFSETS_MINUTES
from app.services.notifications.claims import (
    FRESH,
    after_internal_error,
    claim_due,
    claim_ids,
    finish,
    finish_failed,
    postpone,
)
from app.services.notifications.class_messages import still_for
from app.services.notifications.clock import Clock
from app.services.notifications.messages import KINDS, Kind, render
from app.services.notifications.recovery import recover_expired
from app.services.notifications.retention import purge_expired
from app.services.notifications.sending import Transports, send_email_row, send_sms_row
from app.services.notifications.sms_status import unreachable_reason
from app.services.quiet_hours import organization_quiet_hours
from app.services.zones import first_zone

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one pass did, by result."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    lost: int = 0         # claims taken back before we could act (another sender owns the row now)
    unsettled: int = 0    # handed off, outcome unknown, left for recovery to settle with the provider
    recovered: int = 0    # rows recovered from an expired lease in this pass
    held: int = 0         # reminders that came due inside quiet hours, moved to their end
    errors: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        for name in ("sent", "failed", "retried", "skipped", "lost", "unsettled", "recovered", "held"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    @property
    def claimed(self) -> int:
        return self.sent + self.failed + self.retried + self.skipped + self.lost + self.unsettled + self.held

    def as_dict(self) -> dict:
        return {"claimed": self.claimed, "sent": self.sent, "failed": self.failed, "retried": self.retried,
                "skipped": self.skipped, "lost": self.lost, "unsettled": self.unsettled,
                "recovered": self.recovered, "held": self.held}


def process_due(*, limit: int | None = None, now: datetime | None = None) -> Outcome:
    """Recover expired leases (and, hourly, purge done messages past their retention), then claim
    and send due rows in batches until none are due or `limit` rows were claimed: the cron
    endpoint's and the in-process dispatcher's whole job."""
    outcome = Outcome()
    outcome.recovered = recover_expired(now=now)
    purge_expired(now=now)
    batch = current_app.config["NOTIFICATIONS_BATCH_SIZE"]
    remaining = limit
    while remaining is None or remaining > 0:
        size = batch if remaining is None else min(batch, remaining)
        claimed = claim_due(size, now=now)
        if not claimed:
            break
        outcome.add(deliver_claimed(claimed, now=now))
        if remaining is not None:
            remaining -= len(claimed)
        if len(claimed) < size:
            break
    return outcome


def deliver(ids: Iterable, *, now: datetime | None = None) -> Outcome:
    """Claim the given rows and send them (the RQ job). Rows someone else has, or that are no longer
    due, are left alone."""
    return deliver_claimed(claim_ids(ids, now=now), now=now)


def deliver_claimed(claimed: list[tuple[uuid.UUID, str]], *, now: datetime | None = None) -> Outcome:
    """Send rows this caller has claimed, one by one; one row's failure never stops the others."""
    outcome = Outcome()
    if not claimed:
        return outcome
    clock = Clock(now)
    batch = _load_batch([i for i, _ in claimed])
    with Transports() as transports:
        for row_id, token in claimed:
            row = batch.rows.get(row_id)
            if row is None or row.claim_token != token:
                outcome.lost += 1
                continue
            try:
                result = _send_one(row, token, batch, transports, clock)
            except Exception as exc:  # a bug or an unexpected failure: this row only, the batch goes on
                db.session.rollback()
                log.exception("notification %s: unexpected error", row.id)
                result = after_internal_error(row, token, f"internal error: {exc.__class__.__name__}: {exc}", clock)
            setattr(outcome, result, getattr(outcome, result) + 1)
    return outcome


@dataclass
class _Batch:
    """What one batch of claimed rows needs, loaded in a fixed number of queries."""

    rows: dict
    bookings: dict
    spots: dict           # class spots (with their sessions) of rows about a place in a class
    orgs: dict
    staff: dict
    sms_opt_outs: dict    # number → source of its opt-out (STOP, or a number that cannot take SMS)
    email_opt_outs: set


def _load_batch(ids: list[uuid.UUID]) -> _Batch:
    rows = {n.id: n for n in db.session.scalars(select(Notification).where(Notification.id.in_(ids))
                                                .execution_options(**FRESH))}
    booking_ids = {n.booking_id for n in rows.values() if n.booking_id}
    bookings = {b.id: b for b in db.session.scalars(
        select(Booking).where(Booking.id.in_(booking_ids)).execution_options(**FRESH)
        .options(selectinload(Booking.booking_link).selectinload(BookingLink.branding)))} if booking_ids else {}
    spot_ids = {n.class_booking_id for n in rows.values() if n.class_booking_id}
    spots = {s.id: s for s in db.session.scalars(
        select(ClassBooking).where(ClassBooking.id.in_(spot_ids)).execution_options(**FRESH)
        .options(selectinload(ClassBooking.session)))} if spot_ids else {}
    orgs = {o.id: o for o in db.session.scalars(
        select(Organization).where(Organization.id.in_({n.organization_id for n in rows.values()})))}
    staff_ids = {uuid.UUID(n.context["staff_id"]) for n in rows.values() if (n.context or {}).get("staff_id")}
    # A changed class names the instructor it had (the message says who takes it now instead).
    staff_ids |= {i for i in (_as_uuid((n.context or {}).get("previous_instructor_id")) for n in rows.values()
                              if n.class_booking_id) if i}
    staff = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(staff_ids)))} if staff_ids else {}
    numbers = {n.recipient for n in rows.values() if n.channel == "sms"}
    sms_opt_outs = dict(db.session.execute(select(NotificationOptOut.address, NotificationOptOut.source).where(
        NotificationOptOut.channel == "sms", NotificationOptOut.address.in_(numbers))).all()) if numbers else {}
    addresses = {n.recipient.lower() for n in rows.values() if n.channel == "email"}
    email_opt_outs = {(o, a) for o, a in db.session.execute(select(
        NotificationOptOut.organization_id, NotificationOptOut.address).where(
        NotificationOptOut.channel == "email", NotificationOptOut.address.in_(addresses)))} if addresses else set()
    db.session.commit()  # end the read transaction: sending happens outside any open transaction
    return _Batch(rows, bookings, spots, orgs, staff, sms_opt_outs, email_opt_outs)


def _as_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _send_one(row: Notification, token: str, batch: _Batch, transports: Transports, clock: Clock) -> str:
    kind = KINDS.get(row.template)
    booking = batch.bookings.get(row.booking_id) if row.booking_id else None
    spot = batch.spots.get(row.class_booking_id) if row.class_booking_id else None
    org = batch.orgs.get(row.organization_id)
    if kind is None:
        return finish_failed(row, token, f"unknown template {row.template!r}")
    reason = class_stale_reason(row, kind, spot, clock(), org=org) if kind.about_class \
        else stale_reason(row, kind, booking, clock(), org=org)
    if reason:
        return finish(row, token, "skipped", reason)
    problem = recipient_problem(row.channel, row.recipient)
    if problem:
        return finish_failed(row, token, problem)
    if row.channel == "sms" and row.recipient in batch.sms_opt_outs:
        return finish(row, token, "skipped", unreachable_reason(batch.sms_opt_outs[row.recipient]))
    if kind.reminder and row.channel == "email" and (row.organization_id, row.recipient.lower()) in batch.email_opt_outs:
        return finish(row, token, "skipped", "the recipient unsubscribed from reminder emails")
    start_at, attendee_zone = (spot.session.start_at, spot.attendee_timezone) if spot is not None \
        else (booking.start_at, booking.attendee_timezone) if booking is not None else (None, None)
    if kind.reminder:
        held = quiet_hold(row, start_at, attendee_zone, org, clock())
        if held is not None:
            when, reason = held
            return postpone(row, token, when, reason) if when else finish(row, token, "skipped", reason)

    message = render(row, booking, org, batch.staff, now=clock(), spot=spot)
    if row.channel == "email":
        return send_email_row(row, token, message, transports, clock)
    return send_sms_row(row, token, message, transports, clock, booking=booking, start_at=start_at)


def stale_reason(row: Notification, kind: Kind, booking: Booking | None, now: datetime, *,
                 org: Organization | None = None) -> str | None:
    """Why this message must not go out now (the booking changed under it, or a reminder's moment
    is long gone), or None."""
    if not kind.about_booking:
        return None
    if booking is None:
        return "the booking no longer exists"
    if kind.needs_active and booking.status not in ACTIVE_STATUSES:
        return f"the booking is {booking.status}"
    if kind.stale_on_sequence and row.booking_sequence is not None and booking.sequence != row.booking_sequence:
        what = "reminder was scheduled" if kind.reminder else "message was written"
        return f"the booking changed after this {what} (version {row.booking_sequence} → {booking.sequence})"
    if row.template in ("booking_confirmation", "staff_booking_created") and booking.status == "cancelled":
        return "the booking was cancelled before this went out"
    if kind.reminder and booking.start_at <= now:
        return "the booking has already started"
    if kind.reminder:
        return late_reminder(row, booking.start_at, now, org)
    return None


def class_stale_reason(row: Notification, kind: Kind, spot: ClassBooking | None, now: datetime, *,
                       org: Organization | None = None) -> str | None:
    """Why this message about a place in a class must not go out now, or None: the spot is no longer
    in a state the message speaks of (a "you're booked" after the spot was given up, a "you're on
    the waitlist" after the person was promoted — class_promoted tells them — or left), the session
    changed since the row was written (a change notice superseded by a later change, a reminder for
    a time the class no longer has: the move wrote new ones — a reminder of the same time, after
    a new instructor or place, still goes, rendered as the class is now), the class was cancelled
    (reminders), or a reminder's moment is gone."""
    if spot is None:
        return "the class spot no longer exists"
    session = spot.session
    if kind.spot_statuses is not None and spot.status not in kind.spot_statuses:
        what = {"waitlisted": "on the waitlist", "confirmed": "booked", "cancelled": "cancelled"}.get(
            spot.status, spot.status.replace("_", " "))
        return f"the spot is {what} now"
    if kind.needs_active and session.status != "scheduled":
        return "the class was cancelled"
    if kind.stale_on_sequence and row.booking_sequence is not None and (session.sequence or 0) != row.booking_sequence \
            and not (kind.reminder and still_for(row, session)):
        what = "reminder was scheduled" if kind.reminder else "message was written"
        return f"the class changed after this {what} (version {row.booking_sequence} → {session.sequence})"
    if kind.reminder and session.start_at <= now:
        return "the class has already started"
    if kind.reminder:
        return late_reminder(row, session.start_at, now, org, "class")
    return None


def late_reminder(row: Notification, start_at: datetime, now: datetime, org: Organization | None,
                  what: str = "booking") -> str | None:
    """A reminder sent late (the worker was down, a long outage) goes only while it still fits:
    not once a later reminder of the booking is due (that one goes instead, so a customer never gets
    "tomorrow" and "in 2 hours" together), and not with less than half its lead time left (a 2-hour
    reminder with 40 minutes to go is dropped: the confirmation already said when)."""
    offset = (row.context or {}).get("offset_minutes")
    if not isinstance(offset, int) or offset <= 0:
        return None
    offsets = org.reminder_offsets_minutes if org is not None and org.reminder_offsets_minutes is not None \
        else DEFAULT_REMINDER_OFFSETS_MINUTES
    left = start_at - now
    if any(0 < int(o) < offset and left <= timedelta(minutes=int(o)) for o in offsets):
        return f"late: a later reminder of this {what} is due, and goes instead"
    if left < timedelta(minutes=offset) / 2:
        return f"late: less than half of its {offset} minutes' notice was left"
    return None


def quiet_hold(row: Notification, start_at: datetime, attendee_zone: str | None, org: Organization,
               now: datetime) -> tuple[datetime | None, str] | None:
    """A reminder of something starting at `start_at` (a booking, a class) that comes due inside
    the organization's quiet hours (in the customer's zone, `attendee_zone`, else the gym's):
    (their end, why) to hold it until then when that still leaves half its notice, (None, why) to
    skip it; None to send it now. Reminders are placed around quiet hours when written; this
    catches those that arrive in them anyway (the worker was down, the settings changed)."""
    quiet = organization_quiet_hours(org.settings) if org is not None else None
    if quiet is None or not quiet.applies_to(row.channel):
        return None
    offset = (row.context or {}).get("offset_minutes")
    notice = timedelta(minutes=offset if isinstance(offset, int) and offset > 0 else 0)
    tz = first_zone(attendee_zone, org.timezone)
    until = quiet.hold(now, start_at, notice, tz)
    if until is None:
        return None
    why = f"quiet hours ({quiet.label()} {tz})"
    if until >= start_at:
        return None, f"{why}: after them too little notice would be left"
    return until, f"held: {why}"


def recipient_problem(channel: str, recipient: str) -> str | None:
    """A clear reason why `recipient` cannot receive anything on `channel`, or None."""
    if channel == "email":
        try:
            validate_email(recipient, check_deliverability=False)
        except EmailNotValidError as exc:
            return f"malformed email address {recipient!r}: {exc}"
        return None
    try:
        number = phonenumbers.parse(recipient, None)
    except phonenumbers.NumberParseException as exc:
        return f"malformed phone number {recipient!r}: {exc}"
    if not phonenumbers.is_possible_number(number):
        return f"malformed phone number {recipient!r}: not a possible number"
    return None
