"""The Atlas Fitness demo: a small gym's real week, created idempotently for demos and first runs.

Four coaches on the hours a gym keeps (early mornings, evenings, split shifts, a Saturday), the
services a gym sells (a free intro consultation, personal training, sports massage, and an
assessment taken by a coach and the physio together), public booking pages for each, and a
fortnight of bookings around today: finished (and one no-show) behind it, confirmed ones ahead.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
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
    Holiday,
    LinkBranding,
    Organization,
    User,
)
from app.services import clients

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
    count, cancelled, n = 0, False, 0
    for offset in range(-4, 10):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for key, at, service in WEEK_PLAN[day.weekday()]:
            staff = [trainers[k] for k in (ASSESSMENT_STAFF if key == "assessment" else (key,))]
            if (None, day) in closed or any((member.id, day) in closed for member in staff):
                continue
            n += 1
            name, email, phone = DEMO_ATTENDEES[(n * 5 + offset) % len(DEMO_ATTENDEES)]
            start = datetime.combine(day, time.fromisoformat(at), tzinfo=tz).astimezone(timezone.utc)
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
