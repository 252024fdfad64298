"""Making a booking — one code path for the booking page, the JSON API, the dashboard and the agents.

Promises: the slot is re-checked against live availability inside the writing transaction, and the
database refuses an overlap that slips past the check (PostgreSQL: an exclusion constraint; SQLite:
the transaction is serialised with BEGIN IMMEDIATE), so two bookings never share a trainer's time.
A lost race raises SlotTaken with the nearest free alternatives; the same idempotency key returns
the first booking instead of making a second; the booking, its client (app/services/clients.py:
the organization's client with the same address, or a new one), its audit row, its messages and its
calendar write-back mark are written together or not at all.

Staff (the dashboard's New booking) use this same path, with two switches of their own:

* `notify=False` — the client is sent nothing about the new booking: no confirmation and no
  reminders (a booking taken at the desk or on the phone, or for a client who asked not to be
  messaged). The trainers' notices still go, and later changes (a move, a cancellation) notify as
  usual. The audit row records `client_notified: false`.
* `outside_hours=True` (staff actors only; the dashboard allows it to owners and admins) — the
  named trainer's working hours are waived: weekly hours, date overrides, holidays, the slot grid,
  the minimum notice and the booking window. Never waived: the time must not have passed, must be
  clear of the trainer's other bookings with both bookings' buffers and of busy time on their
  connected calendars, and within the service's daily cap; the database's no-overlap guarantee is
  the same. The audit row records `outside_hours: true`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.database import RACE_ATTEMPTS, begin_serialized_transaction, lost_race
from app.extensions import db
from app.models import Booking
from app.services import calendar, clients, notifications
from app.services.bookings.alternatives import SlotTaken, slot_taken
from app.services.bookings.attendee import (
    check_end_time,
    normalise_email,
    normalise_name,
    normalise_phone,
    require_aware,
)
from app.services.bookings.audit import Actor, record_audit, snapshot
from app.services.bookings.manage_links import new_manage_token
from app.services.bookings.policy import check_notice_and_window
from app.services.errors import Conflict, InvalidRequest
from app.services.scheduling import app_cache, appointment_spec, engine, load_schedules
from app.services.scheduling.links import (
    LinkInfo,
    TypeInfo,
    choose_appointment_type,
    choose_staff,
    link_info,
)
from app.services.zones import require_zone

IDEMPOTENCY_KEY_MAX = 255


@dataclass
class BookingResult:
    booking: Booking
    manage_token: str | None  # shown once; None when an idempotent retry returned the first booking
    created: bool
    # Names for the response, known without another query (None on an idempotent replay).
    staff_name: str | None = None
    appointment_type_name: str | None = None


@dataclass(frozen=True)
class NewBooking:
    """A booking request whose details have been checked: everything the transaction writes."""

    link: LinkInfo
    atype: TypeInfo
    start: datetime
    end: datetime
    name: str
    email: str
    phone: str | None
    timezone: str
    description: str | None
    location: str | None
    staff_id: str | None
    idempotency_key: str | None
    actor: Actor
    source: str
    notify: bool = True
    outside_hours: bool = False


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
    attendee_phone_country: str | None = None,
    attendee_timezone: str | None = None,
    description: str | None = None,
    location_details: str | None = None,
    idempotency_key: str | None = None,
    source: str = "public",
    notify: bool = True,
    outside_hours: bool = False,
    now: datetime | None = None,
) -> BookingResult:
    """Book `start_time` on a public link, or raise (see the module docstring for the promises).

    `attendee_phone` without a country code is read as a number of `attendee_phone_country` (ISO
    3166 alpha-2; default: the gym's phone region) and refused unless valid there (normalise_phone).
    `notify` and `outside_hours`: see the module docstring (InvalidRequest when `outside_hours` is
    asked by anyone but staff, or without one named trainer)."""
    now = now or datetime.now(timezone.utc)
    link = link_info(link_slug, now=now, cache=app_cache())
    request = _checked(link, start_time=start_time, end_time=end_time, attendee_name=attendee_name,
                       attendee_email=attendee_email, attendee_phone=attendee_phone,
                       attendee_phone_country=attendee_phone_country, attendee_timezone=attendee_timezone, appointment_type_id=appointment_type_id,
                       staff_id=staff_id, description=description, location_details=location_details,
                       idempotency_key=idempotency_key, actor=actor, source=source)
    if outside_hours:
        if actor.type != "staff":
            raise InvalidRequest("Only staff can book outside working hours.",
                                 fields={"outside_hours": "staff only"})
        if not request.staff_id or link.type == "collective":
            raise InvalidRequest("Choose the trainer to book outside their working hours.",
                                 fields={"staff_id": "required to book outside working hours"})
    request = replace(request, notify=bool(notify), outside_hours=bool(outside_hours))
    _refresh_calendar_busy(request, now)
    for attempt in range(RACE_ATTEMPTS):
        try:
            return _insert_once(request, link, now)
        except OperationalError as exc:
            # A deadlock with a concurrent booking of the same time: the database rolled this one back
            # whole; again from the start, it sees the winner (and answers slot_taken), never a 500.
            if not lost_race(exc) or attempt == RACE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _insert_once(request: NewBooking, link: LinkInfo, now: datetime) -> BookingResult:
    begin_serialized_transaction()  # on SQLite: the write lock first, then every check below
    try:
        return _insert(request, now)
    except (SlotTaken, IntegrityError) as exc:
        db.session.rollback()
        # Whatever refused the booking — our check finding the time taken, the key's constraint or the
        # overlap constraint — a booking made under the same key by a concurrent request (this one's
        # retry that won) is the answer to this one.
        replay = _replay(request) if request.idempotency_key else None
        if replay is not None:
            return replay
        if isinstance(exc, IntegrityError) and "ex_bookings_no_overlap" in str(exc.orig):
            # The database refused an overlap that a concurrent booking created after our check.
            candidates, mode = choose_staff(link.type, link.staff, request.staff_id, booking=True)
            raise slot_taken("Sorry, that time has just been taken. Here are the nearest free times.",
                             request.atype, candidates, request.start, now=now, mode=mode) from None
        raise
    except BaseException:
        db.session.rollback()
        raise


def _checked(link: LinkInfo, *, start_time, end_time, attendee_name, attendee_email, attendee_phone,
             attendee_phone_country, attendee_timezone, appointment_type_id, staff_id, description, location_details, idempotency_key,
             actor, source) -> NewBooking:
    """The request's details checked and normalised (no database work): InvalidRequest names the field."""
    name = normalise_name(attendee_name)
    email = normalise_email(attendee_email)
    phone = normalise_phone(attendee_phone, attendee_phone_country or link.phone_region)
    tz = require_zone(attendee_timezone, field="attendee_timezone", default=link.org_timezone)
    start = require_aware(start_time, "start_time")
    atype = choose_appointment_type(list(link.types), appointment_type_id, None)
    end = check_end_time(end_time, start, atype.duration_minutes, atype.name)
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:  # cut, two long keys would name one booking
        raise InvalidRequest(f"An idempotency key is at most {IDEMPOTENCY_KEY_MAX} characters.",
                             fields={"idempotency_key": f"at most {IDEMPOTENCY_KEY_MAX} characters"})
    return NewBooking(link=link, atype=atype, start=start, end=end, name=name, email=email, phone=phone,
                      timezone=tz, description=description or None, location=location_details or atype.location or None,
                      staff_id=str(staff_id) if staff_id else None, idempotency_key=key, actor=actor, source=source)


def _refresh_calendar_busy(request: NewBooking, now: datetime) -> None:
    """Bring stale Google busy times of the staff who could take the booking up to date before the
    transaction (the check inside it reads only the cache, and must not wait on Google while
    holding locks). One query when nothing is stale."""
    staff = [m.id for m in request.link.staff if (not request.staff_id or str(m.id) == request.staff_id)
             and m.id in request.link.calendar_staff]
    if staff:
        calendar.busy_for_staff(staff, request.start - timedelta(days=1), request.start + timedelta(days=1),
                                now=now, refresh=True)


def _insert(request: NewBooking, now: datetime) -> BookingResult:
    """Inside the serialised transaction: check the slot against live availability and write it."""
    link, atype, start, end = request.link, request.atype, request.start, request.end
    if request.idempotency_key:
        replay = _replay(request)
        if replay is not None:
            db.session.rollback()
            return replay
    spec = appointment_spec(atype)
    if request.outside_hours:
        spec = replace(spec, min_notice_minutes=0, booking_window_days=None, slot_interval_minutes=1)
    check_notice_and_window(spec, start, now, atype.name)
    candidates, mode = choose_staff(link.type, link.staff, request.staff_id, booking=True)
    with_calendars = any(member.id in link.calendar_staff for member in candidates)
    schedules = load_schedules(candidates, start - timedelta(days=1), end + timedelta(days=1), now=now,
                               with_fairness=mode == "round_robin", cache=app_cache(), version=link.version,
                               external_busy=None if with_calendars else {})
    if request.outside_hours:
        schedules = [_around_the_clock(schedule) for schedule in schedules]
    offered = engine.find_slot_at(schedules, spec, start, now=now, mode=mode)
    if not offered:
        raise slot_taken("Sorry, that time has just been taken. Here are the nearest free times.", atype, candidates,
                         start, now=now, mode=mode)
    slot = offered[0]
    participants = list(slot.staff_ids) if mode == "collective" else [slot.staff_id]
    group_id = uuid.uuid4() if len(participants) > 1 else None
    # The client first, before any booking row is written: a concurrent first booking by the same new
    # address waits here for this one's client row, holding no lock of its own yet, and then finds it.
    client_id = clients.attach_client(link.organization_id, email=request.email, name=request.name,
                                      phone=request.phone, now=now)
    token, token_hash = new_manage_token()
    rows = []
    for index, member_id in enumerate(participants):
        booking = Booking(
            id=uuid.uuid4(), organization_id=link.organization_id, booking_link_id=link.id,
            appointment_type_id=atype.id, staff_id=uuid.UUID(member_id), client_id=client_id, group_id=group_id,
            start_at=start, end_at=end, buffer_before_minutes=atype.buffer_before_minutes,
            buffer_after_minutes=atype.buffer_after_minutes, status="confirmed",
            title=_title(atype.name, request.name), attendee_name=request.name, attendee_email=request.email,
            attendee_phone=request.phone, attendee_timezone=request.timezone, description=request.description,
            location_details=request.location, manage_token_hash=token_hash if index == 0 else None,
            idempotency_key=request.idempotency_key if index == 0 else None, source=request.source,
        )
        db.session.add(booking)
        after = snapshot(booking)
        if request.outside_hours:
            after["outside_hours"] = True
        if not request.notify:
            after["client_notified"] = False
        record_audit(booking, request.actor, "created", None, after)
        rows.append(booking)
    lead = rows[0]
    staff = {str(member.id): member for member in candidates}
    notifications.schedule_booking_created(lead, manage_token=token, staff=[staff[i] for i in participants],
                                           reminder_offsets=link.reminder_offsets, quiet_hours=link.quiet_hours,
                                           org_timezone=link.org_timezone, notify_attendee=request.notify, now=now)
    calendar_writes = calendar.mark_bookings_changed(rows, now=now, destinations=link.destination_staff)
    db.session.commit()
    calendar.after_commit(calendar_writes)
    return BookingResult(booking=lead, manage_token=token, created=True, staff_name=staff[participants[0]].name,
                         appointment_type_name=atype.name)


ALL_WEEK = tuple(engine.WeeklyRule(day, time(0), time(0)) for day in range(7))


def _around_the_clock(schedule: engine.StaffSchedule) -> engine.StaffSchedule:
    """A trainer's schedule with working hours waived (a staff override): working all day every
    day, with no date overrides or holidays — their bookings and busy time left as they are."""
    return replace(schedule, rules=ALL_WEEK, overrides=(), holidays=frozenset())


def _title(service: str, name: str) -> str:
    """'PT with Jane Smith', cut to the column (a 200-character name is valid; its title was a 500)."""
    limit = Booking.__table__.c.title.type.length
    title = f"{service} with {name}"
    return title if len(title) <= limit else title[:limit - 1] + "…"


def _replay(request: NewBooking) -> BookingResult | None:
    """The booking an earlier request with the same idempotency key made, if any (a different
    booking under the same key is a Conflict)."""
    existing = db.session.scalars(
        select(Booking).where(Booking.organization_id == request.link.organization_id,
                              Booking.idempotency_key == request.idempotency_key)
    ).first()
    if existing is None:
        return None
    if not _same_request(existing, request):
        raise Conflict("This Idempotency-Key was already used for a different booking.", code="idempotency_conflict")
    return BookingResult(booking=existing, manage_token=None, created=False)


def _same_request(existing: Booking, request: NewBooking) -> bool:
    """Whether `request` is a retry of the one that made `existing`: every detail it sent the same
    (page, service, time, trainer asked for, name, email, phone, notes, place). A retry learns only
    what it sent; a key with another customer's email and time but other details is refused, and
    reveals nothing of that booking."""
    return (existing.booking_link_id == request.link.id and str(existing.appointment_type_id) == str(request.atype.id)
            and existing.start_at == request.start and existing.end_at == request.end
            and existing.attendee_email == request.email and existing.attendee_name == request.name
            and (existing.attendee_phone or None) == request.phone
            and (existing.description or None) == request.description
            and (existing.location_details or None) == request.location
            and (request.staff_id is None or request.link.type != "individual"
                 or str(existing.staff_id) == request.staff_id))
