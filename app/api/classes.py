"""Group classes in the JSON API: an organization's timetable (GET /api/classes) and booking a spot
(POST /api/classes/book).

A spot's manage token is a manage token like an appointment's: /api/booking/manage (booking.py) shows
the spot, cancels it or leaves the waitlist with the helpers at the end of this module. Everything
that decides — capacity, the waitlist and its order, one spot per person, promotion — is the classes
service's (app/services/classes); this module reads requests and shapes answers.
"""
from __future__ import annotations

import datetime as dt
import uuid

from flask import current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from sqlalchemy import func, select

from app.api.blueprint import bp
from app.api.inputs import actor_from_request, json_body
from app.api.responses import iso_local, iso_utc, service_error_response, validation_error_response
from app.extensions import db, limiter
from app.models import ClassBooking, ClassSession, Organization
from app.services import classes
from app.services.bookings import manage_url
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.scheduling.engine import local_day_window
from app.services.scheduling.search import date_window
from app.services.zones import first_zone, require_zone


class ClassesParams(BaseModel):
    """Query parameters of GET /api/classes."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    org: str = Field(min_length=1, max_length=80, description="The organization's slug.")
    start_date: dt.date | None = Field(None, description="First local date (default: today in `timezone`).")
    end_date: dt.date | None = Field(None, description="Last local date, inclusive; at most 62 days from start_date "
                                                        "(default: a week from start_date).")
    class_type_id: uuid.UUID | None = Field(None, description="Only sessions of this class.")
    instructor_id: uuid.UUID | None = Field(None, description="Only sessions this instructor teaches.")
    timezone: str | None = Field(None, max_length=64, description="IANA zone the dates are read in and the local "
                                                                   "times given in (default: the organization's).")


class BookClassBody(BaseModel):
    """POST /api/classes/book."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    session_id: uuid.UUID = Field(description="A session's `id` from GET /api/classes.")
    attendee_name: str = Field(min_length=1, max_length=200)
    attendee_email: str = Field(min_length=3, max_length=254)
    attendee_phone: str | None = Field(
        None, max_length=40,
        description="For SMS, read as on POST /api/booking/create: with its country code it is that country's; "
                    "without, a number of attendee_phone_country, refused (400) unless valid there.")
    attendee_phone_country: str | None = Field(
        None, min_length=2, max_length=2, examples=["GB", "US"],
        description="ISO 3166 alpha-2 country of an attendee_phone written without its country code (default: "
                    "the organization's phone region).")
    attendee_timezone: str | None = Field(None, max_length=64, description="The attendee's IANA zone for their "
                                                                           "messages and local times.")
    join_waitlist: StrictBool = Field(
        False, description="When the session is full, join its waitlist (201, status `waitlisted`, with the "
                           "position) instead of being refused (409 `class_full`). true or false, not a string.")


# --- the timetable -----------------------------------------------------------------------------------

@bp.get("/classes")
@limiter.limit(lambda: current_app.config["RATELIMIT_AVAILABILITY"])
def classes_list():
    """An organization's class sessions over local dates, with places, spots left and waitlists.

    Sessions start in [start_date, end_date] local to `timezone`, earliest first; cancelled ones are
    listed with `status: cancelled` (people booked may look for them). `bookable` says whether
    POST /api/classes/book can take a spot now (a place left, or the waitlist still open)."""
    now = dt.datetime.now(dt.timezone.utc)
    try:
        params = ClassesParams.model_validate({k: v for k, v in request.args.items() if v != ""})
        org = db.session.scalars(select(Organization).where(Organization.slug == params.org)).first()
        if org is None:
            raise NotFound(f"No organization called {params.org!r}.")
        tz = require_zone(params.timezone, default=org.timezone)
        first, last = date_window(params.start_date, params.end_date, None, tz, now)
        start, end = local_day_window(first, last, tz)
        rows = classes.sessions_between(org.id, start, end, class_type_id=params.class_type_id,
                                        instructor_id=params.instructor_id)
    except ValidationError as exc:
        return validation_error_response(exc, "The classes request is not valid.")
    except ServiceError as exc:
        return service_error_response(exc)
    return jsonify({
        "success": True,
        "sessions": [session_json(row.session, row.waitlist_length, org, tz, now) for row in rows],
        "timezone": tz,
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
        "organization": {"slug": org.slug, "name": org.name},
    })


