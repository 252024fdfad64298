"""The authorization matrix: role × route × own/other organization.

Owners and admins see and edit everything in their organization; staff see their own rows and edit
their own availability; the team's roles are the owner's. A user of another organization gets 404
from every route that names one of our rows — the same answer as for a row that does not exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
from dashboard_helpers import MONDAY, Browser, at

OK_GET, OK_POST = 200, 303


def keeping_bookings(g, action: str, **change) -> dict:
    """A schedule change's form with the review answered: every booking it affects kept (Monday's
    hours hold Alex's booking; tests/dashboard/test_schedule_change_review.py tests the review)."""
    from app.services.schedule_changes import ScheduleChange, change_impact

    impact = change_impact(g.org.id, ScheduleChange(action, **change))
    return {"review": impact.fingerprint, **{f"decision-{b.booking_id}": "keep" for b in impact.bookings}}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    url: Callable          # gym → url
    level: str             # any | own | admin | owner
    data: Callable | None = None  # gym → form data
    colleague: bool = False        # the row belongs to another trainer of the same gym

    def __str__(self) -> str:
        return self.name


def type_form(g):
    return {"name": "Personal Training", "duration_minutes": "45", "price": "40.00", "currency": "GBP",
            "buffer_before_minutes": "0", "buffer_after_minutes": "10", "min_notice_minutes": "60", "color": "#0f766e"}


def link_form(g):
    return {"name": "Train with us", "slug": "train-with-us", "type": "round_robin", "is_public": "y",
            "staff_ids": [str(g.alex.id), str(g.sam.id)], "appointment_type_ids": [str(g.pt.id)]}


ROW_ROUTES = [
    Route("booking detail", "GET", lambda g: f"/dashboard/bookings/{g.booking.id}", "own"),
    Route("colleague's booking", "GET", lambda g: f"/dashboard/bookings/{g.sam_booking.id}", "own", colleague=True),
    Route("reschedule page", "GET", lambda g: f"/dashboard/bookings/{g.booking.id}/reschedule", "admin"),
    Route("cancel question", "GET", lambda g: f"/dashboard/bookings/{g.booking.id}/cancel", "admin"),
    Route("move question", "GET", lambda g: f"/dashboard/bookings/{g.booking.id}/reschedule/confirm"
          f"?start={at(MONDAY, 14).strftime('%Y-%m-%dT%H:%MZ')}&staff_id={g.alex.id}", "admin"),
    Route("type edit page", "GET", lambda g: f"/dashboard/types/{g.pt.id}", "admin"),
    Route("link edit page", "GET", lambda g: f"/dashboard/links/{g.link.id}", "admin"),
    Route("branding page", "GET", lambda g: f"/dashboard/links/{g.link.id}/branding", "admin"),
    Route("branding preview", "GET", lambda g: f"/dashboard/links/{g.link.id}/branding?primary_color=%23ff0000",
          "admin"),
    Route("team member", "GET", lambda g: f"/dashboard/team/{g.alex.id}", "admin"),
    Route("availability of trainer", "GET", lambda g: f"/dashboard/availability?trainer={g.alex.id}", "own"),
    Route("availability of colleague", "GET", lambda g: f"/dashboard/availability?trainer={g.sam.id}", "own",
          colleague=True),
    Route("preview with type", "GET", lambda g: f"/dashboard/availability?trainer={g.alex.id}&type={g.pt.id}", "own"),
    Route("calendar of trainer", "GET", lambda g: f"/dashboard/calendar?trainer={g.alex.id}", "own"),
    Route("calendar of colleague", "GET", lambda g: f"/dashboard/calendar?trainer={g.sam.id}&view=day", "own",
          colleague=True),
    Route("bookings of trainer", "GET", lambda g: f"/dashboard/bookings?trainer={g.alex.id}", "own"),
    Route("overview of trainer", "GET", lambda g: f"/dashboard/?trainer={g.alex.id}", "own"),
    Route("confirm booking", "POST", lambda g: f"/dashboard/bookings/{g.booking.id}/status", "admin",
          lambda g: {"action": "confirm"}),
    Route("cancel booking", "POST", lambda g: f"/dashboard/bookings/{g.booking.id}/cancel", "admin",
          lambda g: {"reason": "Injured", "confirm": "yes"}),
    Route("reschedule booking", "POST", lambda g: f"/dashboard/bookings/{g.booking.id}/reschedule", "admin",
          lambda g: {"start": at(MONDAY, 14).isoformat(), "staff_id": str(g.alex.id), "confirm": "yes"}),
    Route("update rule", "POST", lambda g: f"/dashboard/availability/rules/{g.rule.id}", "own",
          lambda g: {f"r-{g.rule.id}-day_of_week": "1", f"r-{g.rule.id}-start_time": "08:00",
                     f"r-{g.rule.id}-end_time": "16:00"}),
    Route("delete rule", "POST", lambda g: f"/dashboard/availability/rules/{g.rule.id}/delete", "own",
          lambda g: keeping_bookings(g, "delete_rule", row_id=g.rule.id)),
    Route("add rule for trainer", "POST", lambda g: "/dashboard/availability/rules", "own",
          lambda g: {"trainer": str(g.alex.id), "day_of_week": "6", "start_time": "09:00", "end_time": "12:00"}),
    Route("add rule for colleague", "POST", lambda g: "/dashboard/availability/rules", "own",
          lambda g: {"trainer": str(g.sam.id), "day_of_week": "6", "start_time": "09:00", "end_time": "12:00"},
          colleague=True),
    Route("add day off", "POST", lambda g: "/dashboard/availability/overrides", "own",
          lambda g: {"trainer": str(g.alex.id), "date": "2030-01-10", "kind": "day_off"}),
    Route("delete override", "POST", lambda g: f"/dashboard/availability/overrides/{g.override.id}/delete", "own"),
    Route("delete holiday", "POST", lambda g: f"/dashboard/availability/holidays/{g.holiday.id}/delete", "admin"),
    Route("edit type", "POST", lambda g: f"/dashboard/types/{g.pt.id}", "admin", type_form),
    Route("deactivate type", "POST", lambda g: f"/dashboard/types/{g.pt.id}/active", "admin",
          lambda g: {"active": "0"}),
    Route("edit link", "POST", lambda g: f"/dashboard/links/{g.link.id}", "admin", link_form),
    Route("deactivate link", "POST", lambda g: f"/dashboard/links/{g.link.id}/active", "admin",
          lambda g: {"active": "0"}),
    Route("save branding", "POST", lambda g: f"/dashboard/links/{g.link.id}/branding", "admin",
          lambda g: {"primary_color": "#112233", "accent_color": "#ffcc00", "welcome_text": "Hi"}),
    Route("set role", "POST", lambda g: f"/dashboard/team/{g.sam.id}/role", "owner",
          lambda g: {f"m-{g.sam.id}-role": "admin"}),
    Route("deactivate member", "POST", lambda g: f"/dashboard/team/{g.sam.id}/active", "owner",
          lambda g: {"active": "0"}),
]

