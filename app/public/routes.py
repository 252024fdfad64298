"""Public pages: the portal's front page, the health check, branded booking pages and manage pages.

Every page is one URL that renders the whole page, or — for an htmx request — only the block
named by HX-Target (template fragments), so the same links and forms work with and without
JavaScript. Service errors become friendly messages on the page, never an error page.
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select, text

from app.extensions import db, limiter
from app.htmx import apply_errors, private, render, see_other, wanted_block
from app.models import BookingLink, ClassType, Organization
from app.public.blueprint import bp
from app.public.classes import cancel_spot_submit, confirm_cancel_spot, manage_spot, spot_for_token, spot_ics
from app.public.forms import BookingDetailsForm, CancelForm, RescheduleForm
from app.public.pages import (
    Step,
    alternatives_from,
    book_page,
    book_step,
    booking_or_404,
    chosen_slot,
    manage_page,
    phone_hint,
    reschedule_context,
    show_staff_on,
    split_slot_value,
    staff_name,
)
from app.public.picker import Picker, PickerState, day_slots, parse_uuid
from app.public.zones import (
    fmt_duration,
    fmt_long_day,
    fmt_short_day,
    fmt_span,
    fmt_time,
    fmt_when,
)
from app.services.bookings import (
    Actor,
    SlotTaken,
    cancel_booking,
    create_booking,
    reschedule_booking,
)
from app.services.bookings import booking_ics as build_booking_ics
from app.services.errors import Conflict, InvalidRequest, NotFound
from app.services.phones import incomplete, organization_region, valid_region
from app.services.scheduling import app_cache, link_info
from app.services.zones import valid_zone
from app.timeformat import duration_text

# HX-Target (a DOM id) → the template block that fills it.
FRAGMENTS = {"booking-picker": "picker", "calendar": "calendar", "booking-step": "step",
             "booking-actions": "actions"}


@bp.get("/")
def index():
    """The front page: each organization's public booking links."""
    orgs = db.session.scalars(select(Organization).order_by(Organization.name)).all()
    links = db.session.scalars(
        select(BookingLink)
        .where(BookingLink.is_public.is_(True), BookingLink.is_active.is_(True))
        .order_by(BookingLink.name)
    ).all()
    links_by_org: dict = {}
    for link in links:
        links_by_org.setdefault(link.organization_id, []).append(link)
    # Organizations with classes on offer: their timetable is linked beside their booking pages.
    class_orgs = set(db.session.scalars(select(ClassType.organization_id).where(ClassType.is_active.is_(True))
                                        .distinct()))
    return render_template(
        "public/index.html",
        orgs=orgs,
        links_by_org=links_by_org,
        class_orgs=class_orgs,
        booking_pages_enabled="public.book" in current_app.view_functions,
    )


