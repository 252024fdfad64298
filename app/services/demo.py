"""The Atlas Fitness demo: a small gym's real week, created idempotently for demos and first runs.

Four coaches on the hours a gym keeps (early mornings, evenings, split shifts, a Saturday), the
services a gym sells (a free intro consultation, personal training, sports massage, and an
assessment taken by a coach and the physio together), public booking pages for each, and a
fortnight of bookings around today: finished (and one no-show) behind it, confirmed ones ahead.

And the class timetable a gym lives on: six classes (Spin, HIIT, Yoga, Reformer Pilates, Boxfit,
Mobility) on weekly entries at early-morning, lunchtime, evening and weekend times, taught by the
same coaches in the gaps of their one-to-one diaries. The four weeks behind today ran (attendance
marked, a few no-shows, late cancellations, people promoted off waitlists or left waiting); the week
ahead is booked, some sessions nearly full and one full with three people waiting. The classes are
made first, so the one-to-one diary steers round them; no message is written for any of it.
"""
from __future__ import annotations

import hashlib
import random
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AppointmentType,
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    BookingAudit,
    BookingLink,
    ClassBooking,
    ClassSeries,
    ClassSession,
    ClassType,
    Holiday,
    LinkBranding,
    Organization,
    User,
)
from app.services import classes, clients
from app.services.bookings import Actor
from app.services.classes import audit as class_audit
from app.services.scheduling.wall_time import from_us, wall_to_us

ORG_SLUG = "atlas-fitness"
ORG_TZ = "Europe/London"
OWNER_EMAIL = "owner@atlas-fitness.example"
# Ofcom's numbers for drama (020 7946 0xxx) and a made-up street: nobody real is called or visited.
ORG_PHONE = "+442079460321"
ORG_ADDRESS = "Unit 4, Riverside Works\n21 Canal Street\nLondon E8 4QZ"
ORG_EMAIL = "hello@atlas-fitness.example"