PAGE_ROUTES = [
    Route("overview", "GET", lambda g: "/dashboard/", "any"),
    Route("calendar", "GET", lambda g: "/dashboard/calendar", "any"),
    Route("calendar day", "GET", lambda g: "/dashboard/calendar?view=day&date=2030-01-07", "any"),
    Route("bookings", "GET", lambda g: "/dashboard/bookings?when=all", "any"),
    Route("availability", "GET", lambda g: "/dashboard/availability", "any"),
    Route("types", "GET", lambda g: "/dashboard/types", "any"),
    Route("links", "GET", lambda g: "/dashboard/links", "any"),
    Route("new type page", "GET", lambda g: "/dashboard/types/new", "admin"),
    Route("new link page", "GET", lambda g: "/dashboard/links/new", "admin"),
    Route("team", "GET", lambda g: "/dashboard/team", "admin"),
    Route("settings", "GET", lambda g: "/dashboard/settings", "admin"),
    Route("create type", "POST", lambda g: "/dashboard/types/new", "admin", type_form),
    Route("create link", "POST", lambda g: "/dashboard/links/new", "admin", link_form),
    Route("save settings", "POST", lambda g: "/dashboard/settings", "admin",
          lambda g: {"name": "Acme Gym", "timezone": "Europe/Dublin", "cancellation_cutoff_hours": "6",
                     "reminder_offsets": "24h"}),
    Route("add holiday", "POST", lambda g: "/dashboard/availability/holidays", "admin",
          lambda g: {"name": "Closed", "date": "2030-03-01"}),
    Route("add member", "POST", lambda g: "/dashboard/team", "owner",
          lambda g: {"name": "New Trainer", "email": "new@acme.example", "role": "staff"}),
]

ROLES = ("owner", "admin", "staff")


def person(gym, role):
    return {"owner": gym.owner, "admin": gym.admin, "staff": gym.alex}[role]


def expected(route: Route, role: str) -> int:
    ok = OK_GET if route.method == "GET" else OK_POST
    if route.level == "any":
        return ok
    if route.level == "own":
        return ok if role in ("owner", "admin") or not route.colleague else 403
    if route.level == "admin":
        return ok if role in ("owner", "admin") else 403
    return ok if role == "owner" else 403


def call(browser: Browser, route: Route, gym):
    url = route.url(gym)
    if route.method == "GET":
        return browser.get(url)
    return browser.post(url, route.data(gym) if route.data else {})


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROW_ROUTES + PAGE_ROUTES, ids=str)
def test_own_organization(app, gym, route, role):
    response = call(Browser(app, person(gym, role)), route, gym)
    assert response.status_code == expected(route, role), response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROW_ROUTES, ids=str)
def test_another_organization_gets_404(app, gym, other, route, role):
    """Someone from the rival gym naming one of Acme's rows: 404 — whatever their role."""
    response = call(Browser(app, person(other, role)), route, gym)
    assert response.status_code == 404
    assert "Acme" not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", [r for r in PAGE_ROUTES if r.method == "GET"], ids=str)
def test_pages_never_show_another_organization(app, gym, other, route, role):
    """Every page a rival's staff can open shows the rival's data and nothing of Acme."""
    response = call(Browser(app, person(other, role)), route, other)
    assert response.status_code == expected(route, role)
    body = response.get_data(as_text=True)
    for secret in ("Acme", "ann@acme.example", str(gym.booking.id), str(gym.alex.id), gym.link.slug):
        assert secret not in body


@pytest.mark.parametrize("route", ROW_ROUTES + PAGE_ROUTES, ids=str)
def test_signed_out_is_sent_to_sign_in(client, gym, route):
    url = route.url(gym)
    response = client.get(url) if route.method == "GET" else client.post(url, data={})
    if route.method == "POST":
        assert response.status_code in (302, 400)  # CSRF first, or the sign-in redirect
    else:
        assert response.status_code == 302
        assert "/auth/login" in response.headers["Location"]
