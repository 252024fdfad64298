"""Notifications: the outbox (the `notifications` table) and everything that empties it.

What this module promises (docs/notifications.md has the long form):

* Rows are written in the booking's own transaction (`schedule_booking_*`, called by the booking
  service just before its commit): a booking and its messages exist together or not at all, and
  nothing here touches Redis or a provider while a booking is being made.
* A row is sent by whoever *claims* it: a status transition pending → sending that only one
  claimer can win (a conditional UPDATE; on PostgreSQL under FOR UPDATE SKIP LOCKED). Every
  later write of that sender is fenced by the claim's token.
* Just before a message is handed to the provider the sender records `handed_off_at` (fenced).
  A `sending` row whose lease expired is recovered: without `handed_off_at` it never reached
  anyone and goes back to pending; with it, the provider is asked where it can be (Twilio: list
  the messages to that number; the file outbox: the file exists or not) and for SMTP, which
  cannot be asked, the row becomes `failed` with "delivery unknown" — never sent again on its
  own (at most once), retried only by a person.
* Failures are classified: permanent (bad address, refused recipient, opted out) fail at once;
  temporary ones go back to pending with exponential backoff until `max_attempts`.
* Reminders (and superseded updates) are checked against the booking at send time: a changed
  sequence or a cancelled booking means `skipped`, never a stale message.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import random
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken
from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.database import begin_serialized_transaction
from app.extensions import db
from app.integrations import email as email_integration
from app.integrations import sms as sms_integration
from app.models import ACTIVE_STATUSES, Booking, BookingLink, Notification, NotificationOptOut, Organization, User
from app.models.organizations import DEFAULT_REMINDER_OFFSETS_MINUTES
from app.services import background
from app.services import calendar_files as ics
from app.services import urls
from app.services.zones import valid_zone
from app.services.errors import Conflict, InvalidRequest, NotFound

log = logging.getLogger(__name__)

# --- what each template is ------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    audience: str                     # attendee | staff
    calendar_method: str | None = None
    # Skip when the booking's sequence moved on since the row was written.
    stale_on_sequence: bool = False
    # Skip when the booking is no longer active (cancelled, finished).
    needs_active: bool = False
    reminder: bool = False


KINDS = {
    "booking_confirmation": Kind("attendee", calendar_method="REQUEST"),
    "booking_update": Kind("attendee", calendar_method="REQUEST", stale_on_sequence=True),
    "booking_cancellation": Kind("attendee", calendar_method="CANCEL"),
    "booking_reminder": Kind("attendee", stale_on_sequence=True, needs_active=True, reminder=True),
    "staff_booking_created": Kind("staff"),
    "staff_booking_rescheduled": Kind("staff", stale_on_sequence=True),
    "staff_booking_cancelled": Kind("staff"),
}
SMS_TEMPLATES = {"booking_confirmation", "booking_update", "booking_cancellation", "booking_reminder"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- the manage link, encrypted at rest -------------------------------------------------------------
# The booking stores only a hash of its manage token, yet reminders and update emails should carry
# the manage link. The token is kept in the notification's context, encrypted with a Fernet key
# derived from SECRET_KEY: a database dump alone does not reveal it. Rotating SECRET_KEY makes old
# tokens unreadable; those messages then go out without the link (they say to use the confirmation).

def _fernet() -> Fernet:
    digest = hashlib.sha256(b"atlas-notification-context:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def unseal(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return _fernet().decrypt(value.encode()).decode()
    except (InvalidToken, ValueError):
        return None


# --- unsubscribe links ----------------------------------------------------------------------------

def _unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="atlas-email-unsubscribe")


def unsubscribe_token(organization_id: uuid.UUID, email: str) -> str:
    return _unsubscribe_serializer().dumps({"o": str(organization_id), "e": email.lower()})


def unsubscribe_url(organization_id: uuid.UUID, email: str) -> str:
    return f"{current_app.config['APP_URL']}/api/notifications/unsubscribe/{unsubscribe_token(organization_id, email)}"


def read_unsubscribe_token(token: str) -> tuple[Organization, str]:
    """(organization, email) of a signed unsubscribe token, or NotFound for a forged or stale one."""
    try:
        data = _unsubscribe_serializer().loads(token)
        org_id, email = uuid.UUID(data["o"]), str(data["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound("This unsubscribe link is not valid.") from None
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("This unsubscribe link is not valid.")
    return org, email


def unsubscribe_email(token: str) -> tuple[Organization, str]:
    """Stop reminder emails from the token's organization to the token's address (idempotent).

    Confirmations and cancellations still go: they are about something the person just did."""
    org, email = read_unsubscribe_token(token)
    _add_opt_out(org.id, "email", email, "unsubscribe_link")
    db.session.commit()
    return org, email


def email_opted_out(organization_id: uuid.UUID, email: str) -> bool:
    return db.session.scalar(select(func.count()).select_from(NotificationOptOut).where(
        NotificationOptOut.organization_id == organization_id, NotificationOptOut.channel == "email",
        NotificationOptOut.address == email.lower())) > 0


def sms_opted_out(number: str) -> bool:
    return db.session.scalar(select(func.count()).select_from(NotificationOptOut).where(
        NotificationOptOut.channel == "sms", NotificationOptOut.address == number)) > 0


def _add_opt_out(organization_id: uuid.UUID, channel: str, address: str, source: str) -> None:
    address = address.lower() if channel == "email" else address
    exists = db.session.scalar(select(NotificationOptOut.id).where(
        NotificationOptOut.organization_id == organization_id, NotificationOptOut.channel == channel,
        NotificationOptOut.address == address))
    if exists is None:
        try:
            with db.session.begin_nested():
                db.session.add(NotificationOptOut(organization_id=organization_id, channel=channel, address=address,
                                                  source=source))
        except IntegrityError:  # the same opt-out arrived twice at once
            pass


def record_sms_opt_out(number: str, source: str) -> int:
    """STOP (or Twilio's 21610) from `number`: no further SMS to it, from any organization.

    The row names the organization(s) that last texted the number; returns how many rows exist now."""
    orgs = db.session.scalars(select(Notification.organization_id).where(
        Notification.channel == "sms", Notification.recipient == number).distinct()).all()
    for org_id in orgs:
        _add_opt_out(org_id, "sms", number, source)
    db.session.flush()
    count = db.session.scalar(select(func.count()).select_from(NotificationOptOut).where(
        NotificationOptOut.channel == "sms", NotificationOptOut.address == number))
    db.session.commit()
    return count


def record_sms_opt_in(number: str) -> int:
    """START from `number`: SMS may go to it again. Returns how many opt-outs were removed."""
    result = db.session.execute(delete(NotificationOptOut).where(
        NotificationOptOut.channel == "sms", NotificationOptOut.address == number))
    db.session.commit()
    return result.rowcount or 0


def record_sms_status(message_sid: str, status: str, error_code: str | None = None) -> bool:
    """Twilio's status callback: remember the delivery status of the message `message_sid`."""
    row = db.session.scalars(select(Notification).where(Notification.provider_message_id == message_sid)).first()
    if row is None:
        return False
    row.delivery_status = (status or "")[:32] or None
    if error_code:
        row.last_error = f"Twilio reported {status} (error {error_code})"
        if str(error_code) == str(sms_integration.OPTED_OUT):
            _add_opt_out(row.organization_id, "sms", row.recipient, "twilio_21610")
    db.session.commit()
    return True


# --- scheduling: called by the booking service inside its transaction ----------------------------

def schedule_booking_created(booking: Booking, *, manage_token: str | None, staff_ids: Iterable | None = None,
                             now: datetime | None = None) -> list[Notification]:
    """Queue the messages a new booking causes, in the caller's transaction (no commit):
    the attendee's confirmation (email with a calendar invitation, and SMS when a phone was given),
    a notice to each trainer, and the reminders at the organization's offsets that are still ahead."""
    now = now or utcnow()
    with db.session.no_autoflush:
        org = db.session.get(Organization, booking.organization_id)
        staff = _staff_by_id(staff_ids or [booking.staff_id])
        sequence = booking.sequence or 0
        attendee_context = {"manage": seal(manage_token)} if manage_token else {}
        rows = _attendee_messages(booking, "booking_confirmation", sequence, now, attendee_context)
        rows += [_row(booking, "email", "staff_booking_created", member.email, now, sequence, {"staff_id": str(member.id)},
                      key_extra=str(member.id)) for member in staff]
        rows += _reminders(booking, org, sequence, now, attendee_context)
    db.session.add_all(rows)
    background.kick_after_commit("notifications")
    return rows


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
        _cancel_pending(lead.id, ["booking_update", "staff_booking_rescheduled"],
                        "superseded by a later change", now)
        context = _manage_context(lead.id)
        if previous:
            context.update({k: previous.get(k) for k in ("start_at", "end_at", "staff_id") if previous.get(k)})
        staff = _staff_by_id([row.staff_id for row in (group or [lead])])
        rows = _attendee_messages(lead, "booking_update", lead.sequence, now, context)
        rows += [_row(lead, "email", "staff_booking_rescheduled", member.email, now, lead.sequence,
                      {"staff_id": str(member.id), **{k: v for k, v in context.items() if k != "manage"}},
                      key_extra=str(member.id)) for member in staff]
        rows += _reminders(lead, org, lead.sequence, now, _manage_context(lead.id))
    db.session.add_all(rows)
    background.kick_after_commit("notifications")
    return rows


def schedule_booking_cancelled(booking: Booking, group: list[Booking] | None = None, *,
                               now: datetime | None = None) -> list[Notification]:
    """Queue the cancellation (email with METHOD:CANCEL, SMS when there is a phone) and the trainer
    notices, and cancel every pending reminder of the booking (no commit)."""
    now = now or utcnow()
    lead = _lead(booking, group)
    with db.session.no_autoflush:
        _cancel_pending(lead.id, ["booking_reminder"], "the booking was cancelled", now)
        _cancel_pending(lead.id, ["booking_update", "staff_booking_rescheduled"], "the booking was cancelled", now)
        staff = _staff_by_id([row.staff_id for row in (group or [lead])])
        rows = _attendee_messages(lead, "booking_cancellation", lead.sequence, now, {})
        rows += [_row(lead, "email", "staff_booking_cancelled", member.email, now, lead.sequence,
                      {"staff_id": str(member.id)}, key_extra=str(member.id)) for member in staff]
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


def _reminders(booking: Booking, org: Organization, sequence: int, now: datetime, context: dict) -> list:
    offsets = org.reminder_offsets_minutes if org.reminder_offsets_minutes is not None \
        else DEFAULT_REMINDER_OFFSETS_MINUTES
    rows = []
    for offset in sorted({int(o) for o in offsets if int(o) > 0}, reverse=True):
        send_at = booking.start_at - timedelta(minutes=offset)
        if send_at <= now:  # a reminder that would already be late says nothing the confirmation didn't
            continue
        extra = {**context, "offset_minutes": offset}
        rows.append(_row(booking, "email", "booking_reminder", booking.attendee_email, send_at, sequence, dict(extra),
                         key_extra=f"{offset}m"))
        if booking.attendee_phone:
            rows.append(_row(booking, "sms", "booking_reminder", booking.attendee_phone, send_at, sequence,
                             dict(extra), key_extra=f"{offset}m"))
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


# --- claiming ------------------------------------------------------------------------------------

def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _begin_write() -> None:
    """End whatever the session had open and, on SQLite, start the next transaction holding the write lock."""
    db.session.commit()  # a no-op without an open transaction
    begin_serialized_transaction()


def _claimable(now: datetime):
    return and_(Notification.status == "pending", Notification.send_at <= now)


def claim_due(limit: int, *, now: datetime | None = None) -> list[tuple[uuid.UUID, str]]:
    """Claim up to `limit` due rows (oldest first): pending → sending under one fresh claim token.

    PostgreSQL: the rows are picked with FOR UPDATE SKIP LOCKED, so concurrent claimers take
    different rows without waiting. SQLite: one UPDATE … WHERE status = 'pending' inside a
    BEGIN IMMEDIATE transaction; writers are serialised, so no row can be claimed twice."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    _begin_write()
    if _dialect() == "postgresql":
        picked = (select(Notification.id).where(_claimable(now)).order_by(Notification.send_at).limit(limit)
                  .with_for_update(skip_locked=True).cte("picked"))
        stmt = update(Notification).where(Notification.id == picked.c.id)
    else:
        picked = select(Notification.id).where(_claimable(now)).order_by(Notification.send_at).limit(limit)
        stmt = update(Notification).where(Notification.id.in_(picked.scalar_subquery()),
                                          Notification.status == "pending")
    return _claim(stmt, token, now)


def claim_ids(ids: Iterable, *, now: datetime | None = None) -> list[tuple[uuid.UUID, str]]:
    """Claim the given rows that are still pending and due (the RQ job's claim)."""
    now = now or utcnow()
    wanted = [uuid.UUID(str(i)) for i in ids]
    if not wanted:
        return []
    token = secrets.token_hex(16)
    _begin_write()
    stmt = update(Notification).where(Notification.id.in_(wanted), _claimable(now))
    return _claim(stmt, token, now)


def _claim(stmt, token: str, now: datetime) -> list[tuple[uuid.UUID, str]]:
    try:
        stmt = stmt.values(status="sending", claim_token=token, claimed_at=now, handed_off_at=None,
                           attempts=Notification.attempts + 1, updated_at=now).returning(Notification.id)
        ids = db.session.execute(stmt, execution_options={"synchronize_session": False}).scalars().all()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return [(i, token) for i in ids]


def take_due_for_queue(limit: int, *, now: datetime | None = None) -> list[uuid.UUID]:
    """Mark up to `limit` due rows as queued (enqueued_at) and return their ids, for the RQ dispatcher.

    Queued is only a hint against piling the same row up in Redis: the job still has to claim the
    row. A row queued longer ago than the lease (its job lost with Redis, say) is queued again."""
    now = now or utcnow()
    stale = now - timedelta(seconds=current_app.config["NOTIFICATIONS_LEASE_SECONDS"])
    condition = and_(_claimable(now), or_(Notification.enqueued_at.is_(None), Notification.enqueued_at < stale))
    _begin_write()
    if _dialect() == "postgresql":
        picked = (select(Notification.id).where(condition).order_by(Notification.send_at).limit(limit)
                  .with_for_update(skip_locked=True).cte("picked"))
        stmt = update(Notification).where(Notification.id == picked.c.id)
    else:
        picked = select(Notification.id).where(condition).order_by(Notification.send_at).limit(limit)
        stmt = update(Notification).where(Notification.id.in_(picked.scalar_subquery()), condition)
    try:
        ids = db.session.execute(stmt.values(enqueued_at=now).returning(Notification.id),
                                 execution_options={"synchronize_session": False}).scalars().all()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return list(ids)


def release_queued(ids: Iterable) -> None:
    """The queue refused these ids (Redis down): let the next dispatch take them at once."""
    wanted = [uuid.UUID(str(i)) for i in ids]
    if wanted:
        db.session.execute(update(Notification).where(Notification.id.in_(wanted), Notification.status == "pending")
                           .values(enqueued_at=None), execution_options={"synchronize_session": False})
        db.session.commit()


# --- delivering ----------------------------------------------------------------------------------

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
    errors: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        for name in ("sent", "failed", "retried", "skipped", "lost", "unsettled", "recovered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    @property
    def claimed(self) -> int:
        return self.sent + self.failed + self.retried + self.skipped + self.lost + self.unsettled

    def as_dict(self) -> dict:
        return {"claimed": self.claimed, "sent": self.sent, "failed": self.failed, "retried": self.retried,
                "skipped": self.skipped, "lost": self.lost, "unsettled": self.unsettled,
                "recovered": self.recovered}


def process_due(*, limit: int | None = None, now: datetime | None = None) -> Outcome:
    """Recover expired leases, then claim and send due rows in batches until none are due or
    `limit` rows were claimed: the cron endpoint's and the in-process dispatcher's whole job."""
    outcome = Outcome()
    outcome.recovered = recover_expired(now=now)
    batch = current_app.config["NOTIFICATIONS_BATCH_SIZE"]
    remaining = limit if limit is not None else None
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


class _Clock:
    """The injected time when a test gives one, else the real time at each call."""

    def __init__(self, now: datetime | None) -> None:
        self.fixed = now

    def __call__(self) -> datetime:
        return self.fixed or utcnow()


@dataclass
class _Batch:
    """What one batch of claimed rows needs, loaded in a fixed number of queries."""

    rows: dict
    bookings: dict
    orgs: dict
    staff: dict
    sms_opt_outs: set
    email_opt_outs: set


FRESH = {"populate_existing": True}  # the database's values, not what this session saw earlier


def _load_batch(ids: list[uuid.UUID]) -> _Batch:
    rows = {n.id: n for n in db.session.scalars(select(Notification).where(Notification.id.in_(ids))
                                                .execution_options(**FRESH))}
    booking_ids = {n.booking_id for n in rows.values() if n.booking_id}
    bookings = {b.id: b for b in db.session.scalars(
        select(Booking).where(Booking.id.in_(booking_ids)).execution_options(**FRESH)
        .options(selectinload(Booking.booking_link).selectinload(BookingLink.branding)))} if booking_ids else {}
    orgs = {o.id: o for o in db.session.scalars(
        select(Organization).where(Organization.id.in_({n.organization_id for n in rows.values()})))}
    staff_ids = {uuid.UUID(n.context["staff_id"]) for n in rows.values() if (n.context or {}).get("staff_id")}
    staff = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(staff_ids)))} if staff_ids else {}
    numbers = {n.recipient for n in rows.values() if n.channel == "sms"}
    sms_opt_outs = set(db.session.scalars(select(NotificationOptOut.address).where(
        NotificationOptOut.channel == "sms", NotificationOptOut.address.in_(numbers)))) if numbers else set()
    addresses = {n.recipient.lower() for n in rows.values() if n.channel == "email"}
    email_opt_outs = {(o, a) for o, a in db.session.execute(select(
        NotificationOptOut.organization_id, NotificationOptOut.address).where(
        NotificationOptOut.channel == "email", NotificationOptOut.address.in_(addresses)))} if addresses else set()
    db.session.commit()  # end the read transaction: sending happens outside any open transaction
    return _Batch(rows, bookings, orgs, staff, sms_opt_outs, email_opt_outs)


