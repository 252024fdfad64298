"""Helpers shared by the dashboard tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # a Sunday; Europe/London is UTC+0 in January
TODAY = date(2030, 1, 6)
MONDAY = date(2030, 1, 7)
PASSWORD = "correct horse battery"  # the factories' default
HTMX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def is_fragment(response) -> bool:
    body = text(response)
    return "<html" not in body and "dash-nav" not in body


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=timezone.utc)


def csrf_token(response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', text(response))
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


class Browser:
    """A test client signed in as someone, with its session's CSRF token at hand."""

    def __init__(self, app, user=None):
        self.client = app.test_client()
        self.user = user
        self.token = None
        if user is not None:
            self.sign_in(user.email, PASSWORD)

    def sign_in(self, email: str, password: str):
        token = csrf_token(self.client.get("/auth/login"))
        response = self.client.post("/auth/login", data={"csrf_token": token, "email": email, "password": password})
        assert response.status_code == 303, text(response)[:500]
        # Signing in starts a fresh session, so the token comes from a page seen after it.
        self.token = csrf_token(self.client.get("/dashboard/"))
        return response

    @staticmethod
    def _headers(target: str | None) -> dict:
        return {} if target is None else {**HTMX, "HX-Target": target}

    def get(self, url: str, target: str | None = None, **kwargs):
        return self.client.get(url, headers=self._headers(target), **kwargs)

    def post(self, url: str, data: dict | None = None, target: str | None = None, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, headers=self._headers(target), **kwargs)


@dataclass
class Gym:
    org: object
    owner: object
    admin: object
    alex: object
    sam: object
    pt: object
    link: object
    booking: object       # Alex, Monday 10:00, confirmed
    sam_booking: object   # Sam, Monday 11:00, confirmed
    rule: object          # Alex's Monday hours
    override: object      # Alex's day off on Wednesday 9 January
    holiday: object


def build_gym(make_org, make_user, make_trainer, make_appointment_type, make_link, make_booking, db, *, slug, name):
    """A gym with an owner, an admin, two trainers (Mon–Fri 09:00–17:00), a service, a round-robin link,
    two bookings on Monday, a day off and a holiday."""
    from app.models import AvailabilityOverride, AvailabilityRule, Holiday

    org = make_org(slug=slug, name=name, timezone="Europe/London")
    owner = make_user(org=org, name=f"{name} Owner", role="owner", email=f"owner@{slug}.example")
    admin = make_user(org=org, name=f"{name} Admin", role="admin", email=f"admin@{slug}.example")
    alex = make_trainer(org=org, name=f"Alex of {name}", email=f"alex@{slug}.example")
    sam = make_trainer(org=org, name=f"Sam of {name}", email=f"sam@{slug}.example")
    pt = make_appointment_type(org=org, name=f"{name} Personal Training", duration_minutes=60, min_notice_minutes=0,
                               booking_window_days=None, color="#0f766e")
    link = make_link([alex, sam], [pt], type="round_robin", slug=f"{slug}-pt")
    booking = make_booking(staff=alex, start=at(MONDAY, 10), appointment_type_id=pt.id, booking_link_id=link.id,
                           attendee_name=f"Ann of {name}", attendee_email=f"ann@{slug}.example")
    sam_booking = make_booking(staff=sam, start=at(MONDAY, 11), appointment_type_id=pt.id, booking_link_id=link.id,
                               attendee_name=f"Bob of {name}", attendee_email=f"bob@{slug}.example")
    rule = db.session.query(AvailabilityRule).filter_by(user_id=alex.id, day_of_week=1).one()
    override = AvailabilityOverride(organization_id=org.id, user_id=alex.id, date=date(2030, 1, 9),
                                    type="unavailable", reason="Dentist")
    holiday = Holiday(organization_id=org.id, name=f"{name} closed", date=date(2030, 2, 1))
    db.session.add_all([override, holiday])
    db.session.commit()
    return Gym(org=org, owner=owner, admin=admin, alex=alex, sam=sam, pt=pt, link=link, booking=booking,
               sam_booking=sam_booking, rule=rule, override=override, holiday=holiday)


def days(n: int) -> timedelta:
    return timedelta(days=n)
