"""Bookings: the day/week calendar (with class sessions beside the bookings), the filterable list, a booking with its audit trail, and the staff
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
from app.dashboard.csv_export import csv_response
from app.dashboard.forms import (
    BookingFilterForm,
    CancelForm,
    RescheduleForm,
    StatusForm,
    choices,
)
from app.extensions import htmx
from app.htmx import BOOKING_CHANGED, apply_errors, render, see_other, wants_fragment
from app.services import classes, notifications, reports
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
    # Classes sit beside one-to-one bookings, in their instructor's column (a trainer: their own).
    sessions = cal.class_entries(classes.sessions_between(
        org_id(), window_start, window_end, instructor_id=selected.id if selected else None,
        include_cancelled=False))
    working = reports.working_blocks(people, window_start, window_end, now=now)
    if selected is None:
        # Owners and admins who neither work shifts nor have bookings this week stay off the team view;
        # so do deactivated trainers, unless they still have bookings to be moved.
        with_bookings = {b.staff_id for b in bookings} | {s.staff_id for s in sessions}
        people = [m for m in members if m.id in with_bookings
                  or (m.active and (m.role == "staff" or working.get(m.id)))]
    step = timedelta(days=1 if view == "day" else 7)
    context = dict(
        view=view, day=day, days=days, today=today, tz=tz, selected=selected, members=members,
        trainer_value=str(selected.id) if selected else "all", count=reports.count_bookings(bookings),
        class_count=len(sessions),
        prev_day=day - step, next_day=day + step,
        staff_names={m.id: m.name for m in members},
    )
    if view == "week" and selected is None:
        context["matrix"] = cal.team_matrix(people, days, [*bookings, *sessions], working, tz, today)
    elif view == "week":
        context["grid"] = cal.time_grid(cal.day_columns(days, today), [*bookings, *sessions], working, tz)
    else:
        context["grid"] = cal.time_grid(cal.staff_columns(day, people, today), [*bookings, *sessions], working, tz)
    return render("dashboard/calendar.html", ["calendar_view"], **context)


# --- the list ------------------------------------------------------------------------------------

@bp.get("/bookings")
def bookings():
    """Bookings filtered by status, trainer, dates and attendee (name or email)."""
    tz, now = org_tz(), _now()
    form, filters = _list_filters()
    try:
        result = reports.list_bookings(org_id(), tz, filters, page=page_arg(), now=now)
    except InvalidRequest as exc:
        apply_errors(form, exc)
        result = reports.BookingPage(bookings=[], total=0, page=1, per_page=reports.PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("dashboard/bookings.html", ["booking_list"], form=form, result=result, tz=tz, args=args,
                  filtered=bool(args), status=422 if form.errors else 200)


def _list_filters() -> tuple[BookingFilterForm, reports.BookingFilter]:
    """The list's filter form from the query string, and the filters it asks for."""
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
    return form, filters


BOOKINGS_CSV_HEADER = ("Date", "Start", "End", "Attendee", "Email", "Phone", "Service", "Trainer", "Status",
                       "Booked via", "Booked at", "Cancellation reason")


@bp.get("/bookings/export.csv")
def bookings_export():
    """The list as on screen — the same filters, every page of it — as a CSV file (times in the
    organization's time zone)."""
    tz, now = org_tz(), _now()
    form, filters = _list_filters()
    if form.errors:
        abort(400)
    try:
        result = reports.export_bookings(org_id(), tz, filters, now=now)
    except InvalidRequest:
        abort(400)
    zone = ZoneInfo(tz)
    return csv_response("bookings", BOOKINGS_CSV_HEADER, (
        (b.start_at.astimezone(zone).date().isoformat(), b.start_at.astimezone(zone).strftime("%H:%M"),
         b.end_at.astimezone(zone).strftime("%H:%M"), b.attendee_name, b.attendee_email, b.attendee_phone,
         b.appointment_type.name if b.appointment_type else b.title, ", ".join(p.name for p in result.staff_of(b)),
         b.status.replace("_", "-"), b.source, b.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
         b.cancellation_reason)
        for b in result.bookings), today=_today(tz, now))


# --- one booking ---------------------------------------------------------------------------------

def load_booking(booking_id, *, edit: bool = False):
    """The booking (404 for another organization's), if this user may see it (staff: their own)."""
    booking = fetch(reports.get_booking, booking_id)
    check_own(booking.staff_id)
    if edit and not is_admin():
        abort(403)
    return booking


def detail(booking, *, status: int = 200, trigger: str | None = None):
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
    )


@bp.get("/bookings/<booking_id>")
def booking(booking_id):
    return detail(load_booking(booking_id))


def _changed(booking, message: str):
    """After an action: the refreshed detail for htmx (and an event for other parts of the page), else
    post/redirect/get back to the booking. The message goes to the page's one message region, where
    it replaces the last one (app/htmx.py)."""
    flash(message, "success")
    if htmx:
        return detail(booking, trigger=BOOKING_CHANGED)
    return see_other(url_for("dashboard.booking", booking_id=booking.id))