def deliver_claimed(claimed: list[tuple[uuid.UUID, str]], *, now: datetime | None = None) -> Outcome:
    """Send rows this caller has claimed, one by one; one row's failure never stops the others."""
    outcome = Outcome()
    if not claimed:
        return outcome
    clock = _Clock(now)
    batch = _load_batch([i for i, _ in claimed])
    transports: dict[str, object] = {}
    try:
        for row_id, token in claimed:
            row = batch.rows.get(row_id)
            if row is None or row.claim_token != token:
                outcome.lost += 1
                continue
            try:
                result = _send_one(row, token, batch, transports, clock)
            except Exception as exc:  # a bug or an unexpected failure: this row retries, the batch goes on
                db.session.rollback()
                log.exception("notification %s: unexpected error", row.id)
                result = _retry_or_fail(row, token, f"internal error: {exc.__class__.__name__}: {exc}", clock)
            setattr(outcome, result, getattr(outcome, result) + 1)
    finally:
        for transport in transports.values():
            try:
                transport.close()
            except Exception:  # noqa: BLE001
                pass
    return outcome


def _send_one(row: Notification, token: str, batch: _Batch, transports: dict, clock: _Clock) -> str:
    kind = KINDS.get(row.template)
    booking = batch.bookings.get(row.booking_id) if row.booking_id else None
    org = batch.orgs.get(row.organization_id)
    if kind is None:
        return _finish_failed(row, token, f"unknown template {row.template!r}", clock)
    reason = stale_reason(row, kind, booking, clock())
    if reason:
        return _finish(row, token, "skipped", reason, clock)
    problem = recipient_problem(row.channel, row.recipient)
    if problem:
        return _finish_failed(row, token, problem, clock)
    if row.channel == "sms" and row.recipient in batch.sms_opt_outs:
        return _finish(row, token, "skipped", "the number has opted out of SMS (replied STOP)", clock)
    if kind.reminder and row.channel == "email" and (row.organization_id, row.recipient.lower()) in batch.email_opt_outs:
        return _finish(row, token, "skipped", "the recipient unsubscribed from reminder emails", clock)

    message = render(row, booking, org, batch.staff)
    if row.channel == "email":
        return _send_email(row, token, message, transports, clock)
    return _send_sms(row, token, message, transports, clock)


