"""Group classes: the week of sessions, the class types, the weekly timetable (series), one-off
sessions and changes to one session, and each session's roster — each through app/services/classes.

Everyone sees the week, the types and the timetable; owners and admins change them. A trainer sees
the roster of the sessions they teach and marks attendance there (another's session: 403); adding
and removing people is for owners and admins. Another organization's ids answer 404.

Saving a timetable entry may first raise a question: the instructor's clashes (save without those
dates?) or sessions people have booked (keep them, or change them too?). The form comes back with
the question and the answers as buttons, status 409; nothing is saved until it is answered.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import abort, flash, request, url_for
from flask_login import current_user

from app.dashboard.access import check_own, is_admin, org_id, org_tz, staff_actor
from app.dashboard.blueprint import bp
from app.dashboard.forms import (
    WEEKDAY_CHOICES,
    AttendanceForm,
    ClassTypeForm,
    EndSeriesForm,
    RemoveSpotForm,
    RosterAddForm,
    SeriesForm,
    SessionCancelForm,
    SessionChangeForm,
    SessionForm,
    choices,
)
from app.extensions import htmx
from app.htmx import apply_errors, render, see_other, wants_fragment
from app.services import classes
from app.services import clients as client_service
from app.services.classes.spots import CHECK_IN_OPENS
from app.services.dates import supported
from app.services.errors import Conflict, InvalidRequest, NotFound
from app.services.phones import organization_region
from app.services.team import team

CONFIRMED = "yes"
CLIENT_MATCHES = 8
TYPE_FIELDS = {"price_pennies": "price"}
SESSION_FIELDS = {"start": "start_time"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _zone() -> ZoneInfo:
    return ZoneInfo(org_tz())


def fetch(getter, row_id):
    """getter(org_id, row_id) from the classes service: missing, another organization's, or not an id
    at all (the service's InvalidRequest) is a 404."""
    try:
        return getter(org_id(), row_id)
    except (NotFound, InvalidRequest):
        abort(404)


def _admin_only() -> None:
    if not is_admin():
        abort(403)


def _date_arg(name: str = "date") -> date | None:
    try:
        day = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return day if supported(day) else None


def _instructor_choices(blank: str | None = None):
    pairs = [(str(m.id), m.name) for m in team(org_id(), active_only=True)]
    return choices(([("", blank)] if blank is not None else []) + pairs)


def _type_choices():
    return choices((str(t.id), t.name) for t in classes.class_types(org_id(), active_only=True))


def _conflict_view(exc: Conflict) -> dict:
    """A Conflict's message, and its clashes / booked sessions as local times for the page."""
    zone = _zone()

    def local(value: str) -> str:
        return datetime.fromisoformat(value).astimezone(zone).strftime("%a %d %b %Y, %H:%M")

    clashes = [{"session": local(c["session_start"]), "what": c["what"], "label": c["label"],
                "from": local(c["start"]), "until": datetime.fromisoformat(c["end"]).astimezone(zone).strftime("%H:%M")}
               for c in exc.details.get("clashes", [])]
    booked = [{"id": s["id"], "start": local(s["start"]), "people": s["people"]}
              for s in exc.details.get("sessions", [])]
    return {"message": exc.message, "code": exc.code, "clashes": clashes, "booked": booked}


# --- the week of sessions ------------------------------------------------------------------------

@bp.get("/classes")
def classes_week():
    """The organization's sessions in one local week (Monday to Sunday), filterable by instructor,
    each with its places booked and its waitlist."""
    org = current_user.organization
    zone, now = _zone(), _now()
    today = now.astimezone(zone).date()
    day = _date_arg() or today
    monday = day - timedelta(days=day.weekday())
    start, end = classes.local_week(org, monday)
    instructor = request.args.get("instructor") or None
    members = team(org_id())
    if instructor and not any(str(m.id) == instructor for m in members):
        abort(404)
    rows = classes.sessions_between(org_id(), start, end, instructor_id=instructor)
    days = [(monday + timedelta(days=i), []) for i in range(7)]
    for row in rows:
        index = (row.session.start_at.astimezone(zone).date() - monday).days
        if 0 <= index < 7:
            days[index][1].append(row)
    return render("dashboard/classes_week.html", ["class_week"], days=days, monday=monday, today=today,
                  prev_week=monday - timedelta(days=7), next_week=monday + timedelta(days=7), tz=org_tz(),
                  members=members, instructor=instructor, can_edit=is_admin(), now=now, count=len(rows))


# --- class types ---------------------------------------------------------------------------------

@bp.get("/classes/types")
def class_types():
    return render("dashboard/class_types.html", [], types=classes.class_types(org_id()), can_edit=is_admin())


def _type_form(form: ClassTypeForm) -> ClassTypeForm:
    form.default_instructor_id.choices = _instructor_choices("Nobody in particular")
    return form


def _type_page(form, ctype=None, status: int = 200):
    return render("dashboard/class_type_form.html", ["class_type_form"], status=status, form=form, ctype=ctype)


def _save_type(form: ClassTypeForm, ctype=None):
    price = form.price.data if form.price.data is not None else Decimal(0)
    return classes.save_class_type(
        org_id(), actor=staff_actor(), type_id=ctype.id if ctype else None, name=form.name.data,
        description=form.description.data, duration_minutes=form.duration_minutes.data, capacity=form.capacity.data,
        price_pennies=int((price * 100).to_integral_value()), color=form.color.data or "#2563eb",
        default_instructor_id=form.default_instructor_id.data or None, location=form.location.data,
        is_active=form.is_active.data)


@bp.route("/classes/types/new", methods=["GET", "POST"])
def class_type_new():
    _admin_only()
    form = _type_form(ClassTypeForm())
    if form.validate_on_submit():
        try:
            ctype = _save_type(form)
        except InvalidRequest as exc:
            apply_errors(form, exc, TYPE_FIELDS)
        else:
            flash(f"{ctype.name} added.", "success")
            return see_other(url_for("dashboard.class_types"))
    return _type_page(form, status=422 if request.method == "POST" else 200)


@bp.route("/classes/types/<type_id>", methods=["GET", "POST"])
def class_type_edit(type_id):
    ctype = fetch(classes.get_class_type, type_id)
    _admin_only()
    if request.method == "GET":
        form = _type_form(ClassTypeForm(obj=ctype))
        form.price.data = Decimal(ctype.price_pennies) / 100
        form.default_instructor_id.data = str(ctype.default_instructor_id or "")
        return _type_page(form, ctype)
    form = _type_form(ClassTypeForm())
    if form.validate_on_submit():
        try:
            _save_type(form, ctype)
        except InvalidRequest as exc:
            apply_errors(form, exc, TYPE_FIELDS)
        else:
            flash(f"{ctype.name} saved.", "success")
            return see_other(url_for("dashboard.class_types"))
    return _type_page(form, ctype, status=422)


# --- the weekly timetable (series) ---------------------------------------------------------------

@bp.get("/classes/timetable")
def class_timetable():
    return render("dashboard/class_timetable.html", [], series=classes.series_list(org_id()), can_edit=is_admin(),
                  day_names={int(c.value): c.label for c in WEEKDAY_CHOICES})


def _series_form(form: SeriesForm) -> SeriesForm:
    form.class_type_id.choices = _type_choices()
    form.instructor_id.choices = _instructor_choices()
    return form


def _series_page(form, series=None, status: int = 200, question: dict | None = None):
    return render("dashboard/class_series_form.html", ["series_form"], status=status, form=form, series=series,
                  question=question)


def _series_values(form: SeriesForm) -> dict:
    return dict(class_type_id=form.class_type_id.data, instructor_id=form.instructor_id.data,
                weekdays=form.weekdays.data, start_time=form.start_time.data, first_date=form.first_date.data,
                last_date=form.last_date.data, capacity=form.capacity.data)


@bp.route("/classes/timetable/new", methods=["GET", "POST"])
def class_series_new():
    _admin_only()
    if request.method == "GET":
        today = _now().astimezone(_zone()).date()
        form = _series_form(SeriesForm(formdata=None, data={"first_date": today}))
        if request.args.get("class_type_id"):
            form.class_type_id.data = request.args["class_type_id"]
        return _series_page(form)
    form = _series_form(SeriesForm())
    if form.validate():
        try:
            series = classes.create_series(org_id(), actor=staff_actor(), skip_clashes=form.skip_clashes.data == "1",
                                           **_series_values(form))
        except InvalidRequest as exc:
            apply_errors(form, exc)
        except Conflict as exc:
            return _series_page(form, status=409, question=_conflict_view(exc))
        else:
            flash(_saved_series(series, "added"), "success")
            return see_other(url_for("dashboard.class_timetable"))
    return _series_page(form, status=422)


def _saved_series(series, verb: str) -> str:
    skipped = len(series.skipped or [])
    extra = f" {skipped} date{'s' if skipped != 1 else ''} left out: the instructor is busy then." if skipped else ""
    return f"{series.class_type.name} {verb}.{extra}"


@bp.route("/classes/timetable/<series_id>", methods=["GET", "POST"])
def class_series_edit(series_id):
    series = fetch(classes.get_series, series_id)
    _admin_only()
    if request.method == "GET":
        form = _series_form(SeriesForm(formdata=None, obj=series))
        form.class_type_id.data, form.instructor_id.data = str(series.class_type_id), str(series.instructor_id)
        form.weekdays.data = [str(d) for d in series.weekdays or []]
        return _series_page(form, series)
    form = _series_form(SeriesForm())
    if form.validate():
        booked = form.booked.data if form.booked.data in ("keep", "change") else "ask"
        try:
            classes.update_series(org_id(), series.id, actor=staff_actor(), booked=booked,
                                  skip_clashes=form.skip_clashes.data == "1", **_series_values(form))
        except InvalidRequest as exc:
            apply_errors(form, exc)
        except Conflict as exc:
            return _series_page(form, series, status=409, question=_conflict_view(exc))
        else:
            flash(_saved_series(series, "saved"), "success")
            return see_other(url_for("dashboard.class_timetable"))
    return _series_page(form, series, status=422)


@bp.route("/classes/timetable/<series_id>/end", methods=["GET", "POST"])
def class_series_end(series_id):
    """Take an entry off the timetable. GET asks; a POST with confirm=yes acts (booked sessions: the
    answer to keep or cancel them comes back as `booked`)."""
    series = fetch(classes.get_series, series_id)
    _admin_only()
    if request.method == "GET":
        return _ask("end_series", EndSeriesForm(formdata=None), series=series)
    form = EndSeriesForm()
    if not form.validate():
        return _ask("end_series", form, series=series, status=422)
    if form.confirm.data != CONFIRMED:
        return _ask("end_series", form, series=series)
    booked = form.booked.data if form.booked.data in ("keep", "change") else "ask"
    try:
        classes.end_series(org_id(), series.id, actor=staff_actor(), booked=booked)
    except Conflict as exc:
        return _ask("end_series", form, series=series, status=409, question=_conflict_view(exc))
    flash(f"{series.class_type.name} taken off the timetable.", "success")
    return see_other(url_for("dashboard.class_timetable"))


# --- asking first --------------------------------------------------------------------------------

def _ask(kind: str, form, *, status: int = 200, **context):
    """The question before an action that can't be undone: the whole page, or for htmx a dialog put
    into #dialog-slot (as dashboard/confirm.html does for bookings)."""
    context = {"question": None, **context, "kind": kind, "form": form, "tz": org_tz()}
    if wants_fragment():
        response = render("dashboard/class_confirm.html", block="dialog_slot", status=status, **context)
        response.headers["HX-Retarget"] = "#dialog-slot"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render("dashboard/class_confirm.html", status=status, **context)


# --- one session ---------------------------------------------------------------------------------

def _session(session_id, *, edit: bool = False):
    """The session (404 for another organization's); trainers only their own, and only to look."""
    session = fetch(classes.get_session, session_id)
    check_own(session.instructor_id)
    if edit:
        _admin_only()
    return session


def _session_form(form, *, with_type: bool = True):
    if with_type:
        form.class_type_id.choices = _type_choices()
    form.instructor_id.choices = _instructor_choices()
    return form


@bp.route("/classes/sessions/new", methods=["GET", "POST"])
def class_session_new():
    """A one-off session, outside the weekly timetable."""
    _admin_only()
    if request.method == "GET":
        form = _session_form(SessionForm(formdata=None, data={"day": _date_arg() or _now().astimezone(_zone()).date()}))
        return render("dashboard/class_session_form.html", ["session_form"], form=form, session=None, question=None)
    form = _session_form(SessionForm())
    question = None
    if form.validate():
        try:
            session = classes.create_session(org_id(), actor=staff_actor(), class_type_id=form.class_type_id.data,
                                             instructor_id=form.instructor_id.data, day=form.day.data,
                                             start_time=form.start_time.data, capacity=form.capacity.data)
        except InvalidRequest as exc:
            apply_errors(form, exc, SESSION_FIELDS)
        except Conflict as exc:
            question = _conflict_view(exc)
        else:
            flash(f"{session.class_type.name} added on {session.start_at.astimezone(_zone()):%a %d %b, %H:%M}.",
                  "success")
            return see_other(url_for("dashboard.class_roster", session_id=session.id))
    return render("dashboard/class_session_form.html", ["session_form"], status=409 if question else 422,
                  form=form, session=None, question=question)


@bp.route("/classes/sessions/<session_id>/change", methods=["GET", "POST"])
def class_session_change(session_id):
    """Change one session on its own: substitute the instructor, move it, change its places or place."""
    session = _session(session_id, edit=True)
    if request.method == "GET":
        local = session.start_at.astimezone(_zone())
        form = _session_form(SessionChangeForm(formdata=None, data={
            "instructor_id": str(session.instructor_id), "day": local.date(), "start_time": local.time(),
            "capacity": session.capacity, "location": session.location or ""}), with_type=False)
        return render("dashboard/class_session_form.html", ["session_form"], form=form, session=session, question=None)
    form = _session_form(SessionChangeForm(), with_type=False)
    question = None
    if form.validate():
        try:
            classes.change_session(org_id(), session.id, actor=staff_actor(), instructor_id=form.instructor_id.data,
                                   day=form.day.data, start_time=form.start_time.data, capacity=form.capacity.data,
                                   location=form.location.data or "")
        except InvalidRequest as exc:
            apply_errors(form, exc, SESSION_FIELDS)
        except Conflict as exc:
            question = _conflict_view(exc)
        else:
            flash("Session changed; everyone booked or waiting is told of a new time, place or instructor.", "success")
            return see_other(url_for("dashboard.class_roster", session_id=session.id))
    return render("dashboard/class_session_form.html", ["session_form"], status=409 if question else 422,
                  form=form, session=session, question=question)


@bp.route("/classes/sessions/<session_id>/cancel", methods=["GET", "POST"])
def class_session_cancel(session_id):
    """Cancel the whole session: GET asks (with a reason); POST with confirm=yes cancels, and
    everyone booked or waiting is told."""
    session = _session(session_id, edit=True)
    if request.method == "GET":
        return _ask("cancel_session", SessionCancelForm(formdata=None), session=session)
    form = SessionCancelForm()
    if not form.validate():
        return _ask("cancel_session", form, session=session, status=422)
    if form.confirm.data != CONFIRMED:
        return _ask("cancel_session", form, session=session)
    try:
        classes.cancel_session(org_id(), session.id, actor=staff_actor(), reason=form.reason.data or None)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash("Session cancelled; everyone booked or waiting is told.", "success")
    return see_other(url_for("dashboard.class_roster", session_id=session.id))


# --- the roster ----------------------------------------------------------------------------------

def _roster_page(session, *, add_form: RosterAddForm | None = None, status: int = 200, notice: str | None = None,
                 block: str | None = None):
    region = organization_region(current_user.organization.settings)
    now = _now()
    data = classes.roster(org_id(), session.id)
    q = (request.args.get("q") or "").strip()[:100]
    matches = None
    if q and is_admin() and "\x00" not in q:
        try:
            matches = client_service.search_clients(org_id(), q, per_page=CLIENT_MATCHES, now=now).rows
        except InvalidRequest:
            matches = []
    if add_form is None:
        data_in = {"phone_country": region}
        picked = request.args.get("client")
        if picked and is_admin():
            found = fetch(client_service.get_client, picked)
            data_in.update(name=found.name, email=found.email, phone=found.phone or "")
        add_form = RosterAddForm(formdata=None, phone_region=region, data=data_in)
    org = current_user.organization
    return render("dashboard/roster.html", ["roster"], status=status, block=block, roster=data, session=session,
                  tz=org_tz(), can_edit=is_admin(), add_form=add_form, q=q, matches=matches, notice=notice,
                  check_in_open=now >= session.start_at - CHECK_IN_OPENS,
                  waitlist_open=classes.waitlist_open(session, org, now), over=session.end_at <= now,
                  attendance_form=AttendanceForm(formdata=None))


@bp.get("/classes/sessions/<session_id>")
def class_roster(session_id):
    """Who is booked, waiting in order, and who gave their spot up (late cancellations marked)."""
    return _roster_page(_session(session_id))


def _roster_changed(session, message: str):
    flash(message, "success")
    if htmx:
        return _roster_page(session, block="roster")
    return see_other(url_for("dashboard.class_roster", session_id=session.id))


def _roster_refused(session, message: str, status: int):
    flash(message, "error")
    if htmx:
        return _roster_page(session, status=status, block="roster")
    return see_other(url_for("dashboard.class_roster", session_id=session.id))


@bp.post("/classes/sessions/<session_id>/add")
def class_roster_add(session_id):
    """Book someone into the session (as staff, from the dashboard): a client picked from the list or
    typed details; when full, onto the waitlist if asked."""
    session = _session(session_id, edit=True)
    region = organization_region(current_user.organization.settings)
    form = RosterAddForm(phone_region=region)
    if form.validate():
        try:
            result = classes.book_class(session_id=session.id, org_id=org_id(), attendee_name=form.name.data,
                                        attendee_email=form.email.data, attendee_phone=form.phone.data or None,
                                        attendee_phone_country=form.phone_country.data or region,
                                        join_waitlist=form.join_waitlist.data, actor=staff_actor(),
                                        source="dashboard")
        except InvalidRequest as exc:
            apply_errors(form, exc, {"attendee_name": "name", "attendee_email": "email", "attendee_phone": "phone"})
        except Conflict as exc:
            form.form_errors.append(exc.message)
            return _roster_page(session, add_form=form, status=409, block="roster" if htmx else None)
        else:
            where = (f"on the waitlist (number {result.waitlist_position})" if result.waitlist_position
                     else "booked in")
            return _roster_changed(session, f"{result.spot.attendee_name} is {where}.")
    return _roster_page(session, add_form=form, status=422, block="roster" if htmx else None)


def _spot(spot_id):
    spot = fetch(classes.get_spot, spot_id)
    return spot, spot.session


@bp.post("/classes/spots/<spot_id>/attendance")
def class_attendance(spot_id):
    """Check in, mark a no-show, or set back to booked: from two hours before the start."""
    spot, session = _spot(spot_id)
    check_own(session.instructor_id)
    form = AttendanceForm()
    if not form.validate():
        abort(400)
    try:
        classes.set_attendance(org_id(), spot.id, form.status.data, actor=staff_actor())
    except (Conflict, InvalidRequest) as exc:
        return _roster_refused(session, exc.message, 409)
    words = {"attended": "checked in", "no_show": "marked a no-show", "confirmed": "back to booked"}
    return _roster_changed(session, f"{spot.attendee_name} {words[form.status.data]}.")


@bp.route("/classes/spots/<spot_id>/remove", methods=["GET", "POST"])
def class_spot_remove(spot_id):
    """Take someone off the session (or its waitlist): GET asks; POST with confirm=yes removes them
    (they are told, and the first person waiting gets the place)."""
    spot, session = _spot(spot_id)
    _admin_only()
    if request.method == "GET":
        return _ask("remove_spot", RemoveSpotForm(formdata=None), spot=spot, session=session)
    form = RemoveSpotForm()
    if not form.validate():
        return _ask("remove_spot", form, spot=spot, session=session, status=422)
    if form.confirm.data != CONFIRMED:
        return _ask("remove_spot", form, spot=spot, session=session)
    try:
        classes.cancel_spot(spot.id, actor=staff_actor(), reason=form.reason.data or None, removed=True)
    except Conflict as exc:
        return _roster_refused(session, exc.message, 409)
    return _roster_changed(session, f"{spot.attendee_name} removed.")