MON_FRI, MON_THU, MWF, TUE_THU = (1, 2, 3, 4, 5), (1, 2, 3, 4), (1, 3, 5), (2, 4)
SAT, SUN, FRI = (6,), (0,), (5,)
# (key, name, email, bio, weekly hours as (days — 0 is Sunday, as in the spec — start, end)).
TRAINERS = [
    ("alex", "Alex Morgan", "alex@atlas-fitness.example",
     "Strength & conditioning coach, 10 years on the gym floor. Early mornings and evenings.",
     [(MON_FRI, "06:00", "10:00"), (MON_FRI, "16:00", "20:00"), (SAT, "08:00", "12:00")]),
    ("sam", "Sam Patel", "sam@atlas-fitness.example",
     "Sports massage therapist and physio: mobility, rehab and getting you back after injury.",
     [(MWF, "09:00", "13:00"), (MWF, "14:00", "17:30"), (TUE_THU, "12:00", "20:00")]),
    ("jordan", "Jordan Lee", "jordan@atlas-fitness.example",
     "Weight-loss and nutrition coach. Lunchtimes and after work.",
     [(MON_THU, "12:00", "20:00"), (FRI, "07:00", "15:00"), (SUN, "09:00", "13:00")]),
    ("maya", "Maya Okafor", "maya@atlas-fitness.example",
     "HIIT and functional fitness coach for early risers.",
     [(MON_FRI, "06:00", "13:00"), (SAT, "08:00", "14:00")]),
]
DEMO_ATTENDEES = [
    ("Jane Smith", "jane.smith@example.com", "+447700900123"),
    ("Tom Hughes", "tom.hughes@example.com", None),
    ("Priya Shah", "priya.shah@example.com", "+447700900456"),
    ("Chris Evans", "chris.evans@example.com", None),
    ("Mia Wong", "mia.wong@example.com", "+447700900789"),
    ("Daniel O'Brien", "dan.obrien@example.com", "+447700900321"),
    ("Aisha Khan", "aisha.khan@example.com", None),
    ("Ben Carter", "ben.carter@example.com", "+447700900654"),
    ("Sofia Rossi", "sofia.rossi@example.com", None),
    ("Liam Murphy", "liam.murphy@example.com", "+447700900987"),
    ("Grace Taylor", "grace.taylor@example.com", None),
    ("Noah Williams", "noah.williams@example.com", "+447700900111"),
    ("Emily Clarke", "emily.clarke@example.com", None),
    ("Oliver Brown", "oliver.brown@example.com", "+447700900222"),
]
# A typical week's diary, Monday (0) to Friday (4): (trainer, local start, service). Every entry,
# with its buffers, lies inside the trainer's hours and clear of their other bookings; it leaves
# each trainer free hours every day. The assessment is the team service: Sam and Maya together.
WEEK_PLAN = {
    0: [("alex", "06:00", "pt"), ("alex", "07:30", "pt"), ("alex", "17:00", "pt"), ("alex", "18:30", "pt"),
        ("sam", "09:00", "massage"), ("sam", "10:30", "massage"), ("sam", "14:00", "massage"),
        ("sam", "16:00", "consult"),
        ("jordan", "12:30", "pt"), ("jordan", "17:00", "pt"), ("jordan", "18:30", "consult"),
        ("maya", "06:00", "pt"), ("maya", "07:30", "pt"), ("maya", "10:00", "consult")],
    1: [("alex", "06:00", "pt"), ("alex", "17:00", "pt"), ("alex", "18:30", "consult"),
        ("sam", "12:00", "massage"), ("sam", "13:00", "massage"), ("sam", "17:00", "massage"),
        ("sam", "18:15", "massage"),
        ("jordan", "13:00", "consult"), ("jordan", "18:00", "pt"),
        ("maya", "06:00", "pt"), ("maya", "10:00", "pt"), ("maya", "12:30", "consult")],
    2: [("alex", "07:00", "pt"), ("alex", "17:30", "pt"), ("alex", "19:00", "consult"),
        ("assessment", "09:00", "assessment"), ("sam", "11:45", "massage"), ("sam", "15:00", "massage"),
        ("jordan", "12:00", "pt"), ("jordan", "17:30", "pt"), ("jordan", "19:00", "consult"),
        ("maya", "06:00", "pt"), ("maya", "11:00", "pt")],
    3: [("alex", "06:00", "pt"), ("alex", "07:30", "pt"), ("alex", "16:00", "pt"), ("alex", "17:30", "pt"),
        ("alex", "19:00", "consult"),
        ("sam", "12:30", "massage"), ("sam", "16:00", "consult"), ("sam", "18:00", "massage"),
        ("jordan", "14:00", "pt"), ("jordan", "18:30", "consult"),
        ("maya", "07:00", "pt"), ("maya", "10:30", "pt")],
    4: [("alex", "06:30", "pt"), ("alex", "16:30", "pt"),
        ("sam", "10:00", "massage"), ("sam", "14:30", "massage"),
        ("jordan", "08:00", "pt"), ("jordan", "12:00", "consult"),
        ("maya", "06:00", "pt"), ("maya", "07:30", "pt"), ("maya", "12:00", "consult")],
}
ASSESSMENT_STAFF = ("sam", "maya")