def stale_reason(row: Notification, kind: Kind, booking: Booking | None, now: datetime) -> str | None:
    """Why this message must not go out now (the booking changed under it), or None."""
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
    return None


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


def _transport(transports: dict, channel: str):
    if channel not in transports:
        transports[channel] = (email_integration.mail_transport() if channel == "email"
                               else sms_integration.sms_transport())
    return transports[channel]


def _send_email(row: Notification, token: str, message: Rendered, transports: dict, clock: _Clock) -> str:
    transport = _transport(transports, "email")
    mime = email_integration.build_message(
        to=row.recipient, subject=message.subject, text=message.text, html=message.html,
        message_id=email_integration.message_id_for(f"notification-{row.id}"), calendar=message.calendar,
        calendar_method=message.calendar_method, headers=message.headers)
    handoff = _handoff(row, token, clock, via=transport.name)
    try:
        if isinstance(transport, email_integration.OutboxTransport):
            reference = transport.send(mime, recipient=row.recipient, on_handoff=handoff, key=str(row.id))
        else:
            reference = transport.send(mime, recipient=row.recipient, on_handoff=handoff)
    except email_integration.EmailDeliveryError as exc:
        if exc.kind == "permanent":
            return _finish_failed(row, token, exc.reason, clock)
        if exc.kind == "unknown":
            return _finish_failed(row, token, UNKNOWN_EMAIL + f" ({exc.reason})", clock)
        return _retry_or_fail(row, token, exc.reason, clock)
    if reference is None:
        return "lost"
    return _finish_sent(row, token, reference, "outbox" if transport.name == "outbox" else "accepted", clock)


