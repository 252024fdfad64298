"""Bookings: the day/week calendar, the filterable list, a booking with its audit trail, and the staff
actions on it — each through app/services/bookings.py, the same code path as the public pages and API."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import abort, flash, request, url_for
from flask_login import current_user

from app.dashboard import calendar as cal
from app.dashboard.access import (
    check_own,
    fetch,
    is_admin,
    org_id,
    org_tz,
    page_arg,
    staff_actor,
    trainer_param,
)
from app.dashboard.blueprint import bp
from app.dashboard.forms import (
    BookingFilterForm,
    CancelForm,
    RescheduleForm,
    StatusForm,
    choices,
)
from app.extensions import htmx
from app.htmx import BOOKING_CHANGED, apply_errors, render, see_other
from app.services import notifications, reports
from app.services.bookings import (
    SlotTaken,
    cancel_booking,
    reschedule_booking,
    set_booking_status,
)
from app.services.dates import supported
from app.services.errors import Conflict, InvalidRequest
from app.services.scheduling import engine
from app.services.team import team

STATUS_DONE = {"confirm": "confirmed", "complete": "marked completed", "no_show": "marked as a no-show"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _today(tz: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def _date_arg(name: str) -> date | None:
    """A date from the query string; None (today) when absent, malformed or outside the supported range."""
    try:
        day = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return day if supported(day) else None


# --- calendar ------------------------------------------------------------------------------------

@bp.get("/calendar")
def calendar():
    """A day or week per trainer, or for the whole team, in the organization's time zone."""
    tz, now = org_tz(), _now()
    today = _today(tz, now)
    view = "day" if request.args.get("view") == "day" else "week"
    day = _date_arg("date") or today
    trainer_arg = request.args.get("trainer", "")
    if is_admin() and trainer_arg in ("", "all"):
        selected = None
    else:
        selected = trainer_param(trainer_arg or None)
    days = [day] if view == "day" else [cal.week_start(day) + timedelta(days=i) for i in range(7)]
    window_start, window_end = engine.local_day_window(days[0], days[-1], tz)

    members = team(org_id()) if is_admin() else [current_user._get_current_object()]
    if selected is None:
        people = [m for m in members if m.active]
        bookings = reports.calendar_bookings(org_id(), window_start, window_end)
    else:
        people = [selected]
        bookings = reports.calendar_bookings(org_id(), window_start, window_end, staff_ids=[selected.id])
    working = reports.working_blocks(people, window_start, window_end, now=now)
    if selected is None:
        # Owners and admins who neither work shifts nor have bookings this week stay off the team view;
        # so do deactivated trainers, unless they still have bookings to be moved.
        with_bookings = {b.staff_id for b in bookings}
        people = [m for m in members if m.id in with_bookings
                  or (m.active and (m.role == "staff" or working.get(m.id)))]
    step = timedelta(days=1 if view == "day" else 7)
    context = dict(
        view=view, day=day, days=days, today=today, tz=tz, selected=selected, members=members,
        trainer_value=str(selected.id) if selected else "all", count=reports.count_bookings(bookings),
        prev_day=day - step, next_day=day + step,
        staff_names={m.id: m.name for m in members},
    )
    if view == "week" and selected is None:
        context["matrix"] = cal.team_matrix(people, days, bookings, working, tz, today)
    elif view == "week":
        context["grid"] = cal.time_grid(cal.day_columns(days, today), bookings, working, tz)
    else:
        context["grid"] = cal.time_grid(cal.staff_columns(day, people, today), bookings, working, tz)
    return render("dashboard/calendar.html", ["calendar_view"], **context)


# --- the list ------------------------------------------------------------------------------------