# The classes: (key, name, minutes, places, colour, price in pence, room, description).
CLASS_TYPES = [
    ("spin", "Spin", 45, 20, "#e11d48", 1000, "Atlas Fitness, spin studio",
     "Forty-five minutes on the bike to a loud playlist: intervals, climbs and a sprint finish."),
    ("hiit", "HIIT", 30, 16, "#f59e0b", 800, "Atlas Fitness, studio 1",
     "Thirty minutes of high-intensity intervals: short, hard and over before you know it."),
    ("yoga", "Yoga", 60, 24, "#0f766e", 1000, "Atlas Fitness, studio 2",
     "A flowing hour of vinyasa yoga for strength, balance and a calmer head. Mats provided."),
    ("reformer", "Reformer Pilates", 50, 8, "#7c3aed", 1800, "Atlas Fitness, reformer room",
     "Pilates on the reformer machines, eight at a time, so the instructor can correct everyone."),
    ("boxfit", "Boxfit", 45, 14, "#1f4fd1", 1000, "Atlas Fitness, studio 1",
     "Pads, gloves and footwork drills with a conditioning finisher. Gloves to borrow at reception."),
    ("mobility", "Mobility", 30, 12, "#14b8a6", 600, "Atlas Fitness, studio 2",
     "Half an hour of stretching and joint work that keeps you training and your back happy."),
]
# The weekly timetable: (class, instructor, days — 0 is Sunday, as for hours — local start). Every
# session lies in a gap of its instructor's WEEK_PLAN diary (with its buffers), and leaves each coach
# one-to-one hours every weekday.
TIMETABLE = [
    ("spin", "alex", (3,), "06:15"), ("spin", "alex", SAT, "08:30"), ("spin", "jordan", (1, 4), "19:15"),
    ("hiit", "maya", (1, 3), "12:15"), ("hiit", "maya", (4,), "06:15"),
    ("yoga", "maya", SAT, "09:30"), ("yoga", "sam", (4,), "19:00"), ("yoga", "jordan", SUN, "10:00"),
    ("reformer", "sam", (1, 5), "12:00"),
    ("boxfit", "alex", (2,), "19:00"), ("boxfit", "alex", FRI, "18:00"), ("boxfit", "alex", SAT, "10:00"),
    ("mobility", "jordan", (2, 4), "12:15"),
]
# How full each class usually runs (Reformer's eight places always go), as a share of its places.
CLASS_DEMAND = {"spin": 0.8, "hiit": 0.75, "yoga": 0.7, "reformer": 1.0, "boxfit": 0.8, "mobility": 0.55}
CLASS_HISTORY_DAYS = 27  # the dashboard's class report looks back four weeks, today included
CLASS_BOOKED_AHEAD_DAYS = 7
FULL_WAITLIST = 3  # people waiting for the one full class of the week ahead
# Members who come to classes: made-up people at example.com; phones in Ofcom's drama range.
MEMBER_FIRST = ["Hannah", "Josh", "Zara", "Ryan", "Chloe", "Adam", "Leah", "Marcus", "Ella", "Sami", "Ruby", "Kieran",
                "Freya", "Omar", "Isla", "Jack", "Nadia", "Harry", "Lucy", "Ethan", "Amara", "Callum", "Poppy",
                "Rohan", "Jess", "Theo", "Alice", "Kwame", "Megan", "Luca"]
MEMBER_LAST = ["Bennett", "Ahmed", "Fletcher", "Gallagher", "Nguyen", "Hart", "Kowalski", "Mensah", "Doyle",
               "Reid", "Chowdhury", "Walsh", "Palmer", "Osei", "Lindqvist", "Baxter", "Moreno", "Sinclair"]


@dataclass
class SeedResult:
    org: Organization
    owner_email: str
    link_slugs: list[str] = field(default_factory=list)
    created: int = 0


class _Seeder:
    def __init__(self) -> None:
        self.created = 0

    def get_or_create(self, model, where: dict, **values):
        row = db.session.scalars(select(model).filter_by(**where)).first()
        if row is None:
            row = model(**where, **values)
            db.session.add(row)
            db.session.flush()
            self.created += 1
        return row

    def link(self, slug: str, staff: list, types: list, branding: dict, **values) -> BookingLink:
        link = self.get_or_create(BookingLink, {"slug": slug}, **values)
        if not link.staff:
            link.staff = list(staff)
            link.appointment_types = list(types)
        self.get_or_create(LinkBranding, {"booking_link_id": link.id}, organization_id=link.organization_id,
                           **branding)
        return link


