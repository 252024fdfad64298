"""Every page and partial: the whole page on a plain request, only the fragment on an htmx request
(HX-Target names it), `Vary: HX-Request` on both; CSRF enforced on every state change."""
from __future__ import annotations

import pytest
from dashboard_helpers import is_fragment, text
from test_access_matrix import PAGE_ROUTES, ROW_ROUTES

# (url, HX-Target, text only that fragment shows)
FRAGMENTS = [
    (lambda g: "/dashboard/", "dashboard-charts", "Bookings per day"),
    (lambda g: "/dashboard/calendar", "calendar-view", "Week of"),
    (lambda g: "/dashboard/calendar?view=day&date=2030-01-07", "calendar-view", "Monday 07 January 2030"),
    (lambda g: f"/dashboard/calendar?trainer={g.alex.id}", "calendar-view", "Alex of Acme"),
    (lambda g: "/dashboard/bookings?when=all", "booking-list", "Ann of Acme"),
    (lambda g: f"/dashboard/bookings/{g.booking.id}", "booking-detail", "Audit trail"),
    (lambda g: f"/dashboard/bookings/{g.booking.id}/reschedule?date=2030-01-08", "reschedule-slots", "Tuesday 08 January"),
    (lambda g: f"/dashboard/availability?trainer={g.alex.id}", "weekly-rules", "Weekly hours"),
    (lambda g: f"/dashboard/availability?trainer={g.alex.id}", "overrides", "Dentist"),
    (lambda g: f"/dashboard/availability?trainer={g.alex.id}", "holidays", "Acme closed"),
    (lambda g: f"/dashboard/availability?trainer={g.alex.id}", "slot-preview", "What customers see"),
    (lambda g: "/dashboard/types", "type-list", "Acme Personal Training"),
    (lambda g: "/dashboard/types/new", "type-form", "Add service"),
    (lambda g: f"/dashboard/types/{g.pt.id}", "type-form", "Acme Personal Training"),
    (lambda g: "/dashboard/links", "link-list", "Copy link"),
    (lambda g: "/dashboard/links/new", "link-form", "Create page"),
    (lambda g: f"/dashboard/links/{g.link.id}", "link-form", "acme-pt"),
    (lambda g: f"/dashboard/links/{g.link.id}/branding", "branding-form", "Save branding"),
    (lambda g: f"/dashboard/links/{g.link.id}/branding?primary_color=%23aa0000", "branding-preview", "--brand:#aa0000"),
    (lambda g: "/dashboard/team", "team-list", "Sam of Acme"),
    (lambda g: "/dashboard/team", "team-add", "Add and invite"),
    (lambda g: f"/dashboard/team/{g.alex.id}", "member-bookings", "Ann of Acme"),
    (lambda g: "/dashboard/settings", "settings-form", "Save settings"),
]


@pytest.mark.parametrize("url, target, marker", FRAGMENTS, ids=[f"{t}" for _, t, _ in FRAGMENTS])
def test_page_and_fragment(owner, gym, url, target, marker):
    page = owner.get(url(gym))
    assert page.status_code == 200
    assert "<html" in text(page) and "dash-nav" in text(page)
    assert f'id="{target}"' in text(page) and marker in text(page)
    assert "HX-Request" in page.vary

    fragment = owner.get(url(gym), target=target)
    assert fragment.status_code == 200
    assert is_fragment(fragment)
    assert marker in text(fragment)
    assert f'id="{target}"' not in text(fragment)  # the block fills the target; it is not the target
    assert "HX-Request" in fragment.vary


def test_unknown_target_gets_the_whole_page(owner, gym):
    response = owner.get("/dashboard/bookings", target="not-a-block")
    assert "<html" in text(response)


def test_boosted_navigation_gets_the_whole_page(owner, gym):
    response = owner.client.get("/dashboard/calendar", headers={"HX-Request": "true", "HX-Boosted": "true",
                                                                "HX-Target": "calendar-view"})
    assert "<html" in text(response)


def test_signed_out_htmx_request_redirects_the_window(client, gym):
    response = client.get("/dashboard/bookings", headers={"HX-Request": "true", "HX-Target": "booking-list"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/auth/login?next=")


def test_dashboard_pages_are_not_cached(owner, gym):
    response = owner.get("/dashboard/bookings")
    assert "no-store" in response.headers["Cache-Control"]


POSTS = [r for r in ROW_ROUTES + PAGE_ROUTES if r.method == "POST"]


@pytest.mark.parametrize("route", POSTS, ids=str)
def test_csrf_is_enforced(owner, gym, route):
    data = route.data(gym) if route.data else {}
    refused = owner.post(route.url(gym), data, csrf=False)
    assert refused.status_code == 400
    assert "CSRF" in text(refused)
    forged = owner.post(route.url(gym), {**data, "csrf_token": "forged"}, csrf=False)
    assert forged.status_code == 400
    # The htmx way: the token in the X-CSRFToken header (base.html sets it with hx-headers).
    accepted = owner.client.post(route.url(gym), data=data, headers={"X-CSRFToken": owner.token})
    assert accepted.status_code == 303


@pytest.mark.parametrize("url", ["/auth/logout", "/auth/forgot"])
def test_csrf_is_enforced_on_auth_forms(owner, url):
    assert owner.post(url, {"email": "x@example.com"}, csrf=False).status_code == 400


def test_csrf_is_enforced_on_sign_in(client, gym):
    response = client.post("/auth/login", data={"email": gym.owner.email, "password": "correct horse battery"})
    assert response.status_code == 400