@bp.get("/healthz")
def healthz():
    """Liveness and database reachability, as JSON (503 when the database cannot be reached)."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # any driver error means "not reachable" here
        db.session.rollback()
        current_app.logger.warning("healthz: database unreachable: %s", type(exc).__name__)
        database = "unreachable"
    status = 200 if database == "ok" else 503
    return jsonify({"status": "ok" if status == 200 else "degraded", "database": database}), status


# --- rendering helpers ---------------------------------------------------------------------------

def fragment(*allowed: str) -> str | None:
    """The block an htmx request asks for (by its target), if this view renders it; None: the whole page."""
    return wanted_block({target: block for target, block in FRAGMENTS.items() if block in allowed})


def actor_for(booking_id: uuid.UUID | None = None) -> Actor:
    return Actor(type="attendee", id=str(booking_id) if booking_id else None, ip=request.remote_addr,
                 user_agent=(request.headers.get("User-Agent") or "")[:300] or None)


# Jinja globals rather than a context processor, so the shared macros (imported without context,
# hence cached) can use them too.
for _helper in (fmt_when, fmt_span, fmt_time, fmt_short_day, fmt_long_day, fmt_duration):
    bp.add_app_template_global(_helper)
bp.add_app_template_global(duration_text)


# --- the booking page ----------------------------------------------------------------------------
@bp.get("/book/<slug>")
def book(slug: str):
    """The branded booking page: appointment type → month calendar → the day's slots → details."""
    state = PickerState.from_args(request.args)
    block = fragment("picker", "calendar", "step")
    if block == "step" and state.day is not None and state.slot is None:
        # The hot path (every day click): the cached day, rendered without loading the link.
        try:
            day = day_slots(slug, state.day, type_id=state.type_id, tz=state.tz)
        except NotFound:
            abort(404)
        if state.type_id and state.type_id != day.appointment_type_id:
            state = replace(state, type_id=None)
        picker = Picker("public.book", {"slug": slug}, state, tz=day.timezone, month=state.day.replace(day=1))
        return render("public/book.html", block=block, picker=picker, step=Step(kind="slots", day=day),
                           tz=day.timezone)
    page = book_page(slug, state)
    return render("public/book.html", block=block, page=page, picker=page.picker, calendar=page.calendar,
                       step=book_step(page), tz=page.tz, brand=page.brand)


@bp.post("/book/<slug>")
@limiter.limit(lambda: current_app.config["RATELIMIT_BOOKING_CREATE"])
def book_submit(slug: str):
    """Create the booking from the details form; on success, on to the confirmation (manage) page."""
    state = PickerState.from_args(request.args)
    form_zone, form_type = request.form.get("timezone"), request.form.get("appointment_type")
    state = replace(state, tz=valid_zone(form_zone) or state.tz, type_id=parse_uuid(form_type) or state.type_id)
    page = book_page(slug, state)
    if page.atype is None:
        abort(404)
    # The country a number without its code is read in: the visitor's choice, else the gym's.
    gym_region = organization_region(page.org.settings)
    form = BookingDetailsForm(phone_region=gym_region)
    valid = form.validate()  # every field at once, by the booking service's own rules
    start, staff_id = split_slot_value(form.slot.data)
    step = Step(kind="details", form=form)
    asked_type = parse_uuid(form.appointment_type.data)
    if asked_type and asked_type != str(page.atype.id):
        # The type chosen on the form is no longer offered here: never book another one silently.
        valid = False
        form.form_errors.append("Sorry, that kind of session can't be booked here any more. "
                                "Please choose again from what's offered.")
        form.appointment_type.data = str(page.atype.id)
    if start is not None:
        step.chosen = chosen_slot(page.org, start, start + timedelta(minutes=page.atype.duration_minutes),
                                  staff_id, staff_name(page.link, staff_id))
    elif not form.slot.errors:
        form.slot.errors.append("That time isn't valid any more. Please choose a time again.")
    country = form.phone_country.data or gym_region

    if valid and start is not None:
        try:
            result = create_booking(
                link_slug=page.link.slug, start_time=start, attendee_name=form.name.data,
                attendee_email=form.email.data, attendee_phone=form.phone.data or None,
                attendee_phone_country=country, attendee_timezone=page.tz,
                description=(form.notes.data or "").strip() or None, appointment_type_id=str(page.atype.id),
                # Only an individual link lets the visitor pick the person; team links are assigned.
                staff_id=staff_id if page.link.type == "individual" else None,
                idempotency_key=form.idempotency_key.data or None, actor=actor_for(),
            )
        except SlotTaken as exc:
            step.alternatives = alternatives_from(exc, show_staff_on(page.link))
            step.notice = ("Sorry — someone has just booked that time. " +
                           ("We've picked the nearest free time; choose another below if you prefer, then "
                            "confirm again. Your details are still here."
                            if step.alternatives else "Please choose another day. Your details are still here."))
        except InvalidRequest as exc:
            apply_errors(form, exc, only_mapped=True)
        except Conflict as exc:
            if exc.code == "idempotency_conflict":
                # This rendering of the form already made a booking (e.g. resubmitted after going back).
                form.idempotency_key.data = uuid.uuid4().hex
                step.notice = ("This form was already used to make a booking. If you'd like another one, "
                               "check the details and confirm again.")
            else:
                step.notice = exc.message
        except NotFound:
            abort(404)
        else:
            if not result.created:
                step.kind = "already_booked"
                step.notice_kind = "ok"
                step.notice = ("You're already booked for this time — the first request went through. "
                               "The confirmation has the link to change or cancel it.")
                return render("public/book.html", block=fragment("step"), page=page, picker=page.picker,
                                   calendar=page.calendar, step=step, tz=page.tz, brand=page.brand)
            # The manage page shows times in the zone stored on the booking (the visitor's).
            return see_other(url_for("public.manage", token=result.manage_token, created=1))
    if step.alternatives and not any(a.value == form.slot.data for a in step.alternatives):
        form.slot.data = step.alternatives[0].value
    # The country stays as chosen (one that is not a country shows the gym's, under its error). Without
    # JavaScript the hint says what the number will be texted as before it is confirmed again (a number
    # that can't be used was refused by the form's validation, with the other mistakes).
    form.phone_country.data = valid_region(country) or gym_region
    if not form.phone.errors and not form.phone_country.errors:
        hint = phone_hint(form.phone.data, form.phone_country.data)
        step.phone_hint = hint if hint is not None and not hint.problem else None
    return render("public/book.html", block=fragment("step"), status=422, page=page, picker=page.picker,
                       calendar=page.calendar, step=step, tz=page.tz, brand=page.brand)