def seed_demo(password: str = "atlas-demo", today: date | None = None, now: datetime | None = None) -> SeedResult:
    """Create (or find) the Atlas Fitness organization, staff, hours, services, pages and bookings.

    Every row is looked up by its natural key first, so running this twice changes nothing.
    Dates (the day off, the bookings) are chosen around `today` in the gym's time zone; bookings that
    ended before `now` (midday of `today` when a different day is given) are finished.
    """
    tz = ZoneInfo(ORG_TZ)
    now = (now or datetime.now(timezone.utc)).astimezone(tz)
    if today is not None and today != now.date():
        now = datetime.combine(today, time(12), tzinfo=tz)
    today = now.date()
    s = _Seeder()

    org = s.get_or_create(Organization, {"slug": ORG_SLUG}, name="Atlas Fitness", timezone=ORG_TZ,
                          currency="GBP", contact_email=ORG_EMAIL, phone=ORG_PHONE, postal_address=ORG_ADDRESS,
                          cancellation_cutoff_minutes=12 * 60, reminder_offsets_minutes=[24 * 60, 120],
                          settings={})

    owner = db.session.scalars(select(User).filter_by(email=OWNER_EMAIL)).first()
    if owner is None:
        owner = User(organization_id=org.id, email=OWNER_EMAIL, name="Olivia Owner", role="owner", timezone=ORG_TZ)
        owner.set_password(password)
        db.session.add(owner)
        s.created += 1

    trainers: dict[str, User] = {}
    for key, name, email, bio, hours in TRAINERS:
        trainer = db.session.scalars(select(User).filter_by(email=email)).first()
        if trainer is None:
            trainer = User(organization_id=org.id, email=email, name=name, role="staff", timezone=ORG_TZ, bio=bio)
            trainer.set_password(password)
            db.session.add(trainer)
            db.session.flush()
            s.created += 1
            for days, start, end in hours:
                for day in days:
                    db.session.add(AvailabilityRule(organization_id=org.id, user_id=trainer.id, day_of_week=day,
                                                    start_time=time.fromisoformat(start),
                                                    end_time=time.fromisoformat(end)))
                    s.created += 1
        trainers[key] = trainer
    alex, sam, jordan, maya = (trainers[k] for k in ("alex", "sam", "jordan", "maya"))

    # Slots every 30 minutes (15 for massage, which fits around the therapist's other clients); the
    # buffer after a session is the time to wipe down, swap the room over and write notes.
    types = {
        "consult": s.get_or_create(
            AppointmentType, {"organization_id": org.id, "name": "Gym Consultation"},
            duration_minutes=30, buffer_before_minutes=0, buffer_after_minutes=0, slot_interval_minutes=30,
            price_pennies=0, currency="GBP", min_notice_minutes=60, booking_window_days=60,
            description="A free 30-minute intro: your goals, a tour of the gym and a plan to start.",
            location="Atlas Fitness, reception", color="#1f4fd1"),
        "pt": s.get_or_create(
            AppointmentType, {"organization_id": org.id, "name": "Personal Training Session"},
            duration_minutes=60, buffer_before_minutes=0, buffer_after_minutes=15, slot_interval_minutes=30,
            price_pennies=5000, currency="GBP", min_notice_minutes=120, booking_window_days=60,
            description="1-on-1 personal training session", location="Atlas Fitness, main gym floor",
            color="#ff7a1a"),
        "massage": s.get_or_create(
            AppointmentType, {"organization_id": org.id, "name": "Sports Massage"},
            duration_minutes=45, buffer_before_minutes=0, buffer_after_minutes=15, slot_interval_minutes=15,
            price_pennies=4500, currency="GBP", min_notice_minutes=240, booking_window_days=60,
            description="45 minutes of deep-tissue sports massage for recovery and tight spots.",
            location="Atlas Fitness, treatment room", color="#0f766e"),
        "assessment": s.get_or_create(
            AppointmentType, {"organization_id": org.id, "name": "Movement & Fitness Assessment"},
            duration_minutes=60, buffer_before_minutes=0, buffer_after_minutes=15, slot_interval_minutes=30,
            price_pennies=6000, currency="GBP", min_notice_minutes=24 * 60, booking_window_days=60,
            description="A coach and our physio together: a movement screen, strength tests and a written plan.",
            location="Atlas Fitness, studio 2", color="#7c3aed"),
    }

    consult_link = s.link(
        "gym-consultation", [alex, sam, jordan, maya], [types["consult"]],
        {"primary_color": "#1f4fd1", "accent_color": "#ff7a1a",
         "welcome_text": "New to Atlas Fitness? Book a free consultation and we'll build a plan around you."},
        organization_id=org.id, name="Gym Consultation", type="round_robin", is_public=True,
        description="Meet one of our trainers for a free consultation.")
    pt_link = s.link(
        "personal-training", [alex], [types["pt"]],
        {"primary_color": "#0f766e", "accent_color": "#f59e0b",
         "welcome_text": "Train one-to-one with Alex. Sessions last an hour; bring water and a towel."},
        organization_id=org.id, name="Book Personal Training", type="individual", is_public=True,
        description=f"One-to-one sessions with {alex.name}.", user_id=alex.id)
    team_pt_link = s.link(
        "personal-training-any-coach", [alex, jordan, maya], [types["pt"]],
        {"primary_color": "#1f4fd1", "accent_color": "#ff7a1a",
         "welcome_text": "Pick a time that suits you; we'll pair you with a coach who is free."},
        organization_id=org.id, name="Personal Training with any coach", type="round_robin", is_public=True,
        description="An hour one-to-one with whichever of our coaches is free.")
    massage_link = s.link(
        "sports-massage", [sam], [types["massage"]],
        {"primary_color": "#0f766e", "accent_color": "#14b8a6",
         "welcome_text": "Recover faster. Wear something loose; arrive five minutes early."},
        organization_id=org.id, name="Sports Massage with Sam", type="individual", is_public=True,
        description=f"Deep-tissue sports massage with {sam.name}.", user_id=sam.id)
    assessment_link = s.link(
        "fitness-assessment", [sam, maya], [types["assessment"]],
        {"primary_color": "#7c3aed", "accent_color": "#f59e0b",
         "welcome_text": "An hour with a coach and our physio together, and a plan to take away."},
        organization_id=org.id, name="Movement & Fitness Assessment", type="collective", is_public=True,
        description=f"{maya.name} and {sam.name} together.")
    links = {"consult": consult_link, "pt": pt_link, "team_pt": team_pt_link, "massage": massage_link,
             "assessment": assessment_link}

    christmas_year = today.year if today <= date(today.year, 12, 25) else today.year + 1
    christmas = date(christmas_year, 12, 25)
    s.get_or_create(Holiday, {"organization_id": org.id, "date": christmas},
                    name="Christmas Day", affects_all_staff=True)

    day_off = db.session.scalars(
        select(AvailabilityOverride).filter_by(user_id=sam.id, reason="Personal day off")
    ).first()
    if day_off is None:
        day_off = AvailabilityOverride(organization_id=org.id, user_id=sam.id,
                                       date=_next_weekday(today + timedelta(days=3)),
                                       type="unavailable", reason="Personal day off")
        db.session.add(day_off)
        s.created += 1

    # Classes first, so the one-to-one diary below keeps clear of them (as availability does).
    class_types = _seed_class_types(org, trainers, s)
    has_timetable = db.session.scalar(
        select(func.count()).select_from(ClassSeries).where(ClassSeries.organization_id == org.id))
    if not has_timetable:
        s.created += _seed_classes(org, trainers, class_types, now)

    has_demo_bookings = db.session.scalar(
        select(func.count()).select_from(Booking).where(Booking.organization_id == org.id, Booking.source == "demo")
    )
    if not has_demo_bookings:
        closed = {(None, christmas), (sam.id, day_off.date)}
        s.created += _seed_bookings(org, trainers, types, links, closed, now)

    db.session.commit()
    return SeedResult(org=org, owner_email=OWNER_EMAIL, link_slugs=[link.slug for link in links.values()],
                      created=s.created)


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _seed_bookings(org, trainers, types, links, closed, now) -> int:
    """The week's diary on every weekday from four days ago to nine days ahead: sessions that have
    ended are completed (every ninth a no-show), the rest confirmed, and one consultation cancelled."""
    tz = now.tzinfo
    today = now.date()
    # The coaches' classes: a session in their diary at a class's time is not booked (TIMETABLE is
    # laid out in the diary's gaps, so this only matters for a timetable edited since).
    window = (datetime.combine(today - timedelta(days=5), time(0), tzinfo=tz),
              datetime.combine(today + timedelta(days=11), time(0), tzinfo=tz))
    taught = defaultdict(list)
    for staff_id, c_start, c_end in db.session.execute(
            select(ClassSession.instructor_id, ClassSession.start_at, ClassSession.end_at).where(
                ClassSession.organization_id == org.id, ClassSession.status == "scheduled",
                ClassSession.start_at >= window[0], ClassSession.start_at < window[1])):
        taught[staff_id].append((c_start, c_end))
    count, cancelled, n = 0, False, 0
    for offset in range(-4, 10):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for key, at, service in WEEK_PLAN[day.weekday()]:
            staff = [trainers[k] for k in (ASSESSMENT_STAFF if key == "assessment" else (key,))]
            if (None, day) in closed or any((member.id, day) in closed for member in staff):
                continue
            start = datetime.combine(day, time.fromisoformat(at), tzinfo=tz).astimezone(timezone.utc)
            atype = types[service]
            held = (start - timedelta(minutes=atype.buffer_before_minutes),
                    start + timedelta(minutes=atype.duration_minutes + atype.buffer_after_minutes))
            if any(c_start < held[1] and held[0] < c_end for member in staff for c_start, c_end in taught[member.id]):
                continue
            n += 1
            name, email, phone = DEMO_ATTENDEES[(n * 5 + offset) % len(DEMO_ATTENDEES)]
            if start + timedelta(minutes=types[service].duration_minutes) <= now:
                status = "no_show" if n % 9 == 0 else "completed"
            elif service == "consult" and not cancelled:
                status, cancelled = "cancelled", True
            else:
                status = "confirmed"
            link = links["pt" if key == "alex" else "team_pt"] if service == "pt" else links[service]
            count += _add_booking(org, link, types[service], staff, start, status, name, email, phone, now)
    return count