UNKNOWN_EMAIL = ("delivery unknown: the SMTP conversation broke off while the server was receiving the message, "
                 "so it may have arrived; not sent again automatically (at most once). Use Retry if the "
                 "recipient did not get it")


def _send_sms(row: Notification, token: str, message: Rendered, transports: dict, clock: _Clock) -> str:
    transport = _transport(transports, "sms")
    handoff = _handoff(row, token, clock, via=transport.name, digest=body_digest(message.sms))
    try:
        result = transport.send(to=row.recipient, body=message.sms, on_handoff=handoff, key=str(row.id))
    except sms_integration.SmsDeliveryError as exc:
        if exc.code == sms_integration.OPTED_OUT:
            _add_opt_out(row.organization_id, "sms", row.recipient, "twilio_21610")
            db.session.commit()
            return _finish(row, token, "skipped", exc.reason, clock)
        if exc.kind == "permanent":
            return _finish_failed(row, token, exc.reason, clock)
        if exc.kind == "unknown":
            # Twilio can be asked later: recovery settles it (sent if Twilio has it, else resent).
            _fenced(row, token, last_error=f"outcome unknown, will check with Twilio: {exc.reason}")
            return "unsettled"
        return _retry_or_fail(row, token, exc.reason, clock)
    if result is None:
        return "lost"
    sid, status = result
    return _finish_sent(row, token, sid, status, clock)