@bp.post("/book/<slug>/phone")
@limiter.limit(lambda: current_app.config["RATELIMIT_AVAILABILITY"])
def phone_check(slug: str):
    """The hint under the phone field, for htmx as the visitor types or changes the country: the number
    as it will be texted, or — once they leave the field (not while `typing`) — why it can't be.
    A POST, so the number stays out of URLs; it changes nothing."""
    try:
        gym_region = link_info(slug, now=datetime.now(UTC), cache=app_cache()).phone_region
    except NotFound:
        abort(404)
    hint = phone_hint(request.form.get("phone", "")[:100], request.form.get("phone_country") or gym_region)
    if hint is not None and hint.problem and request.form.get("typing") \
            and incomplete(request.form.get("phone", "")[:100], request.form.get("phone_country") or gym_region):
        hint = None  # a number half typed is not a mistake yet (one of full length is: said at once)
    response = render("public/book.html", block="phone_hint", step=Step(kind="details", phone_hint=hint))
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the manage pages ----------------------------------------------------------------------------
@bp.get("/booking/manage/<token>")
def manage(token: str):
    """The booking (what, who, when, where, status) and what can be done with it now. A class spot's
    token opens the spot's page (one link for every kind of booking: emails and the API give it)."""
    if (spot := spot_for_token(token)) is not None:
        return manage_spot(token, spot)
    page = manage_page(token)
    return private(render("public/manage.html", block=fragment("actions"), page=page, tz=page.tz, brand=page.brand))


@bp.get("/m/<token>")
def short_manage(token: str):
    """The manage page's short address, as SMS carry it (urls.short_manage_url): the same lookup and
    the same 404 for a wrong token as the page, then on to the page. 302, not 301: a browser must
    not remember where a token led (the booking may be gone next time)."""
    if spot_for_token(token) is None:
        booking_or_404(token)
    return private(redirect(url_for("public.manage", token=token), code=302))


@bp.get("/booking/manage/<token>/booking.ics")
def booking_ics(token: str):
    """The booking (or a class spot) as a calendar file."""
    if (spot := spot_for_token(token)) is not None:
        return spot_ics(token, spot)
    booking = booking_or_404(token)
    response = make_response(build_booking_ics(booking, token))
    response.mimetype = "text/calendar"
    response.headers["Content-Disposition"] = 'attachment; filename="booking.ics"'
    return private(response)