def _add_booking(org, link, atype, staff, start, status, name, email, phone, now) -> int:
    """One booking (a collective one: a row per member of staff sharing a group id), audited."""
    client_id = clients.attach_client(org.id, email=email, name=name, phone=phone)
    now = now.astimezone(timezone.utc)
    end = start + timedelta(minutes=atype.duration_minutes)
    group_id = uuid.uuid4() if len(staff) > 1 else None
    count = 0
    for i, member in enumerate(staff):
        lead = i == 0
        booking = Booking(
            organization_id=org.id, booking_link_id=link.id, appointment_type_id=atype.id, staff_id=member.id,
            client_id=client_id, start_at=start, end_at=end,
            group_id=group_id,
            buffer_before_minutes=atype.buffer_before_minutes, buffer_after_minutes=atype.buffer_after_minutes,
            status=status, title=f"{atype.name} with {name}", attendee_name=name, attendee_email=email,
            attendee_phone=phone, attendee_timezone=org.timezone, source="demo",
            manage_token_hash=hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest() if lead else None,
            cancellation_reason="Feeling unwell" if status == "cancelled" else None,
            cancelled_at=now if status == "cancelled" else None,
            # Marked once the session was over, as the completion job does.
            finished_at=min(end + timedelta(minutes=5), now) if status in ("completed", "no_show") else None,
        )
        db.session.add(booking)
        db.session.flush()
        db.session.add(BookingAudit(organization_id=org.id, booking_id=booking.id, actor_type="system",
                                    actor_id="seed-demo", action="created", before=None,
                                    after={"status": status, "start_at": start.isoformat()}))
        count += 2
    return count