def body_digest(body: str) -> str:
    return hashlib.sha256(" ".join(body.split()).encode()).hexdigest()


def _handoff(row: Notification, token: str, clock: _Clock, *, via: str, digest: str | None = None):
    """The fenced "about to hand this to the provider" write. Returns False when the claim is gone."""

    def handoff() -> bool:
        context = dict(row.context or {})
        context["via"] = via
        if digest:
            context["digest"] = digest
        ok = _fenced(row, token, handed_off_at=clock(), context=context)
        if ok:  # mirror the write without marking the row dirty (no second UPDATE at the next flush)
            set_committed_value(row, "context", context)
        return ok

    return handoff


def _fenced(row: Notification, token: str, *, durable: bool = True, **values) -> bool:
    """UPDATE this row only if our claim still owns it; commit. True when it did.

    `durable=False` (results: sent, failed, retry) commits asynchronously on PostgreSQL — one fsync
    per message instead of two. Losing such a write in a database-server crash is safe: the row is
    still `sending` with its hand-off mark, and recovery settles it (Twilio and the file outbox
    exactly; SMTP as "delivery unknown") without sending it again. The hand-off mark itself is
    always durable: it must be on disk before the provider sees the message."""
    try:
        if not durable and _dialect() == "postgresql":
            db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        result = db.session.execute(
            update(Notification).where(Notification.id == row.id, Notification.claim_token == token,
                                       Notification.status == "sending").values(updated_at=utcnow(), **values),
            execution_options={"synchronize_session": False})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result.rowcount == 1


def _finish(row: Notification, token: str, status: str, reason: str | None, clock: _Clock, **values) -> str:
    ok = _fenced(row, token, durable=False, status=status, last_error=reason, claim_token=None, **values)
    if not ok:
        return "lost"
    return status