@bp.get("/booking/manage/<token>/reschedule")
def reschedule(token: str):
    """Choose a new time with the same picker as the booking page, then confirm it."""
    page = manage_page(token)
    if not page.can_reschedule:
        return private(render("public/manage.html", block=fragment("actions"), page=page, tz=page.tz,
                                   brand=page.brand))
    ctx = reschedule_context(page)
    return private(render("public/reschedule.html", block=fragment("actions", "picker", "calendar", "step"),
                               page=page, tz=page.tz, brand=page.brand, **ctx))


@bp.post("/booking/manage/<token>/reschedule")
@limiter.limit(lambda: current_app.config["RATELIMIT_BOOKING_MANAGE"])
def reschedule_submit(token: str):
    page = manage_page(token)
    form = RescheduleForm()
    start, staff_id = split_slot_value(form.slot.data)
    if form.validate() and start is not None:
        link_type = page.link.type if page.link else None
        try:
            booking = reschedule_booking(
                page.booking.id, start_time=start, actor=actor_for(page.booking.id),
                # A team link may move the booking to whoever is free then; a collective one keeps its group.
                staff_id=staff_id if link_type in ("individual", "round_robin") else None,
            )
        except SlotTaken as exc:
            if not page.can_reschedule:
                return private(see_other(page.manage_path))
            ctx = reschedule_context(page)
            step = ctx["step"]
            step.kind, step.form = "confirm", form
            step.chosen = chosen_slot(page.org, start, start + (page.booking.end_at - page.booking.start_at),
                                      staff_id, None)
            step.alternatives = alternatives_from(exc, show_staff_on(page.link) if page.link else False)
            step.notice = "Sorry — that time has just been taken. " + (
                "We've picked the nearest free time; choose another below if you prefer, then confirm again."
                if step.alternatives else "Please choose another day.")
            if step.alternatives and not any(a.value == form.slot.data for a in step.alternatives):
                form.slot.data = step.alternatives[0].value
            return private(render("public/reschedule.html", block=fragment("step"), status=422, page=page,
                                       tz=page.tz, brand=page.brand, **ctx))
        except (Conflict, InvalidRequest) as exc:
            flash(exc.message, "error")
            return private(see_other(page.manage_path))
        flash(f"Done — your booking is now {fmt_when(booking.start_at, page.tz)}.", "success")
        return private(see_other(page.manage_path))
    flash("Please choose a new time.", "error")
    return private(see_other(url_for("public.reschedule", token=token, tz=page.state.tz)))


@bp.get("/booking/manage/<token>/cancel")
def cancel(token: str):
    """Ask before cancelling (with an optional reason); a class spot's page asks before giving the spot up
    or leaving the waitlist."""
    if (spot := spot_for_token(token)) is not None:
        return confirm_cancel_spot(token, spot)
    page = manage_page(token)
    template = "public/cancel.html" if page.status == "open" else "public/manage.html"
    return private(render(template, block=fragment("actions"), page=page, tz=page.tz, brand=page.brand,
                               form=CancelForm(formdata=None)))


@bp.post("/booking/manage/<token>/cancel")
@limiter.limit(lambda: current_app.config["RATELIMIT_BOOKING_MANAGE"])
def cancel_submit(token: str):
    if (spot := spot_for_token(token)) is not None:
        return cancel_spot_submit(token, spot)
    page = manage_page(token)
    form = CancelForm()
    if not form.validate():
        return private(render("public/cancel.html", block=fragment("actions"), status=422, page=page, tz=page.tz,
                                   brand=page.brand, form=form))
    try:
        cancel_booking(page.booking.id, reason=form.reason.data or None, actor=actor_for(page.booking.id))
    except (Conflict, InvalidRequest) as exc:
        flash(exc.message, "error")
    else:
        flash("Your booking is cancelled. We hope to see you another time.", "success")
    return private(see_other(page.manage_path))

