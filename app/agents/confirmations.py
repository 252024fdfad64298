"""What an assistant's write would do, in words a person can confirm.

The assistant never books, moves or cancels on the model's say-so: each write the model asks for is
checked as `run_tool` would check it (dispatch.check_tool) and described here, from the database —
the booking as it is, the service and trainers by their ids in this organization — not from
anything the model wrote. The person sees this sentence beside Confirm; only their press runs it.
"""
from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.agents.actions import _load_booking
from app.agents.principals import Principal
from app.agents.schemas import BookClassInput, BookSlotInput, CancelBookingInput, RescheduleBookingInput, ToolInput
from app.extensions import db
from app.models import AppointmentType, Booking, User
from app.services import classes


def when(value: dt.datetime, tz: str) -> str:
    """'Monday 7 January 2030 at 09:00', in `tz`."""
    local = value.astimezone(ZoneInfo(tz))
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M}"


def _names(org_id: uuid.UUID, ids: list[uuid.UUID]) -> str:
    if not ids:
        return ""
    found = {u.id: u.name for u in db.session.scalars(
        select(User).where(User.organization_id == org_id, User.id.in_(ids)))}
    names = [found.get(i) or "an unknown trainer" for i in ids]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _booking(booking: Booking, tz: str) -> str:
    service = booking.appointment_type.name if booking.appointment_type else (booking.title or "session")
    trainers = booking.staff.name if booking.staff else "the trainer"
    if booking.group_id is not None:
        group = db.session.scalars(select(Booking).where(Booking.group_id == booking.group_id)).all()
        trainers = _names(booking.organization_id, [row.staff_id for row in group])
    return f"{booking.attendee_name}'s {service} with {trainers} on {when(booking.start_at, tz)}"


def describe_write(name: str, args: ToolInput, principal: Principal, tz: str) -> str:
    """One sentence: what `name` with these (validated) arguments would do. Raises the same errors
    the tool would for a booking that doesn't exist or isn't the principal's."""
    org_id = principal.organization_id
    if isinstance(args, BookSlotInput):
        service = None
        if args.appointment_type_id:
            service = db.session.scalars(select(AppointmentType).where(
                AppointmentType.organization_id == org_id, AppointmentType.id == args.appointment_type_id)).first()
        trainers = _names(org_id, list(args.staff_ids or ([args.staff_id] if args.staff_id else [])))
        what = service.name if service else "a session"
        with_whom = f" with {trainers}" if trainers else ""
        return (f"Book {what}{with_whom} on {when(args.start_time, tz)} for {args.attendee_name} "
                f"({args.attendee_email})")
    if isinstance(args, BookClassInput):
        session = classes.get_session(org_id, args.session_id)
        what = (f"{session.class_type.name} with {_names(org_id, [session.instructor_id])} on "
                f"{when(session.start_at, tz)}")
        who = f"{args.attendee_name} ({args.attendee_email})"
        if not args.join_waitlist:
            return f"Book {who} into {what}"
        if session.spots_left == 0:
            return f"Put {who} on the waitlist for {what} (it is full)"
        return f"Book {who} into {what} (on its waitlist if it is full by then)"
    if isinstance(args, RescheduleBookingInput):
        booking = _load_booking(args, principal)
        to_whom = f" with {_names(org_id, [args.staff_id])}" if args.staff_id and args.staff_id != booking.staff_id else ""
        return f"Move {_booking(booking, tz)} to {when(args.start_time, tz)}{to_whom}"
    if isinstance(args, CancelBookingInput):
        booking = _load_booking(args, principal)
        reason = f" (reason: {args.reason})" if args.reason else ""
        return f"Cancel {_booking(booking, tz)}{reason}"
    raise ValueError(f"{name} is not a write")