def _finish_sent(row: Notification, token: str, reference: str, delivery_status: str, clock: _Clock) -> str:
    ok = _fenced(row, token, durable=False, status="sent", sent_at=clock(), provider_message_id=reference[:255],
                 delivery_status=delivery_status[:32], last_error=None, claim_token=None)
    if not ok:
        log.warning("notification %s was sent but its claim had been taken back", row.id)
        return "lost"
    return "sent"


def _finish_failed(row: Notification, token: str, reason: str, clock: _Clock) -> str:
    result = _finish(row, token, "failed", reason[:2000], clock)
    return "failed" if result == "failed" else result


def _retry_or_fail(row: Notification, token: str, reason: str, clock: _Clock) -> str:
    """A temporary failure: back to pending after a backoff, or failed once attempts are used up."""
    if row.attempts >= row.max_attempts:
        return _finish_failed(row, token, f"gave up after {row.attempts} attempts: {reason}", clock)
    delay = backoff_seconds(row.attempts)
    ok = _fenced(row, token, durable=False, status="pending", claim_token=None, handed_off_at=None,
                 enqueued_at=None, send_at=clock() + timedelta(seconds=delay),
                 last_error=f"attempt {row.attempts}: {reason}"[:2000])
    return "retried" if ok else "lost"


def backoff_seconds(attempts: int) -> float:
    """Exponential: base · 2^(attempts−1), capped, with ±10% jitter so retries do not move in lockstep."""
    base = current_app.config["NOTIFICATIONS_BACKOFF_SECONDS"]
    cap = current_app.config["NOTIFICATIONS_BACKOFF_MAX_SECONDS"]
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.9, 1.1)


# --- recovery --------------------------------------------------------------------------------------

def recover_expired(*, now: datetime | None = None) -> int:
    """Settle `sending` rows whose sender is gone (lease expired). Returns how many were settled.

    * Never handed off → pending again (or failed when its attempts are used up): nothing was sent.
    * Handed off to the file outbox → sent if the file exists, else pending.
    * Handed off to Twilio → Twilio is asked for a message to that number with that body since the
      hand-off: found → sent (with its sid); not found → pending; Twilio unreachable → left as is.
    * Handed off to SMTP → failed with "delivery unknown": SMTP cannot be asked, so at most once.
    """
    now = now or utcnow()
    clock = _Clock(now)
    cutoff = now - timedelta(seconds=current_app.config["NOTIFICATIONS_LEASE_SECONDS"])
    rows = db.session.scalars(select(Notification).where(
        Notification.status == "sending",
        or_(and_(Notification.handed_off_at.is_(None), Notification.claimed_at < cutoff),
            Notification.handed_off_at < cutoff),
    ).limit(500).execution_options(**FRESH)).all()
    db.session.commit()
    settled = 0
    transports: dict[str, object] = {}
    for row in rows:
        token = row.claim_token
        if row.handed_off_at is None:
            result = _release(row, token, "the sender stopped before handing the message over (lease expired)",
                              clock)
            settled += result != "lost"
            continue
        via = (row.context or {}).get("via")
        try:
            reference = _ask_provider(row, via, transports)
        except (email_integration.EmailDeliveryError, sms_integration.SmsDeliveryError) as exc:
            log.warning("notification %s: cannot settle yet: %s", row.id, exc)
            continue
        if reference is _UNKNOWABLE:
            result = _finish(row, token, "failed", UNKNOWN_EMAIL, clock)
        elif reference:
            result = _finish_sent(row, token, reference, "recovered", clock)
        else:
            result = _release(row, token, "the sender stopped mid-send and the provider has no such message", clock)
        settled += result != "lost"
    return settled


_UNKNOWABLE = object()


def _release(row: Notification, token: str, reason: str, clock: _Clock) -> str:
    """A claim whose sender died before anything reached anyone: pending again at once (the crash
    counted as an attempt, so a message that kills its sender cannot loop for ever)."""
    if row.attempts >= row.max_attempts:
        return _finish_failed(row, token, f"gave up after {row.attempts} attempts: {reason}", clock)
    ok = _fenced(row, token, status="pending", claim_token=None, handed_off_at=None, enqueued_at=None,
                 send_at=clock(), last_error=f"attempt {row.attempts}: {reason}"[:2000])
    return "retried" if ok else "lost"


def _ask_provider(row: Notification, via: str | None, transports: dict):
    """The provider's reference if it has the message, None if it certainly does not, or _UNKNOWABLE."""
    if via == "outbox":
        folder = current_app.config["OUTBOX_DIR"]
        transport = (email_integration.OutboxTransport(folder) if row.channel == "email"
                     else sms_integration.OutboxSmsTransport(folder))
        return transport.delivered(str(row.id))
    if via == "twilio" and sms_integration.twilio_configured():
        transport = _transport(transports, "sms")
        digest = (row.context or {}).get("digest")
        if not digest or not isinstance(transport, sms_integration.TwilioTransport):
            return _UNKNOWABLE
        try:
            recent = transport.client.messages.list(to=row.recipient, from_=transport.from_number, limit=50)
        except Exception as exc:  # noqa: BLE001 (any failure to ask means: ask again later)
            raise sms_integration.SmsDeliveryError("temporary", f"cannot ask Twilio: {exc}") from None
        horizon = row.handed_off_at - timedelta(minutes=2)
        for message in recent:
            created = message.date_created
            if body_digest(message.body or "") == digest and (created is None or created >= horizon):
                return message.sid
        return None
    return _UNKNOWABLE