# --- classes -----------------------------------------------------------------------------------------

SEED_ACTOR = Actor("system", id="seed-demo")


def _class_members() -> list[tuple[str, str, str | None]]:
    """Sixty made-up members (name, email, phone or None), in a fixed order."""
    members = []
    for i, first in enumerate(MEMBER_FIRST):
        for j in (0, 7):
            last = MEMBER_LAST[(i * 5 + j) % len(MEMBER_LAST)]
            k = len(members)
            phone = f"+447700900{500 + k:03d}" if k % 3 else None
            members.append((f"{first} {last}", f"{first.lower()}.{last.lower()}@example.com", phone))
    return members


def _seed_class_types(org, trainers, s: _Seeder) -> dict[str, ClassType]:
    """The six classes, through the timetable service (found by name when they exist)."""
    found: dict[str, ClassType] = {}
    first_coach = {}
    for key, coach, _, _ in TIMETABLE:
        first_coach.setdefault(key, coach)
    for key, name, minutes, places, color, price, room, description in CLASS_TYPES:
        row = db.session.scalars(select(ClassType).filter_by(organization_id=org.id, name=name)).first()
        if row is None:
            row = classes.save_class_type(org.id, actor=SEED_ACTOR, name=name, duration_minutes=minutes,
                                          capacity=places, description=description, price_pennies=price, color=color,
                                          default_instructor_id=trainers[first_coach[key]].id, location=room)
            s.created += 2  # the class type and its audit row
        found[key] = row
    return found


