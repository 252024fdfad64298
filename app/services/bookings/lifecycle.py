"""The booking lifecycle: create, reschedule, cancel — one code path for every kind of caller.

Public pages, the JSON API, the dashboard, AI tools and calendar sync all call these functions.
Each one checks the request against live availability inside its own transaction; on PostgreSQL
the exclusion constraint is the last guard, on SQLite the transaction is serialised
(BEGIN IMMEDIATE). Every change writes a booking_audit row in the same transaction.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.database import begin_serialized_transaction
from app.extensions import db
from app.models import ACTIVE_STATUSES, AppointmentType, Booking, BookingAudit, BookingLink, Organization, User
from app.services.bookings.manage_links import new_manage_token
from app.services.scheduling import engine
from app.services.calendar import sync as calendar_sync
from app.services import notifications
from app.services.scheduling.loader import appointment_spec, load_schedules
from app.services.errors import Conflict, InvalidRequest, NotFound, ServiceError
from app.services.zones import require_zone
from app.services.scheduling.cache import app_cache
from app.services.scheduling.search import choose_appointment_type, link_info, link_staff
from app.timeformat import iso_utc

ACTOR_TYPES = ("attendee", "staff", "ai", "calendar", "system")
# Who must respect the organization's cancellation/reschedule cutoff (staff may always act).
CUTOFF_BOUND_ACTORS = ("attendee", "ai")
ALTERNATIVES = 5
ALTERNATIVE_SEARCH_DAYS = 14
NAME_MAX = 200


@dataclass(frozen=True)
class Actor:
    """Who is making a change, for the audit trail."""

    type: str
    id: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if self.type not in ACTOR_TYPES:
            raise ValueError(f"unknown actor type {self.type!r}")


@dataclass
class BookingResult:
    booking: Booking
    manage_token: str | None  # shown once; None when an idempotent retry returned the first booking
    created: bool
    # Names for the response, known without another query (None on an idempotent replay).
    staff_name: str | None = None
    appointment_type_name: str | None = None


class SlotTaken(Conflict):
    """The requested time is not (or no longer) free; `details["alternatives"]` lists free ones."""

    code = "slot_taken"


# --- validation -------------------------------------------------------------------------------

def normalise_email(value: str | None) -> str:
    if not value or not value.strip():
        raise InvalidRequest("An email address is required.", fields={"attendee_email": "required"})
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidRequest(f"The email address is not valid: {exc}",
                             fields={"attendee_email": str(exc)}) from None


def normalise_phone(value: str | None, region: str = "GB") -> str | None:
    """E.164 (+447700900123), or None when no phone was given."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    # "Possible" (right length for the country) rather than "valid": allocation tables lag behind
    # carriers, and the spec's own example (+44 7700 900123) is in a range reserved for drama.
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidRequest("The phone number is not valid; include the country code, e.g. +44 7700 900123.",
                             fields={"attendee_phone": "not a valid phone number"})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_name(value: str | None) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise InvalidRequest("Your name is required.", fields={"attendee_name": "required"})
    if len(name) > NAME_MAX:
        raise InvalidRequest(f"The name is longer than {NAME_MAX} characters.",
                             fields={"attendee_name": f"at most {NAME_MAX} characters"})
    return name


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequest(f"{field} needs a time zone (e.g. 2024-03-15T09:00:00Z).",
                             fields={field: "must include a UTC offset or Z"})
    return value.astimezone(timezone.utc)


# --- audit --------------------------------------------------------------------------------------

def snapshot(booking: Booking) -> dict:
    """The audited view of a booking."""
    return {
        "status": booking.status,
        "start_at": booking.start_at.isoformat() if booking.start_at else None,
        "end_at": booking.end_at.isoformat() if booking.end_at else None,
        "staff_id": str(booking.staff_id) if booking.staff_id else None,
        "appointment_type_id": str(booking.appointment_type_id) if booking.appointment_type_id else None,
        "attendee_name": booking.attendee_name,
        "attendee_email": booking.attendee_email,
        "attendee_phone": booking.attendee_phone,
        "cancellation_reason": booking.cancellation_reason,
    }


