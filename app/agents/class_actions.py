"""The class tools' handlers: find_classes (the timetable) and book_class (a spot, or the waitlist).

They call the same classes service as the public pages and POST /api/classes/book (sessions_between,
book_class): capacity, one spot per person, the waitlist and its order are decided there, under the
session's lock, whoever asks. Scopes and the organization are checked before a handler runs
(dispatch.py); the session is looked up within the principal's organization.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.agents.answers import class_booking_json, class_session_json
from app.agents.principals import Principal
from app.agents.schemas import BookClassInput, FindClassesInput
from app.extensions import db
from app.models import ClassBooking, Organization
from app.services import classes
from app.services.bookings import manage_url
from app.services.scheduling.engine import local_day_window
from app.services.scheduling.search import date_window
from app.services.zones import require_zone
from app.timeformat import iso_utc


def find_classes(args: FindClassesInput, principal: Principal, now: dt.datetime) -> dict:
    """The gym's class sessions still to come over local dates (of one class or instructor, when
    given), earliest first, with places, spots left and waitlists; and the gym's classes by name."""
    org = db.session.get(Organization, principal.organization_id)
    tz = require_zone(args.timezone, default=org.timezone)
    first, last = date_window(args.start_date, args.end_date, args.date, tz, now)
    start, end = local_day_window(first, last, tz)
    rows = [row for row in classes.sessions_between(org.id, max(start, now), end, class_type_id=args.class_type_id,
                                                    instructor_id=args.instructor_id, include_cancelled=False)
            if row.session.start_at > now]
    shown = rows[:args.limit]
    payload = {
        "success": True,
        "organization": {"slug": org.slug, "name": org.name},
        "timezone": tz, "startDate": first.isoformat(), "endDate": last.isoformat(),
        "classTypes": [{"id": str(t.id), "name": t.name, "duration": t.duration_minutes,
                        "description": t.description} for t in classes.class_types(org.id, active_only=True)],
        "classes": [class_session_json(row.session, row.waitlist_length, org, tz, now) for row in shown],
        "totalClasses": len(rows),
        "truncated": len(rows) > len(shown),
    }
    if not rows:
        payload["hint"] = ("No classes in this range: try later dates (startDate/endDate), or leave out "
                           "classTypeId/instructorId.")
    return payload


def book_class(args: BookClassInput, principal: Principal, now: dt.datetime) -> dict:
    """A spot in the session for the customer: confirmed while places are left, else (joinWaitlist)
    on its waitlist with the position; the manage link, shown once. The customer is emailed."""
    result = classes.book_class(
        session_id=args.session_id, attendee_name=args.attendee_name, attendee_email=args.attendee_email,
        attendee_phone=args.attendee_phone, attendee_phone_country=args.attendee_phone_country,
        attendee_timezone=args.attendee_timezone, join_waitlist=args.join_waitlist, actor=principal.actor,
        org_id=principal.organization_id, source="ai", now=now)
    org = db.session.get(Organization, principal.organization_id)
    session = result.session
    waiting = db.session.scalar(select(func.count()).select_from(ClassBooking).where(
        ClassBooking.session_id == session.id, ClassBooking.status == "waitlisted")) or 0
    payload = {"success": True,
               "classBooking": class_booking_json(result.spot, session, result.waitlist_position, org, waiting, now),
               "manageToken": result.manage_token, "manageUrl": manage_url(result.manage_token)}
    if result.waitlist_position is not None:
        payload["message"] = (
            f"The class is full: {result.spot.attendee_name} is number {result.waitlist_position} on its waitlist. "
            f"If a place frees up before {iso_utc(classes.promotion_deadline(session, org))} they get it "
            "automatically and are emailed; they can leave the waitlist with the manage link.")
    return payload