# --- rendering -------------------------------------------------------------------------------------

@dataclass
class Rendered:
    subject: str = ""
    text: str = ""
    html: str | None = None
    sms: str = ""
    calendar: bytes | None = None
    calendar_method: str | None = None
    headers: dict = field(default_factory=dict)


def render(row: Notification, booking: Booking, org: Organization, staff: dict) -> Rendered:
    """The message for `row`, from its template and the booking as it is now."""
    kind = KINDS[row.template]
    context = message_context(row, booking, org, staff)
    name = f"notifications/{row.template}"
    if row.channel == "sms":
        return Rendered(sms=sms_text(render_template(f"{name}.sms.txt", **context)))
    rendered = Rendered(
        subject=" ".join(render_template(f"{name}.subject.txt", **context).split()),
        text=render_template(f"{name}.txt", **context).strip() + "\n",
        html=render_template(f"{name}.html", **context),
    )
    if kind.calendar_method:
        calendar = ics.booking_calendar(booking, method=kind.calendar_method,
                                        organizer_email=email_integration.sender_address(),
                                        manage_link=context["manage_url"] if kind.calendar_method != "CANCEL" else None)
        rendered.calendar = calendar.to_ical()
        rendered.calendar_method = kind.calendar_method
    if kind.reminder and context.get("unsubscribe_url"):  # what unsubscribing stops: reminders
        rendered.headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
        rendered.headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return rendered


SMS_REPLACEMENTS = {"\u2013": "-", "\u2014": "-", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                    "\u2026": "...", "\u00a0": " "}


def sms_text(text: str) -> str:
    """One line of GSM-friendly text: curly quotes and dashes would switch the SMS to UCS-2 (70 chars)."""
    text = " ".join(text.split())
    for old, new in SMS_REPLACEMENTS.items():
        text = text.replace(old, new)
    return text


def message_context(row: Notification, booking: Booking, org: Organization, staff: dict) -> dict:
    """What every template can use."""
    app_url = current_app.config["APP_URL"]
    ctx = row.context or {}
    is_staff = KINDS[row.template].audience == "staff"
    member = staff.get(uuid.UUID(ctx["staff_id"])) if ctx.get("staff_id") else None
    tz = (member.timezone if is_staff and member else None) or booking.attendee_timezone or org.timezone
    tz = valid_zone(tz) or "UTC"
    token = unseal(ctx.get("manage"))
    link = booking.booking_link
    book_url = f"{app_url}/book/{link.slug}" if link is not None and link.is_public and link.is_active else app_url
    previous_start = _parse_instant(ctx.get("start_at"))
    previous_end = _parse_instant(ctx.get("end_at"))
    service = booking.appointment_type.name if booking.appointment_type else (booking.title or "Appointment")
    trainer = booking.staff.name if booking.staff else None
    offset = ctx.get("offset_minutes")
    return {
        "org_name": org.name,
        "brand": brand_for(booking, app_url),
        "attendee_name": booking.attendee_name,
        "first_name": booking.attendee_name.split()[0] if booking.attendee_name else "there",
        "attendee_email": booking.attendee_email,
        "attendee_phone": booking.attendee_phone,
        "service": service,
        "trainer": trainer,
        "staff_name": member.name if member else trainer,
        "location": booking.location_details or (booking.appointment_type.location if booking.appointment_type else None),
        "description": booking.description,
        "duration_minutes": booking.duration_minutes,
        "when": when_text(booking.start_at, booking.end_at, tz),
        "when_short": when_short(booking.start_at, tz),
        "date_short": date_short(booking.start_at, tz),
        "previous_when": when_text(previous_start, previous_end, tz) if previous_start and previous_end else None,
        "timezone": tz,
        "reason": booking.cancellation_reason,
        "manage_url": urls.manage_url(token) if token else None,
        "book_url": book_url,
        "dashboard_url": f"{app_url}/dashboard/bookings/{booking.id}",
        "unsubscribe_url": unsubscribe_url(org.id, row.recipient) if not is_staff and row.channel == "email" else None,
        "lead_time": lead_time_text(offset) if offset else None,
        "reminder_offsets": offset,
        "contact_email": org.contact_email,
    }


def brand_for(booking: Booking, app_url: str) -> dict:
    """The booking page's colours and logo, made safe and readable the same way the page does."""
    # Pure colour arithmetic that lives beside the public pages (no request, no blueprint state).
    from app.services.branding import palette, safe_logo_url

    branding = booking.booking_link.branding if booking.booking_link is not None else None
    colours = palette(branding.primary_color if branding else None, branding.accent_color if branding else None)
    logo = safe_logo_url(branding.logo_url) if branding else None
    if logo and logo.startswith("/"):
        logo = app_url + logo  # an email has no page to be relative to
    return {"primary": colours.brand, "on_primary": colours.brand_contrast, "ink": colours.brand_ink,
            "accent": colours.accent, "logo_url": logo}


def zone_label(tz: str) -> str:
    """"London time", "New York time", "UTC"."""
    if "/" not in tz:
        return tz
    return tz.rsplit("/", 1)[1].replace("_", " ") + " time"


