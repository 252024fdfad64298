"""Public class pages: an organization's weekly timetable, booking a spot (or joining the waitlist),
and a spot's manage page (seen through the same /booking/manage/<token> URL as appointments).

The timetable is one URL (/classes/<org slug>) whose state lives in the query string — the week
(any day of it; weeks start on Monday in the organization's zone), the class and the instructor —
so every view of it is a real link that works without JavaScript; htmx swaps the week in place
(HX-Target class-week). Times are the organization's wall clock: a 07:00 class shows 07:00 on both
sides of a change of clocks. Capacity, the waitlist and its promotions are the classes service's
(book_class, cancel_spot); these views only ask it and say what it answered.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone

from flask import abort, current_app, flash, make_response, request, url_for
from jinja2_fragments.flask import render_block
from markupsafe import Markup
from sqlalchemy import func, select

from app.extensions import db, limiter
from app.htmx import apply_errors, private, render, see_other, wanted_block
from app.models import BookingLink, ClassBooking, ClassSession, Organization, User
from app.public.blueprint import bp
from app.public.forms import CancelForm, ClassSpotForm
from app.public.pages import Brand, PhoneHint, brand_for, phone_hint
from app.public.zones import local
from app.security import allow_framing_by
from app.services.bookings import Actor
from app.services.calendar_files import class_calendar
from app.services.classes import (
    HORIZON_WEEKS,
    book_class,
    cancel_spot,
    class_types,
    get_session,
    get_spot_by_token,
    local_week,
    promotion_deadline,
    sessions_between,
    waitlist_open,
    waitlist_position,
    week_stamp,
)
from app.services.dates import supported
from app.services.errors import Conflict, InvalidRequest, NotFound
from app.services.phones import organization_region, valid_region
from app.services.scheduling import app_cache
from app.services.urls import manage_url
from app.timeformat import duration_text

# HX-Target (a DOM id) → the template block that fills it.
TIMETABLE_FRAGMENTS = {"class-week": "week"}
SESSION_FRAGMENTS = {"class-booking": "booking"}
MANAGE_FRAGMENTS = {"booking-actions": "actions"}
# Longer than any real value of a query parameter: anything longer is ignored, never parsed.
ARG_MAX = 64


# --- the organization and its look -----------------------------------------------------------------

def org_or_404(slug: str) -> Organization:
    org = db.session.scalars(select(Organization).where(Organization.slug == (slug or "")[:80])).first()
    if org is None:
        abort(404, description="There's no class timetable at this address. Check the link the gym gave you.")
    allow_framing_by((org.settings or {}).get("frame_origins"))  # the gym's own website may embed it
    return org


def class_brand(org: Organization) -> Brand:
    """The gym's look on its class pages: the colours and logo of its (first) public booking page, so
    classes and appointments look like one place; the name in the header leads to the timetable."""
    link = db.session.scalars(select(BookingLink).where(
        BookingLink.organization_id == org.id, BookingLink.is_public.is_(True), BookingLink.is_active.is_(True))
        .order_by(BookingLink.name).limit(1)).first()
    return replace(brand_for(org, link), home_url=url_for("public.classes", org_slug=org.slug))


def parse_id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value and len(value) <= ARG_MAX else None
    except (ValueError, TypeError, AttributeError):
        return None


def parse_day(value: str | None) -> date | None:
    try:
        day = date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None
    return day if supported(day) else None


def today_in(org: Organization, now: datetime) -> date:
    return local(now, org.timezone).date()


# --- what a session shows ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Availability:
    state: str   # "open" | "waitlist" (full, the waitlist open) | "full" | "cancelled" | "started"
    label: str   # "3 spots left", "Full — join waitlist", "Cancelled", "Started"

    @property
    def bookable(self) -> bool:
        return self.state in ("open", "waitlist")


def availability(session: ClassSession, org: Organization, now: datetime) -> Availability:
    """What the session offers a visitor now, by the service's rules (its counts, waitlist_open)."""
    if session.is_cancelled:
        return Availability("cancelled", "Cancelled")
    if session.start_at <= now:
        return Availability("started", "Started")
    left = session.spots_left
    if left > 0:
        return Availability("open", f"{left} spot{'s' if left != 1 else ''} left")
    if waitlist_open(session, org, now):
        return Availability("waitlist", "Full — join waitlist")
    return Availability("full", "Full")