def _class_rows(org_id) -> int:
    from app.models import ClassAudit, Client

    return sum(db.session.scalar(select(func.count()).select_from(model).where(model.organization_id == org_id))
               for model in (ClassSeries, ClassSession, ClassBooking, ClassAudit, Client))


def _seed_classes(org, trainers, types: dict[str, ClassType], now: datetime) -> int:
    """The timetable (weekly entries made through the timetable service, which makes the sessions ahead
    and leaves out dates a coach is away), its last four weeks as they ran (sessions and spots written
    directly: the services take no bookings for the past), and the week ahead booked through
    book_class without messages. Returns the rows created."""
    before = _class_rows(org.id)
    zone = now.tzinfo
    today, now_utc = now.date(), now.astimezone(timezone.utc)
    first = today - timedelta(days=CLASS_HISTORY_DAYS)
    members = _class_members()
    client_ids: dict[str, uuid.UUID] = {}
    db.session.commit()
    for key, coach, days, at in TIMETABLE:
        start_time = time.fromisoformat(at)
        series = classes.create_series(org.id, actor=SEED_ACTOR, class_type_id=types[key].id,
                                       instructor_id=trainers[coach].id, weekdays=list(days), start_time=start_time,
                                       first_date=first, skip_clashes=True, now=now_utc)
        ctype = types[key]
        dates, spans = [], []
        for offset in range(CLASS_HISTORY_DAYS + 1):
            day = first + timedelta(days=offset)
            if day.isoweekday() % 7 not in days:
                continue
            start = from_us(wall_to_us(day, start_time, zone))
            if start <= now_utc:  # the service made the sessions still to come
                dates.append(day)
                spans.append((start, start + timedelta(minutes=ctype.duration_minutes)))
        clashes = classes.instructor_clashes(trainers[coach], spans, org=org)  # Christmas, a day off
        for index, (day, (start, end)) in enumerate(zip(dates, spans)):
            if index in clashes:
                continue
            session = ClassSession(id=uuid.uuid4(), organization_id=org.id, class_type_id=ctype.id,
                                   series_id=series.id, instructor_id=trainers[coach].id, occurrence_date=day,
                                   start_at=start, end_at=end, capacity=ctype.capacity, booked_count=0,
                                   waitlist_seq=0, status="scheduled", location=ctype.location, detached=False,
                                   sequence=0)
            db.session.add(session)
            _past_spots(org, session, key, members, client_ids, now_utc)
        db.session.commit()
    _book_week_ahead(org, members, now_utc)
    return _class_rows(org.id) - before


def _rng(session: ClassSession, key: str) -> random.Random:
    # Seeded by the session, so the same day always gets the same class list.
    return random.Random(f"{session.occurrence_date}:{key}:{session.start_at.time()}")