def session_json(session: ClassSession, waitlist_length: int, org: Organization, tz: str, now: dt.datetime) -> dict:
    """A class session as the API shows it: UTC times with local ones in `tz`, its places and waitlist."""
    ctype = session.class_type
    scheduled = session.status == "scheduled" and session.start_at > now
    waitlist_open = scheduled and classes.waitlist_open(session, org, now)
    return {
        "id": str(session.id),
        "class_type_id": str(session.class_type_id),
        "name": ctype.name,
        "description": ctype.description,
        "color": ctype.color,
        "start": iso_utc(session.start_at),
        "end": iso_utc(session.end_at),
        "local_start": iso_local(session.start_at, tz),
        "local_end": iso_local(session.end_at, tz),
        "duration": int((session.end_at - session.start_at).total_seconds() // 60),
        "instructor_id": str(session.instructor_id),
        "instructor_name": session.instructor.name if session.instructor else None,
        "location": session.location or ctype.location,
        "capacity": session.capacity,
        "booked": session.booked_count,
        "spots_left": session.spots_left,
        "waitlist_length": waitlist_length,
        "status": session.status,
        "full": session.spots_left == 0,
        "waitlist_open": waitlist_open,
        "bookable": scheduled and (session.spots_left > 0 or waitlist_open),
        "price_pennies": ctype.price_pennies,
        "currency": org.currency,
    }


# --- booking a spot ----------------------------------------------------------------------------------

@bp.post("/classes/book")
@limiter.limit(lambda: current_app.config["RATELIMIT_BOOKING_CREATE"])
def book_class():
    """Book a spot in a class session (or join its waitlist). 201 with the spot and its manage URL
    (the token is shown only here)."""
    try:
        body = BookClassBody.model_validate(json_body())
        result = classes.book_class(
            session_id=body.session_id, attendee_name=body.attendee_name, attendee_email=body.attendee_email,
            attendee_phone=body.attendee_phone, attendee_phone_country=body.attendee_phone_country,
            attendee_timezone=body.attendee_timezone, join_waitlist=body.join_waitlist,
            actor=actor_from_request(), source="api")
    except ValidationError as exc:
        return validation_error_response(exc, "The class booking request is not valid.")
    except ServiceError as exc:
        return service_error_response(exc)
    return jsonify({"success": True,
                    "booking": spot_json(result.spot, result.session, position=result.waitlist_position),
                    "manage_token": result.manage_token,
                    "manage_url": manage_url(result.manage_token)}), 201


def spot_json(spot: ClassBooking, session: ClassSession | None = None, *, position: int | None = None,
              now: dt.datetime | None = None) -> dict:
    """A spot as the API shows it (`kind: class`): its status, place on the waitlist (None unless
    waiting), the session, and local times in the attendee's zone. `position`: already known."""
    now = now or dt.datetime.now(dt.timezone.utc)
    session = session or db.session.get(ClassSession, spot.session_id)
    org = db.session.get(Organization, spot.organization_id)
    tz = first_zone(spot.attendee_timezone, org.timezone)
    if position is None:
        position = classes.waitlist_position(spot)
    waiting = db.session.scalar(select(func.count()).select_from(ClassBooking).where(
        ClassBooking.session_id == session.id, ClassBooking.status == "waitlisted")) or 0
    return {
        "id": str(spot.id),
        "kind": "class",
        "status": spot.status,
        "waitlist_position": position,
        "start": iso_utc(session.start_at),
        "end": iso_utc(session.end_at),
        "local_start": iso_local(session.start_at, tz),
        "local_end": iso_local(session.end_at, tz),
        "timezone": tz,
        "session": session_json(session, waiting, org, tz, now),
        "attendee": {"name": spot.attendee_name, "email": spot.attendee_email, "phone": spot.attendee_phone},
        "cancel_kind": spot.cancel_kind,
        "cancellation_reason": spot.cancellation_reason,
        "created_at": iso_utc(spot.created_at),
    }


# --- a spot's manage token (for /api/booking/manage) ------------------------------------------------------

def spot_for_token(token) -> ClassBooking | None:
    """The class spot this manage token is for, or None (not a string, or no spot's token)."""
    if not isinstance(token, str):
        return None
    try:
        return classes.get_spot_by_token(token)
    except NotFound:
        return None


def managed_spot_json(spot: ClassBooking) -> dict:
    """GET /api/booking/manage for a class spot: the spot, and whether and until when it can be given
    up here (until the class starts; inside the late-cancel window it is recorded as late)."""
    now = dt.datetime.now(dt.timezone.utc)
    session = db.session.get(ClassSession, spot.session_id)
    org = db.session.get(Organization, spot.organization_id)
    late_from = session.start_at - dt.timedelta(minutes=org.class_late_cancel_minutes)
    return {"success": True, "kind": "class", "booking": spot_json(spot, session, now=now),
            "can_cancel": spot.status in ("confirmed", "waitlisted") and now < session.start_at,
            "can_cancel_until": iso_utc(session.start_at),
            "late_cancel_from": iso_utc(late_from),
            "can_reschedule": False}


def cancel_spot_json(spot: ClassBooking, reason: str | None) -> dict:
    """DELETE /api/booking/manage for a class spot: give it up (or leave the waitlist); the first
    person waiting is promoted in the same transaction."""
    cancelled = classes.cancel_spot(spot.id, reason=reason, actor=actor_from_request(actor_id=str(spot.id)))
    return {"success": True, "kind": "class", "booking": spot_json(cancelled)}


def refuse_move() -> Conflict:
    """PUT /api/booking/manage for a class spot: classes are not moved by customers."""
    return Conflict("A class spot can't be moved to another time: cancel it (DELETE) and book another session.",
                    code="class_not_reschedulable")