def record_audit(booking: Booking, actor: Actor, action: str, before: dict | None, after: dict | None) -> None:
    db.session.add(BookingAudit(
        organization_id=booking.organization_id, booking_id=booking.id, actor_type=actor.type, actor_id=actor.id,
        action=action, before=before, after=after, ip_address=(actor.ip or None) and actor.ip[:45],
        user_agent=(actor.user_agent or None) and actor.user_agent[:300],
    ))


# --- create -----------------------------------------------------------------------------------

def create_booking(
    *,
    link_slug: str,
    start_time: datetime,
    attendee_name: str,
    attendee_email: str,
    actor: Actor,
    appointment_type_id: str | None = None,
    staff_id: str | None = None,
    end_time: datetime | None = None,
    attendee_phone: str | None = None,
    attendee_timezone: str | None = None,
    description: str | None = None,
    location_details: str | None = None,
    idempotency_key: str | None = None,
    source: str = "public",
    now: datetime | None = None,
) -> BookingResult:
    """Book `start_time` on a public link, or raise.

    Promises: the slot is re-checked against live availability inside the writing transaction,
    and the database refuses an overlap that slips past the check, so two bookings never share
    a trainer's time; a lost race raises SlotTaken with the nearest free alternatives; the same
    `idempotency_key` returns the first booking instead of making a second; the booking and its
    audit row are written together or not at all.
    """
    now = now or datetime.now(timezone.utc)
    _refresh_calendar_busy(link_slug, start_time, now)
    begin_serialized_transaction()  # on SQLite: the write lock first, then every check below
    try:
        return _create(link_slug, start_time, attendee_name, attendee_email, actor, appointment_type_id, staff_id,
                       end_time, attendee_phone, attendee_timezone, description, location_details, idempotency_key,
                       source, now)
    except IntegrityError as exc:
        db.session.rollback()
        if idempotency_key and "idempotency_key" in str(exc.orig):
            replay = _replay_after_race(link_slug, idempotency_key, start_time, attendee_email)
            if replay is not None:
                return replay
        if "ex_bookings_no_overlap" in str(exc.orig):
            return _raise_taken_after_race(link_slug, appointment_type_id, staff_id, start_time, now)
        raise
    except BaseException:
        db.session.rollback()
        raise


def _refresh_calendar_busy(link_slug: str, start_time, now: datetime) -> None:
    """Bring stale Google busy times of the link's staff up to date before the booking transaction
    (the check inside it reads only the cache, and must not wait on Google while holding locks).
    Costs one query when nothing is stale; input errors are left for the real check to report."""
    try:
        link = link_info(link_slug, now=now, cache=app_cache())
        start = _aware(start_time, "start_time")
    except ServiceError:
        return
    calendar_sync.busy_for_staff([m.id for m in link.staff], start - timedelta(days=1), start + timedelta(days=1),
                                 now=now, refresh=True)