@dataclass(frozen=True)
class SessionCard:
    """One session as the timetable and the booking page show it."""

    session: ClassSession
    start_label: str      # 07:00, on the gym's clock
    end_label: str
    name: str
    color: str
    instructor: str
    duration_minutes: int
    place: str | None
    availability: Availability
    waitlist_length: int
    url: str

    @property
    def id(self) -> str:
        return str(self.session.id)


def session_card(org: Organization, session: ClassSession, waitlist_length: int, now: datetime) -> SessionCard:
    ctype = session.class_type
    return SessionCard(
        session=session, start_label=f"{local(session.start_at, org.timezone):%H:%M}",
        end_label=f"{local(session.end_at, org.timezone):%H:%M}", name=ctype.name, color=ctype.color,
        instructor=session.instructor.name if session.instructor else "",
        duration_minutes=int((session.end_at - session.start_at).total_seconds() // 60),
        place=session.location or ctype.location, availability=availability(session, org, now),
        waitlist_length=waitlist_length,
        url=url_for("public.class_session", org_slug=org.slug, session_id=session.id))


# --- the timetable -----------------------------------------------------------------------------------

@dataclass
class TimetableDay:
    day: date
    today: bool
    sessions: list[SessionCard] = field(default_factory=list)


@dataclass
class Timetable:
    org: Organization
    brand: Brand
    monday: date
    days: list[TimetableDay]
    types: list                      # the class types offered (the filter's choices)
    instructors: list[tuple[str, str]]
    class_id: str | None
    instructor_id: str | None
    prev_week: date | None
    next_week: date | None
    this_week: date

    @property
    def tz(self) -> str:
        return self.org.timezone

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def title(self) -> str:
        a, b = self.monday, self.sunday
        start = f"{a.day} {a:%B}" if a.month != b.month else f"{a.day}"
        start += f" {a:%Y}" if a.year != b.year else ""
        return f"{start} – {b.day} {b:%B %Y}"

    @property
    def class_name(self) -> str | None:
        return next((t.name for t in self.types if str(t.id) == self.class_id), None)

    @property
    def empty(self) -> bool:
        return not any(d.sessions for d in self.days)

    def url(self, **changes) -> str:
        params = {"week": self.monday.isoformat() if self.monday != self.this_week else None,
                  "class": self.class_id, "instructor": self.instructor_id}
        for key, value in changes.items():
            params[key] = value.isoformat() if isinstance(value, date) else value
        return url_for("public.classes", org_slug=self.org.slug, **{k: v for k, v in params.items() if v})


def instructor_choices(org: Organization, since: datetime) -> list[tuple[str, str]]:
    """The people teaching the organization's classes from `since` on: (id, name), by name."""
    teaching = select(ClassSession.instructor_id).where(
        ClassSession.organization_id == org.id, ClassSession.start_at >= since).distinct()
    users = db.session.scalars(select(User).where(User.organization_id == org.id, User.id.in_(teaching))
                               .order_by(User.name))
    return [(str(u.id), u.name) for u in users]


def build_timetable(org: Organization, args, now: datetime) -> Timetable:
    """The week the query string asks for (this week when absent, out of range or malformed; never
    before this week nor past the timetable's horizon), filtered by class and instructor (ids not of
    this organization are dropped, never an error)."""
    today = today_in(org, now)
    this_week = today - timedelta(days=today.weekday())
    last_week = this_week + timedelta(weeks=HORIZON_WEEKS)
    asked = parse_day((args.get("week") or "")[:ARG_MAX])
    monday = this_week if asked is None else asked - timedelta(days=asked.weekday())
    monday = min(max(monday, this_week), last_week)
    types = class_types(org.id, active_only=True)
    type_ids = {str(t.id) for t in types}
    class_id = str(parse_id(args.get("class")) or "") or None
    class_id = class_id if class_id in type_ids else None
    start, end = local_week(org, monday)
    instructors = instructor_choices(org, local_week(org, this_week)[0])
    instructor_id = str(parse_id(args.get("instructor")) or "") or None
    instructor_id = instructor_id if instructor_id in {i for i, _ in instructors} else None
    rows = sessions_between(org.id, start, end, class_type_id=class_id, instructor_id=instructor_id)
    days = [TimetableDay(day=monday + timedelta(days=n), today=monday + timedelta(days=n) == today)
            for n in range(7)]
    for row in rows:
        index = (local(row.session.start_at, org.timezone).date() - monday).days
        if 0 <= index < 7:
            days[index].sessions.append(session_card(org, row.session, row.waitlist_length, now))
    return Timetable(org=org, brand=class_brand(org), monday=monday, days=days, types=types, instructors=instructors,
                     class_id=class_id, instructor_id=instructor_id, this_week=this_week,
                     prev_week=monday - timedelta(weeks=1) if monday > this_week else None,
                     next_week=monday + timedelta(weeks=1) if monday < last_week else None)


# The week as rendered is reused while nothing on it can have changed: its sessions (their count and
# latest update: a spot taken or given up, a session moved or cancelled, all touch the session row),
# the organization's schedule version (class types, staff names) — and never past the next moment a
# session on it starts or closes its waitlist, nor past WEEK_REUSE (the instructors in the filter).
WEEK_REUSE = timedelta(seconds=30)


def week_html(org: Organization, args, now: datetime) -> str:
    """The timetable's `week` block for these query arguments: built and rendered on a miss, reused
    from the app's cache otherwise (one indexed query decides)."""
    today = today_in(org, now)
    this_week = today - timedelta(days=today.weekday())
    asked = parse_day((args.get("week") or "")[:ARG_MAX])
    monday = this_week if asked is None else asked - timedelta(days=asked.weekday())
    monday = min(max(monday, this_week), this_week + timedelta(weeks=HORIZON_WEEKS))
    key = ("class_week", org.id, this_week, monday, parse_id(args.get("class")), parse_id(args.get("instructor")))
    version = (org.schedule_version, *week_stamp(org.id, *local_week(org, monday)))
    cache = app_cache()
    html = cache.get(key, version, now) if cache is not None else None
    if html is None:
        timetable = build_timetable(org, args, now)
        html = render_block("public/classes.html", "week", timetable=timetable)
        if cache is not None:
            changes = [moment for day in timetable.days for card in day.sessions
                       for moment in (card.session.start_at, promotion_deadline(card.session, org)) if moment > now]
            cache.put(key, version, min([now + WEEK_REUSE, *changes]), html)
    return html


@bp.get("/classes/<org_slug>")
def classes(org_slug: str):
    """The organization's class timetable, a week at a time (the week alone for htmx, HX-Target class-week)."""
    org = org_or_404(org_slug)
    week = Markup(week_html(org, request.args, datetime.now(timezone.utc)))
    if wanted_block(TIMETABLE_FRAGMENTS):
        return render("public/classes.html", block="week", week=week)
    return render("public/classes.html", org=org, brand=class_brand(org), week=week)


# --- booking a spot ----------------------------------------------------------------------------------

@dataclass
class SessionPage:
    org: Organization
    brand: Brand
    card: SessionCard
    form: ClassSpotForm | None
    notice: str | None = None
    notice_kind: str = "warn"
    phone_hint: PhoneHint | None = None
    waitlist_closes_at: datetime | None = None

    @property
    def session(self) -> ClassSession:
        return self.card.session

    @property
    def tz(self) -> str:
        return self.org.timezone

    @property
    def joining_waitlist(self) -> bool:
        return self.card.availability.state == "waitlist"

    @property
    def timetable_url(self) -> str:
        monday = local(self.session.start_at, self.tz).date()
        monday -= timedelta(days=monday.weekday())
        return url_for("public.classes", org_slug=self.org.slug, week=monday.isoformat())

    @property
    def action(self) -> str:
        return url_for("public.class_book", org_slug=self.org.slug, session_id=self.session.id)


def session_or_404(org: Organization, session_id: str) -> ClassSession:
    try:
        return get_session(org.id, session_id[:ARG_MAX])
    except (NotFound, InvalidRequest):
        abort(404, description="We couldn't find that class. It may have been taken off the timetable — "
                               "please choose again from the timetable.")


def session_page(org: Organization, session: ClassSession, form: ClassSpotForm | None, now: datetime) -> SessionPage:
    waiting = db.session.scalar(select(func.count()).select_from(ClassBooking).where(
        ClassBooking.session_id == session.id, ClassBooking.status == "waitlisted")) or 0
    card = session_card(org, session, waiting, now)
    if form is None and card.availability.bookable:
        form = ClassSpotForm(formdata=None, data={"phone_country": organization_region(org.settings)})
    if form is not None:
        # The form offers the waitlist exactly when the class is full (and it is still open).
        form.join_waitlist.data = "1" if card.availability.state == "waitlist" else ""
    return SessionPage(org=org, brand=class_brand(org), card=card, form=form if card.availability.bookable else None,
                       waitlist_closes_at=promotion_deadline(session, org))


def actor() -> Actor:
    return Actor(type="attendee", ip=request.remote_addr,
                 user_agent=(request.headers.get("User-Agent") or "")[:300] or None)


@bp.get("/classes/<org_slug>/session/<session_id>")
def class_session(org_slug: str, session_id: str):
    """One session: what, when, with whom, how many spots are left, and the form to take one (or to
    join the waitlist when the class is full)."""
    org = org_or_404(org_slug)
    session = session_or_404(org, session_id)
    page = session_page(org, session, None, datetime.now(timezone.utc))
    return render("public/class_session.html", SESSION_FRAGMENTS, page=page, brand=page.brand)


@bp.post("/classes/<org_slug>/session/<session_id>")
@limiter.limit(lambda: current_app.config["RATELIMIT_BOOKING_CREATE"])
def class_book(org_slug: str, session_id: str):
    """Take a spot (or a place on the waitlist, when the form said the class is full); on success, on
    to the confirmation (the spot's manage page). Every mistake in the details at once (422); a class
    that filled, was cancelled or started meanwhile is said on the form (409), details kept."""
    org = org_or_404(org_slug)
    session = session_or_404(org, session_id)
    gym_region = organization_region(org.settings)
    form = ClassSpotForm(phone_region=gym_region)
    valid = form.validate()
    status = 422
    country = valid_region(form.phone_country.data) or gym_region
    notice = None
    if valid:
        try:
            result = book_class(session_id=session.id, org_id=org.id, attendee_name=form.name.data,
                                attendee_email=form.email.data, attendee_phone=form.phone.data or None,
                                attendee_phone_country=country, join_waitlist=form.wants_waitlist, actor=actor())
        except InvalidRequest as exc:
            apply_errors(form, exc, only_mapped=True)
        except Conflict as exc:
            status = 409
            notice = conflict_notice(exc, form)
        except NotFound:
            abort(404)
        else:
            return see_other(url_for("public.manage", token=result.manage_token, created=1))
    page = session_page(org, session, form, datetime.now(timezone.utc))
    page.notice = notice
    form.phone_country.data = country
    if not form.phone.errors and not form.phone_country.errors:
        hint = phone_hint(form.phone.data, country)
        page.phone_hint = hint if hint is not None and not hint.problem else None
    return render("public/class_session.html", SESSION_FRAGMENTS, status=status, page=page, brand=page.brand)


def conflict_notice(exc: Conflict, form: ClassSpotForm) -> str:
    """The service's refusal, said to the visitor (their details stay on the form)."""
    if exc.code == "class_full" and not form.wants_waitlist:
        return ("Sorry — the last spot has just been taken. The class is full now, but you can join its "
                "waitlist below: your details are still here.")
    if exc.code == "class_full":
        return "Sorry — this class is full and its waitlist has closed."
    if exc.code == "already_booked":
        return f"{exc.message} Your confirmation email has the link to manage your spot."
    return exc.message


# --- a spot's manage page (the /booking/manage/<token> routes ask here first) ------------------------------

@dataclass
class SpotPage:
    """A class spot seen through its manage token, and what may be done with it now."""

    token: str
    spot: ClassBooking
    session: ClassSession
    org: Organization
    brand: Brand
    status: str             # "booked" | "waiting" | "cancelled" | "session_cancelled" | "over"
    position: int | None    # on the waitlist (1 is next)
    late_from: datetime     # a spot given up from here on is a late cancellation
    now: datetime
    created: bool = False

    @property
    def tz(self) -> str:
        return self.org.timezone

    @property
    def what(self) -> str:
        return self.session.class_type.name

    @property
    def where(self) -> str | None:
        return self.session.location or self.session.class_type.location or self.org.postal_address

    @property
    def manage_url(self) -> str:
        return manage_url(self.token)

    @property
    def manage_path(self) -> str:
        return url_for("public.manage", token=self.token)

    @property
    def can_cancel(self) -> bool:
        return self.status in ("booked", "waiting")

    @property
    def late(self) -> bool:
        """Giving the spot up now would be recorded as a late cancellation (the service's rule)."""
        return self.status == "booked" and self.now >= self.late_from

    @property
    def timetable_url(self) -> str:
        return url_for("public.classes", org_slug=self.org.slug)


def spot_for_token(token: str) -> ClassBooking | None:
    """The class spot this manage token opens, or None (then it may be an appointment's)."""
    try:
        return get_spot_by_token(token)
    except NotFound:
        return None


def spot_page(token: str, spot: ClassBooking) -> SpotPage:
    session = spot.session
    org = db.session.get(Organization, spot.organization_id)
    allow_framing_by((org.settings or {}).get("frame_origins"))
    now = datetime.now(timezone.utc)
    if spot.status == "cancelled":
        status = "session_cancelled" if spot.cancel_kind == "session_cancelled" else "cancelled"
    elif session.is_cancelled:
        status = "session_cancelled"
    elif spot.status in ("attended", "no_show") or session.start_at <= now:
        status = "over"
    else:
        status = "waiting" if spot.status == "waitlisted" else "booked"
    return SpotPage(token=token, spot=spot, session=session, org=org, brand=class_brand(org), status=status,
                    position=waitlist_position(spot) if status == "waiting" else None,
                    late_from=session.start_at - timedelta(minutes=org.class_late_cancel_minutes), now=now,
                    created=request.args.get("created") == "1")


def manage_spot(token: str, spot: ClassBooking):
    page = spot_page(token, spot)
    return private(render("public/class_manage.html", MANAGE_FRAGMENTS, page=page, brand=page.brand))


def spot_ics(token: str, spot: ClassBooking):
    """The spot as a calendar file (the same event, UID and sequence its emails carry; cancelled once
    the spot or the class is)."""
    org = db.session.get(Organization, spot.organization_id)
    calendar = class_calendar(spot, spot.session, manage_link=manage_url(token), address=org.postal_address)
    response = make_response(calendar.to_ical())
    response.mimetype = "text/calendar"
    response.headers["Content-Disposition"] = 'attachment; filename="class.ics"'
    return private(response)


def confirm_cancel_spot(token: str, spot: ClassBooking):
    page = spot_page(token, spot)
    template = "public/class_cancel.html" if page.can_cancel else "public/class_manage.html"
    return private(render(template, MANAGE_FRAGMENTS, page=page, brand=page.brand, form=CancelForm(formdata=None)))


def cancel_spot_submit(token: str, spot: ClassBooking):
    page = spot_page(token, spot)
    form = CancelForm()
    if not form.validate():
        return private(render("public/class_cancel.html", MANAGE_FRAGMENTS, status=422, page=page, brand=page.brand,
                              form=form))
    try:
        cancel_spot(spot.id, reason=form.reason.data or None,
                    actor=Actor(type="attendee", id=str(spot.id), ip=request.remote_addr,
                                user_agent=(request.headers.get("User-Agent") or "")[:300] or None))
    except (Conflict, InvalidRequest) as exc:
        flash(exc.message, "error")
    except NotFound:
        abort(404)
    else:
        if page.status == "waiting":
            flash("You've left the waitlist. We hope to see you at another class.", "success")
        elif page.late:
            flash(f"Your spot is cancelled. As it was within {duration_text(page.org.class_late_cancel_minutes)} "
                  "of the start, it's recorded as a late cancellation.", "success")
        else:
            flash("Your spot is cancelled and has gone to someone else. We hope to see you another time.", "success")
    return private(see_other(page.manage_path))
