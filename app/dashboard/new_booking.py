"""New booking (staff): choose or type the client, the service, the trainer (or whoever is free on a
team page) and a free time, then book it through create_booking — the same service, checks, audit
and messages as the booking page, the API and the agents.

One URL, no JavaScript needed: GET opens the form (prefilled from the calendar's ?trainer=&date=&time=
or a picked ?client=), a POST with action=times shows the free times of the chosen day, a POST with
action=book books. Owners and admins book anyone and may book outside the trainer's working hours (an
override the audit records); a trainer books only themself, within their hours.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from flask import abort, flash, request, url_for
from flask_login import current_user

from app.dashboard.access import fetch, is_admin, org_id, org_tz, staff_actor, trainer_param
from app.dashboard.blueprint import bp
from app.dashboard.forms import NewBookingForm, choices
from app.htmx import BOOKING_CHANGED, apply_errors, render, see_other
from app.services import clients
from app.services.bookings import (
    SlotTaken,
    booking_page_for,
    create_booking,
    staff_booking_services,
    staff_free_times,
)
from app.services.dates import RANGE_TEXT, supported
from app.services.errors import Conflict, InvalidRequest, NotFound
from app.services.phones import organization_region
from app.services.scheduling.wall_time import from_us, wall_to_us

WHOEVER = ""  # the trainer choice "whoever is free"
CLIENT_MATCHES = 8


def _now() -> datetime:
    return datetime.now(timezone.utc)


@bp.route("/bookings/new", methods=["GET", "POST"])
def booking_new():
    tz, now = org_tz(), _now()
    today = now.astimezone(ZoneInfo(tz)).date()
    services = _services()
    region = organization_region(current_user.organization.settings)
    picked = None
    if request.method == "GET":
        picked = _picked_client()
        form = NewBookingForm(formdata=None, phone_region=region, data=_prefill(services, picked, today, region))
    else:
        form = NewBookingForm(phone_region=region)
    _set_choices(form, services)
    status = 200
    notice = None
    if request.method == "POST" and request.form.get("action") == "book":
        start = _checked(form, tz)
        if start is not None:
            try:
                result = create_booking(
                    link_slug=_page_for(form), start_time=start, attendee_name=form.name.data,
                    attendee_email=form.email.data, attendee_phone=form.phone.data or None,
                    attendee_phone_country=form.phone_country.data or region, actor=staff_actor(),
                    appointment_type_id=form.service.data, staff_id=form.trainer.data or None,
                    description=(form.notes.data or "").strip() or None,
                    idempotency_key=form.idempotency_key.data or None, source="dashboard",
                    notify=bool(form.notify.data), outside_hours=bool(form.outside_hours.data), now=now)
            except SlotTaken:
                # The customers' wording offers alternatives; here the day's free times are on the page.
                notice, status = ("That time is taken: the trainer has another booking or busy time then "
                                  "(buffers included). Choose another time."), 409
            except Conflict as exc:
                notice, status = exc.message, 409
            except InvalidRequest as exc:
                apply_errors(form, exc)
                status = 422
            except NotFound as exc:
                form.form_errors.append(exc.message)
                status = 422
            else:
                booking = result.booking
                when = booking.start_at.astimezone(ZoneInfo(tz)).strftime("%a %d %b, %H:%M")
                flash(f"Booked {booking.attendee_name} on {when} with {booking.staff.name}.", "success")
                return see_other(url_for("dashboard.booking", booking_id=booking.id), trigger=BOOKING_CHANGED)
        else:
            status = 422
    if not form.idempotency_key.data:
        form.idempotency_key.data = uuid.uuid4().hex
    day = form.date.data if isinstance(form.date.data, date) and supported(form.date.data) else today
    times, times_notice = _times(form, day, now)
    matches = _client_matches(request.args.get("q")) if request.method == "GET" else None
    wanted = request.args.get("time") if request.method == "GET" else None
    return render("dashboard/new_booking.html", ["new_booking"], status=status, form=form, tz=tz, today=today,
                  day=day, times=times, times_notice=times_notice, notice=notice, picked=picked,
                  matches=matches, q=(request.args.get("q") or "")[:100], wanted=wanted, can_override=is_admin())


# --- what can be booked, and by whom --------------------------------------------------------------

def _services():
    """The services this user may book: everything offered (owners, admins), or what they offer themself."""
    services = staff_booking_services(org_id())
    if is_admin():
        return services
    return [s for s in services if any(member_id == current_user.id for member_id, _ in s.trainers)]


def _set_choices(form: NewBookingForm, services) -> None:
    form.service.choices = choices([(str(s.id), f"{s.name} ({s.duration_minutes} min)") for s in services])
    if is_admin():
        trainers: dict = {}
        for s in services:
            trainers.update(s.trainers)
        people = sorted(trainers.items(), key=lambda pair: (pair[1], str(pair[0])))
        team = [(WHOEVER, "Whoever is free (team service)")] if any(s.team for s in services) else []
        form.trainer.choices = choices(team + [(str(i), name) for i, name in people])
    else:
        form.trainer.choices = choices([(str(current_user.id), current_user.name)])


def _page_for(form: NewBookingForm) -> str:
    return booking_page_for(org_id(), form.service.data, form.trainer.data or None)


# --- the GET: prefilled from the calendar or a picked client --------------------------------------

def _picked_client():
    """The client chosen from the search (?client=): another organization's is a 404, one a trainer
    has no booking with a 403 — the rule of the Clients page."""
    value = request.args.get("client")
    if not value:
        return None
    client = fetch(clients.get_client, value)
    if not is_admin() and not clients.has_bookings_with(org_id(), client.id, current_user.id):
        abort(403)
    return client


def _prefill(services, picked, today: date, region: str) -> dict:
    """The form's first values: ?trainer= (a colleague's id is a 403 for a trainer, another gym's a
    404), ?service=, ?date=, ?time= (kept for the override's time field), and the picked client."""
    arg = request.args.get("trainer") or ""
    if is_admin() and arg in ("", "all"):
        trainer = None
    else:
        trainer = trainer_param(arg or None)
    trainer_id = str(trainer.id) if trainer else WHOEVER
    offered = [s for s in services if trainer is None and s.team
               or trainer is not None and any(m == trainer.id for m, _ in s.trainers)]
    service = next((s for s in services if str(s.id) == request.args.get("service")), None)
    service = service or (offered[0] if offered else (services[0] if services else None))
    if trainer is None and service is not None and not service.team and service.trainers:
        trainer_id = str(service.trainers[0][0])  # nobody shares this one out: its first trainer
    try:
        day = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        day = today
    if not supported(day) or day < today:
        day = today
    data = {"trainer": trainer_id, "service": str(service.id) if service else None, "date": day,
            "notify": True, "phone_country": region, "at_time": _time_arg()}
    if picked is not None:
        data.update(client_id=str(picked.id), name=picked.name, email=picked.email, phone=picked.phone)
    return data


def _time_arg() -> time | None:
    try:
        return time.fromisoformat(request.args.get("time", ""))
    except ValueError:
        return None


def _client_matches(q: str | None):
    """Clients whose name, email or phone contains `q` (a trainer: their own clients), a few of them."""
    if not q or not q.strip():
        return None
    try:
        return clients.search_clients(org_id(), q[:100], staff_id=None if is_admin() else current_user.id,
                                      per_page=CLIENT_MATCHES).rows
    except InvalidRequest:
        return []


# --- the POST ------------------------------------------------------------------------------------

def _checked(form: NewBookingForm, tz: str) -> datetime | None:
    """The start to book, with every mistake of the form found in one pass (None: there were some)."""
    valid = form.validate()
    if form.outside_hours.data and not is_admin():
        abort(403)  # the box is not shown to trainers: only a hand-made request gets here
    start = None
    if form.outside_hours.data:
        if form.at_time.data is None:
            if not form.at_time.errors:
                form.at_time.errors = ["Give the time to book outside working hours."]
        elif isinstance(form.date.data, date):
            # The engine's reading of a wall time: in a repeated hour the first, in a DST gap its end.
            start = from_us(wall_to_us(form.date.data, form.at_time.data, ZoneInfo(tz)))
    else:
        try:
            start = datetime.fromisoformat(form.start.data or "")
        except ValueError:
            start = None
        if start is None or start.tzinfo is None or not supported(start):
            start = None
            form.start.errors = ["Choose one of the free times."]
    if isinstance(form.date.data, date) and not supported(form.date.data):
        form.date.errors = [*form.date.errors, f"Choose a day {RANGE_TEXT}."]
        start = None
    if not valid or form.start.errors or form.at_time.errors or form.date.errors:
        return None
    return start


def _times(form: NewBookingForm, day: date, now: datetime):
    """The free starts of the chosen service and trainer on `day`, or a sentence saying why none."""
    if not form.service.data or form.service.data not in {c.value for c in form.service.choices}:
        return [], "Choose a service." if form.service.choices else "Nothing can be booked yet: add a service to a booking page."
    if form.trainer.data not in {c.value for c in form.trainer.choices}:
        return [], "Choose a trainer."
    try:
        search = staff_free_times(org_id(), form.service.data, form.trainer.data or None, day, now=now)
    except (InvalidRequest, NotFound) as exc:
        return [], exc.message
    seen, slots = set(), []
    for slot in search.slots:
        if slot.start not in seen:
            seen.add(slot.start)
            slots.append(slot)
    return slots, None if slots else "No free times that day. Try another day or trainer."