def _create(link_slug, start_time, attendee_name, attendee_email, actor, appointment_type_id, staff_id, end_time,
            attendee_phone, attendee_timezone, description, location_details, idempotency_key, source,
            now) -> BookingResult:
    cache = app_cache()
    link = link_info(link_slug, now=now, cache=cache)
    name = normalise_name(attendee_name)
    email = normalise_email(attendee_email)
    phone = normalise_phone(attendee_phone, link.phone_region)
    tz = require_zone(attendee_timezone, field="attendee_timezone", default=link.org_timezone)
    start = _aware(start_time, "start_time")
    atype = choose_appointment_type(list(link.types), appointment_type_id, None)
    end = start + timedelta(minutes=atype.duration_minutes)
    if end_time is not None and _aware(end_time, "end_time") != end:
        raise InvalidRequest(
            f"{atype.name} lasts {atype.duration_minutes} minutes, so it ends at {end.strftime('%Y-%m-%dT%H:%M:%SZ')}.",
            fields={"end_time": f"must be start_time + {atype.duration_minutes} minutes"},
        )
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()[:255] or None
        if idempotency_key:
            replay = _replay(link.organization_id, idempotency_key, start, email)
            if replay is not None:
                db.session.rollback()
                return replay

    candidates = list(link.staff)
    if staff_id:
        candidates = [m for m in candidates if str(m.id) == str(staff_id)]
        if not candidates:
            raise InvalidRequest("That member of staff does not take bookings on this page.",
                                 fields={"staff_id": "not on this booking link"})
    elif link.type == "individual" and len(candidates) > 1:
        raise InvalidRequest("Choose a member of staff.", fields={"staff_id": "required for this link"})
    if not candidates:
        raise NotFound("Nobody takes bookings on this page at the moment.")
    mode = "collective" if link.type == "collective" else ("round_robin" if len(candidates) > 1 else "individual")

    schedules = load_schedules(candidates, start - timedelta(days=1), end + timedelta(days=1), now=now,
                               with_fairness=mode == "round_robin", cache=cache, version=link.version)
    offered = engine.find_slot_at(schedules, appointment_spec(atype), start, now=now, mode=mode)
    if not offered:
        raise _slot_taken(atype, candidates, start, now, mode)
    slot = offered[0]
    participants = list(slot.staff_ids) if mode == "collective" else [slot.staff_id]
    group_id = uuid.uuid4() if len(participants) > 1 else None
    token, token_hash = new_manage_token()
    lead = None
    rows = []
    for index, member_id in enumerate(participants):
        booking = Booking(
            organization_id=link.organization_id, booking_link_id=link.id, appointment_type_id=atype.id,
            staff_id=uuid.UUID(member_id), group_id=group_id, start_at=start, end_at=end,
            buffer_before_minutes=atype.buffer_before_minutes, buffer_after_minutes=atype.buffer_after_minutes,
            status="confirmed", title=f"{atype.name} with {name}", attendee_name=name, attendee_email=email,
            attendee_phone=phone, attendee_timezone=tz, description=(description or None),
            location_details=(location_details or atype.location or None),
            manage_token_hash=token_hash if index == 0 else None,
            idempotency_key=idempotency_key if index == 0 else None, source=source,
        )
        booking.id = uuid.uuid4()
        db.session.add(booking)
        record_audit(booking, actor, "created", None, snapshot(booking))
        rows.append(booking)
        lead = lead or booking
    notifications.schedule_booking_created(lead, manage_token=token, staff_ids=participants, now=now)
    calendar_writes = calendar_sync.mark_bookings_changed(rows, now=now)
    db.session.commit()
    calendar_sync.after_commit(calendar_writes)
    names = {str(member.id): member.name for member in candidates}
    return BookingResult(booking=lead, manage_token=token, created=True, staff_name=names.get(participants[0]),
                         appointment_type_name=atype.name)


def _replay_after_race(link_slug, key, start_time, attendee_email) -> BookingResult | None:
    """Another request with the same Idempotency-Key won the race: answer with its booking."""
    link = link_info(link_slug, now=datetime.now(timezone.utc), cache=app_cache())
    return _replay(link.organization_id, key.strip()[:255], _aware(start_time, "start_time"),
                   normalise_email(attendee_email))


def _raise_taken_after_race(link_slug, appointment_type_id, staff_id, start_time, now):
    """The database refused an overlap that a concurrent booking created after our check."""
    link = link_info(link_slug, now=now, cache=app_cache())
    atype = choose_appointment_type(list(link.types), appointment_type_id, None)
    candidates = [m for m in link.staff if not staff_id or str(m.id) == str(staff_id)]
    mode = "collective" if link.type == "collective" else ("round_robin" if len(candidates) > 1 else "individual")
    raise _slot_taken(atype, candidates, _aware(start_time, "start_time"), now, mode)


