"""The spec's Atlas Fitness example, created idempotently for demos and first runs."""
from __future__ import annotations

import hashlib
import secrets
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
TRAINERS = [
    ("Alex Morgan", "alex@atlas-fitness.example", "Strength & conditioning coach, 10 years on the gym floor."),
    ("Sam Patel", "sam@atlas-fitness.example", "Mobility and rehab specialist."),
    ("Jordan Lee", "jordan@atlas-fitness.example", "Weight-loss and nutrition coach."),
]
DEMO_ATTENDEES = [
    ("Jane Smith", "jane.smith@example.com", "+447700900123"),
    ("Tom Hughes", "tom.hughes@example.com", None),
    ("Priya Shah", "priya.shah@example.com", "+447700900456"),
    ("Chris Evans", "chris.evans@example.com", None),
    ("Mia Wong", "mia.wong@example.com", "+447700900789"),
]


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


def seed_demo(password: str = "atlas-demo", today: date | None = None) -> SeedResult:
    """Create (or find) the Atlas Fitness organization, staff, hours, services, links and bookings.

    Every row is looked up by its natural key first, so running this twice changes nothing.
    Dates (the day off, the bookings) are chosen relative to `today` in the gym's time zone.
    """
    tz = ZoneInfo(ORG_TZ)
    today = today or datetime.now(tz).date()
    s = _Seeder()

    org = s.get_or_create(Organization, {"slug": ORG_SLUG}, name="Atlas Fitness", timezone=ORG_TZ,
                          currency="GBP", contact_email="hello@atlas-fitness.example",
                          cancellation_cutoff_minutes=12 * 60, reminder_offsets_minutes=[24 * 60, 120],
                          settings={})

    owner = db.session.scalars(select(User).filter_by(email=OWNER_EMAIL)).first()
    if owner is None:
        owner = User(organization_id=org.id, email=OWNER_EMAIL, name="Olivia Owner", role="owner", timezone=ORG_TZ)
        owner.set_password(password)
        db.session.add(owner)
        s.created += 1

    trainers = []
    for name, email, bio in TRAINERS:
        trainer = db.session.scalars(select(User).filter_by(email=email)).first()
        if trainer is None:
            trainer = User(organization_id=org.id, email=email, name=name, role="staff", timezone=ORG_TZ, bio=bio)
            trainer.set_password(password)
            db.session.add(trainer)
            db.session.flush()
            s.created += 1
            for day in range(1, 6):  # Monday–Friday (0 = Sunday, as in the spec)
                db.session.add(AvailabilityRule(organization_id=org.id, user_id=trainer.id, day_of_week=day,
                                                start_time=time(9), end_time=time(17)))
                s.created += 1
        trainers.append(trainer)

    consultation = s.get_or_create(
        AppointmentType, {"organization_id": org.id, "name": "Gym Consultation"},
        duration_minutes=30, buffer_before_minutes=0, buffer_after_minutes=0, price_pennies=0, currency="GBP",
        description="A free 30-minute chat about your goals and a tour of the gym.", min_notice_minutes=60,
        booking_window_days=60, location="Atlas Fitness, reception", color="#1f4fd1",
    )
    personal = s.get_or_create(
        AppointmentType, {"organization_id": org.id, "name": "Personal Training Session"},
        duration_minutes=60, buffer_before_minutes=0, buffer_after_minutes=15, price_pennies=5000, currency="GBP",
        description="1-on-1 personal training session", min_notice_minutes=120, booking_window_days=60,
        location="Atlas Fitness, main gym floor", color="#ff7a1a",
    )

    consult_link = s.get_or_create(
        BookingLink, {"slug": "gym-consultation"}, organization_id=org.id, name="Gym Consultation",
        description="Meet one of our trainers for a free consultation.", type="round_robin", is_public=True,
    )
    if not consult_link.staff:
        consult_link.staff = list(trainers)
        consult_link.appointment_types = [consultation]
    pt_link = s.get_or_create(
        BookingLink, {"slug": "personal-training"}, organization_id=org.id, name="Book Personal Training",
        description=f"One-to-one sessions with {trainers[0].name}.", type="individual", is_public=True,
        user_id=trainers[0].id,
    )
    if not pt_link.staff:
        pt_link.staff = [trainers[0]]
        pt_link.appointment_types = [personal]
    s.get_or_create(LinkBranding, {"booking_link_id": consult_link.id}, organization_id=org.id,
                    primary_color="#1f4fd1", accent_color="#ff7a1a",
                    welcome_text="New to Atlas Fitness? Book a free consultation and we'll build a plan around you.")
    s.get_or_create(LinkBranding, {"booking_link_id": pt_link.id}, organization_id=org.id,
                    primary_color="#0f766e", accent_color="#f59e0b",
                    welcome_text="Train one-to-one with Alex. Sessions last an hour; bring water and a towel.")

    christmas_year = today.year if today <= date(today.year, 12, 25) else today.year + 1
    s.get_or_create(Holiday, {"organization_id": org.id, "date": date(christmas_year, 12, 25)},
                    name="Christmas Day", affects_all_staff=True)

    day_off_owner = trainers[1]
    existing_day_off = db.session.scalars(
        select(AvailabilityOverride).filter_by(user_id=day_off_owner.id, reason="Personal day off")
    ).first()
    if existing_day_off is None:
        day_off = _next_weekday(today + timedelta(days=3))
        db.session.add(AvailabilityOverride(organization_id=org.id, user_id=day_off_owner.id, date=day_off,
                                            type="unavailable", reason="Personal day off"))
        s.created += 1

    has_demo_bookings = db.session.scalar(
        select(func.count()).select_from(Booking).where(Booking.organization_id == org.id, Booking.source == "demo")
    )
    if not has_demo_bookings:
        s.created += _seed_bookings(org, trainers, consultation, personal, consult_link, pt_link, today, tz)

    db.session.commit()
    return SeedResult(org=org, owner_email=OWNER_EMAIL, link_slugs=[consult_link.slug, pt_link.slug],
                      created=s.created)


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _seed_bookings(org, trainers, consultation, personal, consult_link, pt_link, today, tz) -> int:
    """A handful of bookings: upcoming ones across the week, one cancelled, one completed last week."""
    day_after = _next_weekday(today + timedelta(days=1))
    next_day = _next_weekday(day_after + timedelta(days=1))
    last_week = _next_weekday(today - timedelta(days=7))
    plan = [
        # (local day, hour, trainer, type, link, attendee index, status)
        (day_after, 10, trainers[0], personal, pt_link, 0, "confirmed"),
        (day_after, 11, trainers[1], consultation, consult_link, 1, "confirmed"),
        (day_after, 14, trainers[2], consultation, consult_link, 2, "confirmed"),
        (next_day, 9, trainers[0], personal, pt_link, 3, "confirmed"),
        (next_day, 15, trainers[2], consultation, consult_link, 4, "cancelled"),
        (last_week, 10, trainers[0], personal, pt_link, 1, "completed"),
    ]
    count = 0
    for day, hour, trainer, atype, link, who, status in plan:
        name, email, phone = DEMO_ATTENDEES[who]
        start = datetime.combine(day, time(hour), tzinfo=tz).astimezone(timezone.utc)
        client_id = clients.attach_client(org.id, email=email, name=name, phone=phone)
        booking = Booking(
            organization_id=org.id, booking_link_id=link.id, appointment_type_id=atype.id, staff_id=trainer.id,
            client_id=client_id,
            start_at=start, end_at=start + timedelta(minutes=atype.duration_minutes),
            buffer_before_minutes=atype.buffer_before_minutes, buffer_after_minutes=atype.buffer_after_minutes,
            status=status, title=f"{atype.name} with {name}", attendee_name=name, attendee_email=email,
            attendee_phone=phone, attendee_timezone=org.timezone, source="demo",
            manage_token_hash=hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest(),
            cancellation_reason="Feeling unwell" if status == "cancelled" else None,
            cancelled_at=datetime.now(timezone.utc) if status == "cancelled" else None,
        )
        db.session.add(booking)
        db.session.flush()
        db.session.add(BookingAudit(organization_id=org.id, booking_id=booking.id, actor_type="system",
                                    actor_id="seed-demo", action="created", before=None,
                                    after={"status": status, "start_at": start.isoformat()}))
        count += 2
    return count