def _refused(booking, exc, status: int):
    flash(exc.message, "error")
    if htmx:
        return detail(booking, status=status)
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


# --- asking first --------------------------------------------------------------------------------
# Cancelling and moving can't be undone (the client is told at once), so both ask first: a page
# without JavaScript, a <dialog> with it (dashboard.js opens it, HX-Target dialog-slot). Only a POST
# carrying confirm=yes — sent by that page or dialog — acts; any other (an old form, a stray request)
# is answered with the question, changing nothing.

CONFIRMED = "yes"


def _confirmed(booking, form) -> bool:
    """Whether to act: the confirmation said yes — or there is nothing to ask, the booking being
    cancelled or over, so the service refuses it with its own reason (check_still_active)."""
    return form.confirm.data == CONFIRMED or not booking.is_active or booking.is_finished(_now())


def _ask(booking, kind: str, form, *, status: int = 200, new_start: datetime | None = None, new_staff=None):
    """The question before `kind` ("cancel" | "move"): the whole page, or for htmx the dialog (into
    #dialog-slot, whatever element asked)."""
    context = dict(booking=booking, tz=org_tz(), kind=kind, form=form, new_start=new_start,
                   new_end=new_start + (booking.end_at - booking.start_at) if new_start else None,
                   new_staff=new_staff or booking.staff)
    if wants_fragment():
        response = render("dashboard/confirm.html", block="dialog_slot", status=status, **context)
        response.headers["HX-Retarget"] = "#dialog-slot"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render("dashboard/confirm.html", status=status, **context)


@bp.route("/bookings/<booking_id>/cancel", methods=["GET", "POST"])
def booking_cancel(booking_id):
    """GET: ask (the reason, then "Yes, cancel" or "Keep it"); POST with confirm=yes: cancel."""
    booking = load_booking(booking_id, edit=True)
    if request.method == "GET":
        if not booking.is_active or booking.is_finished(_now()):  # nothing to ask: the page says why
            return see_other(url_for("dashboard.booking", booking_id=booking.id))
        return _ask(booking, "cancel", CancelForm(formdata=None))
    form = CancelForm()
    if not form.validate():
        return _ask(booking, "cancel", form, status=422)  # a reason too long (CSRFProtect checked the token)
    if not _confirmed(booking, form):
        return _ask(booking, "cancel", form)
    try:
        cancel_booking(booking.id, actor=staff_actor(), reason=form.reason.data or None)
    except (Conflict, InvalidRequest) as exc:
        return _refused(booking, exc, 409)
    return _changed(booking, "Booking cancelled; the time is free again.")


def _new_time(value: str | None) -> datetime:
    """The chosen start (aware), else 400: the picker only ever sends one."""
    try:
        start = datetime.fromisoformat(value or "")
    except ValueError:
        abort(400)
    if start.tzinfo is None:
        abort(400)
    return start


def _member(staff_id: str | None):
    """The trainer a move names (None: the booking's own), shown in the question."""
    return next((m for m in team(org_id()) if str(m.id) == staff_id), None) if staff_id else None


@bp.get("/bookings/<booking_id>/reschedule/confirm")
def booking_move_confirm(booking_id):
    """Ask before moving the booking to the time chosen on the reschedule page (?start=&staff_id=)."""
    booking = load_booking(booking_id, edit=True)
    value, staff_id = request.args.get("start"), request.args.get("staff_id") or None
    if not value or not booking.is_active or booking.is_finished(_now()):
        return see_other(url_for("dashboard.booking_reschedule", booking_id=booking.id))
    form = RescheduleForm(formdata=None, data={"start": value, "staff_id": staff_id})
    return _ask(booking, "move", form, new_start=_new_time(value), new_staff=_member(staff_id))


@bp.route("/bookings/<booking_id>/reschedule", methods=["GET", "POST"])
def booking_reschedule(booking_id):
    """Choose a day (and, on a team link, a trainer), then one of the free times that day; moving it
    is asked first (booking_move_confirm), and a POST acts only with confirm=yes."""
    booking = load_booking(booking_id, edit=True)
    tz, now = org_tz(), _now()
    today = _today(tz, now)
    form = RescheduleForm()
    notice = None
    status = 200
    if request.method == "POST":
        if form.validate():
            start = _new_time(form.start.data)
            staff_id = form.staff_id.data or None
            if not _confirmed(booking, form):
                return _ask(booking, "move", form, new_start=start, new_staff=_member(staff_id))
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
                  day=day, today=today, options=options, notice=notice,
                  prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1))


def booking_url(booking_id: uuid.UUID) -> str:
    return url_for("dashboard.booking", booking_id=booking_id)