def _replay(org_id, key: str, start: datetime, email: str) -> BookingResult | None:
    existing = db.session.scalars(
        select(Booking).where(Booking.organization_id == org_id, Booking.idempotency_key == key)
    ).first()
    if existing is None:
        return None
    if existing.start_at != start or existing.attendee_email != email:
        raise Conflict("This Idempotency-Key was already used for a different booking.", code="idempotency_conflict")
    return BookingResult(booking=existing, manage_token=None, created=False)


def _slot_taken(atype: AppointmentType, staff: list[User], start: datetime, now: datetime, mode: str) -> SlotTaken:
    alternatives = find_alternatives(atype, staff, start, now=now, mode=mode)
    return SlotTaken("Sorry, that time has just been taken. Here are the nearest free times.",
                     alternatives=alternatives)


def find_alternatives(atype: AppointmentType, staff: list[User], around: datetime, *, now: datetime, mode: str,
                      exclude_booking_id: uuid.UUID | None = None, limit: int = ALTERNATIVES) -> list[dict]:
    """The free slots nearest to `around` (from then on, within two weeks), as JSON-ready dicts."""
    window_start = max(around - timedelta(hours=2), now)
    window_end = window_start + timedelta(days=ALTERNATIVE_SEARCH_DAYS)
    schedules = load_schedules(staff, window_start, window_end, now=now, with_fairness=mode == "round_robin",
                               exclude_booking_id=exclude_booking_id)
    slots = engine.find_slots(schedules, appointment_spec(atype), window_start, window_end, now=now, mode=mode)
    nearest = sorted(slots, key=lambda s: (abs((s.start - around).total_seconds()), s.start))[:limit]
    return [slot_dict(s) for s in sorted(nearest, key=lambda s: s.start)]


def slot_dict(slot: engine.Slot) -> dict:
    return {
        "start": iso_utc(slot.start),
        "end": iso_utc(slot.end),
        "staff_id": slot.staff_id,
        "staff_name": slot.staff_name,
        "appointment_type_id": slot.appointment_type_id,
    }


# --- change -----------------------------------------------------------------------------------

def _load_for_change(booking_id, *, lock: bool = False) -> tuple[Booking, list[Booking], Organization]:
    """The booking, its collective group and its organization. With `lock` (inside the writing
    transaction) the rows are read afresh from the database, not from this session's memory, and
    on PostgreSQL locked FOR UPDATE: a change made meanwhile by another request, worker or Google
    sync is seen, and a second one waits for it instead of acting on stale state."""
    if lock:
        query = select(Booking).where(Booking.id == booking_id).with_for_update(of=Booking)
        booking = db.session.scalars(query.execution_options(populate_existing=True)).first()
    else:
        booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("No such booking.")
    group = [booking]
    if booking.group_id is not None:
        query = select(Booking).where(Booking.group_id == booking.group_id)
        if lock:
            query = query.with_for_update(of=Booking).execution_options(populate_existing=True)
        group = list(db.session.scalars(query))
    org = db.session.get(Organization, booking.organization_id)
    return booking, group, org


def _check_still_active(booking: Booking) -> None:
    if booking.status == "cancelled":
        raise Conflict("This booking was cancelled, so it can't be changed. Please make a new booking.",
                       code="booking_cancelled")
    if booking.status not in ACTIVE_STATUSES:
        raise Conflict("This booking has already taken place.", code="booking_finished")


def _check_cutoff(booking: Booking, org: Organization, actor: Actor, now: datetime, verb: str) -> None:
    if actor.type not in CUTOFF_BOUND_ACTORS:
        return
    cutoff = timedelta(minutes=org.cancellation_cutoff_minutes)
    if now > booking.start_at - cutoff:
        hours = org.cancellation_cutoff_minutes / 60
        policy = f"{hours:g} hours" if org.cancellation_cutoff_minutes % 60 == 0 else f"{org.cancellation_cutoff_minutes} minutes"
        raise Conflict(
            f"Bookings can't be {verb} online within {policy} of the start. Please contact {org.name}.",
            code="outside_cutoff", cutoff_minutes=org.cancellation_cutoff_minutes,
            policy=f"No online changes within {policy} of the start.",
        )