def when_text(start: datetime, end: datetime, tz: str) -> str:
    """"Monday 7 January 2030, 10:00–11:00 London time (GMT)"."""
    zone = ZoneInfo(tz)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = f"{local_start:%A} {local_start.day} {local_start:%B %Y}"
    end_text = f"{local_end:%H:%M}" if local_end.date() == local_start.date() else \
        f"{local_end:%a} {local_end.day} {local_end:%b} {local_end:%H:%M}"
    return f"{day}, {local_start:%H:%M}\u2013{end_text} {zone_label(tz)} ({local_start.tzname()})"


def when_short(start: datetime, tz: str) -> str:
    """"Mon 7 Jan, 10:00 GMT" (SMS)."""
    local = start.astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {local.tzname()}"


def date_short(start: datetime, tz: str) -> str:
    """"Mon 7 Jan at 10:00" (subjects)."""
    local = start.astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"


def lead_time_text(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "tomorrow" if days == 1 else f"in {days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "in 1 hour" if hours == 1 else f"in {hours} hours"
    return f"in {minutes} minutes"


def _parse_instant(value) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# --- the outbox, for the dashboard and the health endpoint ---------------------------------------

def outbox_page(organization_id: uuid.UUID, *, status: str | None = None, channel: str | None = None,
                limit: int = 50, offset: int = 0) -> tuple[list[Notification], int, dict[str, int]]:
    """This organization's notifications, newest first: (rows, how many match, count per status)."""
    where = [Notification.organization_id == organization_id]
    if status:
        where.append(Notification.status == status)
    if channel:
        where.append(Notification.channel == channel)
    rows = db.session.scalars(select(Notification).where(*where)
                              .order_by(Notification.created_at.desc(), Notification.send_at.desc())
                              .limit(limit).offset(offset)).all()
    total = db.session.scalar(select(func.count()).select_from(Notification).where(*where))
    counts = dict(db.session.execute(select(Notification.status, func.count()).where(
        Notification.organization_id == organization_id).group_by(Notification.status)).all())
    return list(rows), total, counts


def get_notification(organization_id: uuid.UUID, notification_id) -> Notification:
    """One of this organization's notifications, or NotFound (also for another organization's)."""
    try:
        wanted = uuid.UUID(str(notification_id))
    except ValueError:
        raise NotFound("No such notification.") from None
    row = db.session.get(Notification, wanted)
    if row is None or row.organization_id != organization_id:
        raise NotFound("No such notification.")
    return row


def retry_notification(organization_id: uuid.UUID, notification_id, *, now: datetime | None = None) -> Notification:
    """Send a failed notification again, now, with a fresh set of attempts (a person decided to).

    Only `failed` rows: a sent one would arrive twice, a skipped or cancelled one was stopped on purpose."""
    now = now or utcnow()
    row = get_notification(organization_id, notification_id)
    if row.status != "failed":
        raise Conflict(f"Only failed messages can be retried; this one is {row.status}.", code="not_failed")
    result = db.session.execute(
        update(Notification).where(Notification.id == row.id, Notification.status == "failed")
        .values(status="pending", send_at=now, claim_token=None, handed_off_at=None, enqueued_at=None,
                max_attempts=row.attempts + current_app.config["NOTIFICATIONS_MAX_ATTEMPTS"],
                last_error=f"retried by staff; previously: {row.last_error or 'no error recorded'}"[:2000],
                updated_at=now),
        execution_options={"synchronize_session": False})
    db.session.commit()
    if result.rowcount != 1:
        raise Conflict("This message changed meanwhile; reload the page.", code="changed")
    db.session.refresh(row)
    background.kick("notifications")
    return row


def outbox_file(row: Notification):
    """The email the file outbox wrote for this row (demo mode), or None."""
    reference = row.provider_message_id or ""
    if row.channel != "email" or not reference.startswith("file:"):
        return None
    return email_integration.read_outbox_file(reference[len("file:"):])


def queue_health(*, now: datetime | None = None) -> dict:
    """Counts for the health endpoint: rows per status, what is due, the oldest due, stuck sends."""
    now = now or utcnow()
    counts = dict(db.session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    due = db.session.scalar(select(func.count()).select_from(Notification).where(_claimable(now)))
    oldest = db.session.scalar(select(func.min(Notification.send_at)).where(_claimable(now)))
    lease = current_app.config["NOTIFICATIONS_LEASE_SECONDS"]
    stuck = db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.status == "sending", Notification.claimed_at < now - timedelta(seconds=lease)))
    db.session.commit()
    return {
        "counts": {status: counts.get(status, 0) for status in ("pending", "sending", "sent", "failed", "cancelled",
                                                                 "skipped")},
        "due_now": due,
        "oldest_due_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0,
        "stuck_sending": stuck,
        "lease_seconds": lease,
    }


def check_limit(value) -> int:
    """A batch limit from a request: 1…5000."""
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise InvalidRequest("limit must be a whole number.", fields={"limit": "a whole number"}) from None
    if not 1 <= limit <= 5000:
        raise InvalidRequest("limit must be between 1 and 5000.", fields={"limit": "between 1 and 5000"})
    return limit