def _past_spots(org, session: ClassSession, key: str, members, client_ids: dict, now: datetime) -> None:
    """A class that has run: its people attended (a few no-shows); sometimes someone cancelled late;
    in a full class, sometimes a place freed in good time went to the first person waiting, and
    sometimes people were still waiting when it started."""
    rng = _rng(session, key)
    cap = session.capacity
    demand = CLASS_DEMAND[key]
    share = 1.0 if demand >= 1 else min(1.0, max(0.3, demand + rng.uniform(-0.25, 0.2)))
    booked = max(1, round(cap * share))
    offset = rng.randrange(len(members))
    people = [members[(offset + i) % len(members)] for i in range(booked + 4)]
    start = session.start_at
    extra = iter(people[booked:])

    def spot(person, status, **values) -> ClassBooking:
        name, email, phone = person
        if email not in client_ids:
            client_ids[email] = clients.attach_client(org.id, email=email, name=name, phone=phone, now=now)
        created = values.pop("created_at", start - timedelta(days=rng.randint(2, 6), hours=rng.randint(0, 12)))
        row = ClassBooking(id=uuid.uuid4(), organization_id=org.id, session_id=session.id,
                           client_id=client_ids[email], status=status, attendee_name=name, attendee_email=email,
                           email_key=clients.client_email(email), attendee_phone=phone,
                           manage_token_hash=hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest(),
                           source="demo", created_at=created, updated_at=values.get("cancelled_at") or start, **values)
        db.session.add(row)
        class_audit.record(org.id, SEED_ACTOR, "booked" if row.promoted_at is None else "promoted",
                           after=class_audit.spot_snapshot(row), spot=row, session=session)
        return row

    waited = 0
    promote = booked == cap and rng.random() < 0.6
    for i, person in enumerate(people[:booked]):
        status = "no_show" if rng.random() < 0.08 else "attended"
        values = {"checked_in_at": start - timedelta(minutes=rng.randint(2, 12))} if status == "attended" else {}
        if promote and i == booked - 1:  # the last in took a place someone gave up in good time
            freed = start - timedelta(days=1, hours=rng.randint(1, 8))
            spot(next(extra), "cancelled", cancel_kind="customer", cancelled_at=freed)
            waited += 1
            values.update(waitlisted_at=freed - timedelta(days=1), promoted_at=freed,
                          created_at=freed - timedelta(days=1))
        spot(person, status, **values)
    if rng.random() < 0.25:
        spot(next(extra), "cancelled", cancel_kind="late", cancelled_at=start - timedelta(hours=rng.randint(1, 10)))
    if booked == cap and rng.random() < 0.4:
        for _ in range(rng.randint(1, 2)):
            waiting_since = start - timedelta(days=1, hours=rng.randint(0, 12))
            spot(next(extra), "cancelled", cancel_kind="waitlist_closed", cancelled_at=start,
                 waitlisted_at=waiting_since, created_at=waiting_since)
            waited += 1
    session.booked_count, session.waitlist_seq = booked, waited


def _book_week_ahead(org, members, now: datetime) -> None:
    """The next seven days, booked through book_class (no messages): the first Reformer Pilates class
    whose waitlist is still open is full with FULL_WAITLIST people waiting; the next two days' classes
    are nearly full, later ones still filling."""
    rows = [r for r in classes.sessions_between(org.id, now, now + timedelta(days=CLASS_BOOKED_AHEAD_DAYS),
                                                include_cancelled=False)
            if r.session.start_at > now]  # one starting this minute has run (_past_spots)
    keys = {ctype_id: key for key, ctype_id in db.session.execute(select(ClassType.name, ClassType.id).where(
        ClassType.organization_id == org.id))}
    by_name = {name: key for key, name, *_ in CLASS_TYPES}
    full = next((r.session for r in rows if by_name.get(keys.get(r.session.class_type_id)) == "reformer"
                 and classes.waitlist_open(r.session, org, now + timedelta(hours=1))), None)
    for row in rows:
        session = row.session
        key = by_name.get(keys.get(session.class_type_id), "spin")
        rng = _rng(session, key)
        cap = session.capacity
        if session is full:
            wanted = cap + FULL_WAITLIST
        else:
            soon = session.start_at - now <= timedelta(days=2)
            share = CLASS_DEMAND[key] + rng.uniform(0.05, 0.2) if soon else CLASS_DEMAND[key] * rng.uniform(0.35, 0.8)
            wanted = max(1, min(cap - 1, round(cap * share)))  # nearly full at most: one class is the full one
        offset = rng.randrange(len(members))
        for i in range(wanted):
            name, email, phone = members[(offset + i) % len(members)]
            classes.book_class(session_id=session.id, attendee_name=name, attendee_email=email, attendee_phone=phone,
                               actor=SEED_ACTOR, join_waitlist=i >= cap, org_id=org.id, source="demo", notify=False,
                               now=now - timedelta(minutes=wanted - i))