def reschedule_booking(booking_id, *, start_time: datetime, actor: Actor, staff_id: str | None = None,
                       now: datetime | None = None) -> Booking:
    """Move a booking to another offered start (optionally to another member of staff on its link).

    Promises: the new time is checked against live availability (the booking's own old time counts
    as free), the cutoff policy applies to customers and agents, a cancelled or finished booking
    cannot be moved, the sequence number rises (calendar invitations update), and the change is
    audited — all in one transaction.
    """
    now = now or datetime.now(timezone.utc)
    start = _aware(start_time, "start_time")
    booking, group, org = _load_for_change(booking_id)
    if booking.status == "cancelled":
        raise Conflict("This booking was cancelled, so it can't be moved. Please make a new booking.",
                       code="booking_cancelled")
    if booking.status not in ACTIVE_STATUSES:
        raise Conflict("This booking has already taken place.", code="booking_finished")
    _check_cutoff(booking, org, actor, now, "moved")
    atype = booking.appointment_type
    if atype is None:
        raise Conflict("This booking's appointment type no longer exists; it can't be moved online.",
                       code="type_removed")
    link = db.session.get(BookingLink, booking.booking_link_id) if booking.booking_link_id else None
    pool = link_staff(link) if link else [booking.staff]
    if len(group) > 1:
        members = [b.staff for b in group]
        mode = "collective"
    elif staff_id:
        members = [m for m in pool if str(m.id) == str(staff_id)]
        if not members:
            raise InvalidRequest("That member of staff does not take this booking.",
                                 fields={"staff_id": "not on this booking's link"})
        mode = "individual"
    else:
        members = [booking.staff]
        mode = "individual"
    end = start + timedelta(minutes=atype.duration_minutes)
    before = snapshot(booking)
    if actor.type != "calendar":  # stale Google busy times refreshed before the transaction, as in create
        calendar_sync.busy_for_staff([m.id for m in members], start - timedelta(days=1), end + timedelta(days=1),
                                     now=now, refresh=True)

    calendar_writes: list = []
    begin_serialized_transaction()
    try:
        booking, group, org = _load_for_change(booking_id, lock=True)
        _check_still_active(booking)  # it may have been cancelled while we looked
        same_staff = mode != "individual" or booking.staff_id == members[0].id
        if booking.start_at == start and same_staff:
            db.session.commit()  # already there (a repeated request, a Google change seen twice)
            return booking
        members = [db.session.get(User, m.id) for m in members]
        # A trainer moving their own event in Google has seen their calendar: only its busy time is
        # not checked again (it would include the very event being moved).
        schedules = _schedules_excluding(members, group, start, end, now, calendar_busy=actor.type != "calendar")
        offered = engine.find_slot_at(schedules, appointment_spec(atype), start, now=now, mode=mode)
        if not offered:
            alternatives = find_alternatives(atype, members, start, now=now, mode=mode,
                                             exclude_booking_id=booking.id if len(group) == 1 else None)
            raise SlotTaken("Sorry, that time is not free. Here are the nearest free times.",
                            alternatives=alternatives)
        for row in group:
            row.start_at, row.end_at = start, end
            row.sequence += 1
            if mode == "individual":
                row.staff_id = members[0].id
        db.session.flush()
        record_audit(booking, actor, "rescheduled", before, snapshot(booking))
        notifications.schedule_booking_rescheduled(booking, group, previous=before, now=now)
        calendar_writes = calendar_sync.mark_bookings_changed(group, now=now)
        db.session.commit()
    except SlotTaken:
        db.session.rollback()
        raise
    except IntegrityError as exc:
        db.session.rollback()
        if "ex_bookings_no_overlap" in str(exc.orig):
            raise SlotTaken("Sorry, that time has just been taken.", alternatives=[]) from None
        raise
    except BaseException:
        db.session.rollback()
        raise
    calendar_sync.after_commit(calendar_writes)
    return booking