@bp.get("/bookings")
def bookings():
    """Bookings filtered by status, trainer, dates and attendee (name or email)."""
    tz, now = org_tz(), _now()
    form = BookingFilterForm(request.args)
    members = team(org_id()) if is_admin() else []
    form.trainer.choices = choices([("", "All trainers")] + [(str(m.id), m.name) for m in members])
    form.validate()
    # Staff only ever see their own; asking for a colleague is a 403, another gym's id a 404.
    trainer = request.args.get("trainer") or None
    staff_id = trainer_param(trainer).id if trainer else (None if is_admin() else current_user.id)
    filters = reports.BookingFilter(status=form.status.data or None, staff_id=staff_id, date_from=form.date_from.data,
                                    date_to=form.date_to.data, q=(form.q.data or "").strip() or None,
                                    when=form.when.data or "upcoming")
    try:
        result = reports.list_bookings(org_id(), tz, filters, page=page_arg(), now=now)
    except InvalidRequest as exc:
        apply_errors(form, exc)
        result = reports.BookingPage(bookings=[], total=0, page=1, per_page=reports.PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("dashboard/bookings.html", ["booking_list"], form=form, result=result, tz=tz, args=args,
                  filtered=bool(args), status=422 if form.errors else 200)


# --- one booking ---------------------------------------------------------------------------------

def load_booking(booking_id, *, edit: bool = False):
    """The booking (404 for another organization's), if this user may see it (staff: their own)."""
    booking = fetch(reports.get_booking, booking_id)
    check_own(booking.staff_id)
    if edit and not is_admin():
        abort(403)
    return booking


def detail(booking, *, status: int = 200, notice: str | None = None, notice_kind: str = "error",
           cancel_form: CancelForm | None = None, trigger: str | None = None):
    tz, now = org_tz(), _now()
    active = booking.status in ("pending", "confirmed")
    started = now >= booking.start_at
    # Over (ended, or marked): only completed / no-show can still be set, never a move or a cancel.
    finished = booking.is_finished(now)
    return render(
        "dashboard/booking.html", ["booking_detail"], status=status, trigger=trigger, booking=booking, tz=tz,
        audit=reports.audit_trail(booking, tz), can_act=is_admin(), active=active, started=started,
        finished=finished,
        failed_messages=notifications.failed_for_booking(booking.organization_id, booking.id),
        cancel_form=cancel_form or CancelForm(formdata=None), notice=notice, notice_kind=notice_kind,
    )


@bp.get("/bookings/<booking_id>")
def booking(booking_id):
    return detail(load_booking(booking_id))


def _changed(booking, message: str):
    """After an action: the refreshed detail for htmx (and an event for other parts of the page), else
    post/redirect/get back to the booking."""
    if htmx:
        return detail(booking, notice=message, notice_kind="ok", trigger=BOOKING_CHANGED)
    flash(message, "success")
    return see_other(url_for("dashboard.booking", booking_id=booking.id))


def _refused(booking, exc, status: int):
    if htmx:
        return detail(booking, status=status, notice=exc.message)
    flash(exc.message, "error")
    return see_other(url_for("dashboard.booking", booking_id=booking.id))


@bp.post("/bookings/<booking_id>/status")
def booking_status(booking_id):
    """Confirm a pending booking, or mark one completed or a no-show."""
    booking = load_booking(booking_id, edit=True)
    form = StatusForm()
    if not form.validate() or form.action.data not in STATUS_DONE:
        abort(400)
    try:
        set_booking_status(booking.id, action=form.action.data, actor=staff_actor())
    except (Conflict, InvalidRequest) as exc:
        return _refused(booking, exc, 409)
    return _changed(booking, f"Booking {STATUS_DONE[form.action.data]}.")


@bp.post("/bookings/<booking_id>/cancel")
def booking_cancel(booking_id):
    booking = load_booking(booking_id, edit=True)
    form = CancelForm()
    if not form.validate():
        return detail(booking, status=422, cancel_form=form)
    try:
        cancel_booking(booking.id, actor=staff_actor(), reason=form.reason.data or None)
    except (Conflict, InvalidRequest) as exc:
        return _refused(booking, exc, 409)
    return _changed(booking, "Booking cancelled; the time is free again.")


@bp.route("/bookings/<booking_id>/reschedule", methods=["GET", "POST"])
def booking_reschedule(booking_id):
    """Choose a day (and, on a team link, a trainer), then one of the free times that day."""
    booking = load_booking(booking_id, edit=True)
    tz, now = org_tz(), _now()
    today = _today(tz, now)
    form = RescheduleForm()
    notice = None
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                start = datetime.fromisoformat(form.start.data)
                if start.tzinfo is None:
                    raise ValueError
            except ValueError:
                abort(400)
            staff_id = form.staff_id.data or None
            try:
                moved = reschedule_booking(booking.id, start_time=start, actor=staff_actor(),
                                           staff_id=staff_id if staff_id and staff_id != str(booking.staff_id) else None)
            except SlotTaken as exc:
                notice, status = exc.message, 409
            except (Conflict, InvalidRequest) as exc:
                notice, status = exc.message, 409 if isinstance(exc, Conflict) else 422
            else:
                when = moved.start_at.astimezone(ZoneInfo(tz)).strftime("%a %d %b, %H:%M")
                flash(f"Booking moved to {when} with {moved.staff.name}.", "success")
                return see_other(url_for("dashboard.booking", booking_id=booking.id), trigger=BOOKING_CHANGED)
        else:
            notice, status = "Choose a new time.", 422
    day = _date_arg("date") or max(booking.start_at.astimezone(ZoneInfo(tz)).date(), today)
    if booking.is_finished(now):  # no times to offer: the service refuses to move it (booking_finished)
        options, notice = None, notice or "This booking has already taken place, so it can't be moved."
    else:
        try:
            options = reports.reschedule_options(org_id(), booking.id, day, tz,
                                                 staff_id=request.args.get("trainer"), now=now)
        except InvalidRequest as exc:
            options, notice = None, exc.message
    return render("dashboard/reschedule.html", ["reschedule_slots"], status=status, booking=booking, tz=tz,
                  day=day, today=today, options=options, notice=notice, form=RescheduleForm(formdata=None),
                  prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1))


def booking_url(booking_id: uuid.UUID) -> str:
    return url_for("dashboard.booking", booking_id=booking_id)