def _schedules_excluding(members, group, start, end, now, *, calendar_busy: bool = True):
    """Schedules in which the booking's own rows do not block the time they are moving from."""
    own = {row.id for row in group}
    if len(own) == 1:
        return load_schedules(members, start - timedelta(days=1), end + timedelta(days=1), now=now,
                              exclude_booking_id=next(iter(own)), calendar_busy=calendar_busy)
    schedules = load_schedules(members, start - timedelta(days=1), end + timedelta(days=1), now=now,
                               calendar_busy=calendar_busy)
    # A collective group: drop each member's own group row from that member's bookings.
    own_spans = {(str(row.staff_id), row.start_at, row.end_at) for row in group}
    return [
        engine.StaffSchedule(
            staff_id=s.staff_id, name=s.name, timezone=s.timezone, rules=s.rules, overrides=s.overrides,
            holidays=s.holidays, busy=s.busy, booking_count=s.booking_count, last_booked_at=s.last_booked_at,
            bookings=tuple(b for b in s.bookings if (s.staff_id, b.start, b.end) not in own_spans),
        )
        for s in schedules
    ]


def cancel_booking(booking_id, *, actor: Actor, reason: str | None = None, now: datetime | None = None) -> Booking:
    """Cancel a booking (and the rest of its collective group), freeing the time at once.

    Customers and agents must respect the cutoff; cancelling twice is refused with a clear error.
    """
    now = now or datetime.now(timezone.utc)
    reason = " ".join((reason or "").split())[:500] or None
    begin_serialized_transaction()
    try:
        booking, group, org = _load_for_change(booking_id, lock=True)
        if booking.status == "cancelled":
            raise Conflict("This booking is already cancelled.", code="already_cancelled")
        if booking.status not in ACTIVE_STATUSES:
            raise Conflict("This booking has already taken place.", code="booking_finished")
        _check_cutoff(booking, org, actor, now, "cancelled")
        before = snapshot(booking)
        for row in group:
            row.status = "cancelled"
            row.cancelled_at = now
            row.cancellation_reason = reason
            row.sequence += 1
        db.session.flush()
        record_audit(booking, actor, "cancelled", before, snapshot(booking))
        notifications.schedule_booking_cancelled(booking, group, now=now)
        calendar_writes = calendar_sync.mark_bookings_changed(group, now=now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    calendar_sync.after_commit(calendar_writes)
    return booking


STATUS_ACTIONS = {"confirm": ("pending", "confirmed"), "complete": (None, "completed"), "no_show": (None, "no_show")}


def set_booking_status(booking_id, *, action: str, actor: Actor, now: datetime | None = None) -> Booking:
    """Staff actions: confirm a pending booking, mark one completed or a no-show (after it started)."""
    now = now or datetime.now(timezone.utc)
    if action not in STATUS_ACTIONS:
        raise InvalidRequest(f"Unknown action {action!r}.", fields={"action": "confirm, complete or no_show"})
    booking, group, _ = _load_for_change(booking_id)
    required, new_status = STATUS_ACTIONS[action]
    if required and booking.status != required:
        raise Conflict(f"Only a {required} booking can be confirmed.", code="invalid_status")
    if not required and booking.status not in ACTIVE_STATUSES:
        raise Conflict("Only an active booking can be marked.", code="invalid_status")
    if action in ("complete", "no_show") and now < booking.start_at:
        raise Conflict("A booking can only be marked once it has started.", code="not_started")
    before = snapshot(booking)
    for row in group:
        row.status = new_status
    db.session.flush()
    record_audit(booking, actor, action, before, snapshot(booking))
    # A confirmed booking's event stops being "tentative".
    calendar_writes = calendar_sync.mark_bookings_changed(group, now=now) if action == "confirm" else []
    db.session.commit()
    calendar_sync.after_commit(calendar_writes)
    return booking
