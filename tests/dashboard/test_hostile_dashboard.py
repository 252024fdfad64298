"""Hostile input on the signed-in dashboard: classes of input that must get a 4xx (or be ignored),
never a server error — numbers that are not numbers, pages past any list, dates at the edge of the
calendar, NUL characters."""
from __future__ import annotations

import pytest
from dashboard_helpers import HTMX, text

from app.models import Organization


@pytest.mark.parametrize("page", ["100000000000000000000", "-5", "1e400", "nan", "x"])
@pytest.mark.parametrize("path", ["/dashboard/bookings", "/dashboard/outbox"])
def test_any_page_number_is_a_page(owner, path, page):
    response = owner.get(f"{path}?page={page}")
    assert response.status_code == 200, text(response)[:300]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2030-02-30", "\u0661\u0662"])
def test_calendar_dates_at_the_edge_of_the_calendar_show_today(owner, day):
    response = owner.get(f"/dashboard/calendar?date={day}")
    assert response.status_code == 200


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "sNaN", "NaN"])
def test_settings_refuse_numbers_that_are_not_numbers(owner, gym, db, value):
    before = db.session.get(Organization, gym.org.id).cancellation_cutoff_minutes
    response = owner.post("/dashboard/settings", {"name": "Acme", "timezone": "Europe/London",
                                                  "cancellation_cutoff_hours": value, "reminder_offsets": "24h"})
    assert response.status_code == 422, text(response)[:300]
    db.session.expire_all()
    assert db.session.get(Organization, gym.org.id).cancellation_cutoff_minutes == before


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "sNaN"])
def test_reminder_offsets_refuse_numbers_that_are_not_numbers(owner, value):
    response = owner.post("/dashboard/settings", {"name": "Acme", "timezone": "Europe/London",
                                                  "cancellation_cutoff_hours": "12", "reminder_offsets": value})
    assert response.status_code == 422, text(response)[:300]


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "sNaN", "-1"])
def test_prices_refuse_numbers_that_are_not_numbers(owner, value):
    response = owner.post("/dashboard/types/new", {"name": "Spin", "duration_minutes": "45", "price": value,
                                                   "currency": "GBP", "color": "#1f4fd1", "buffer_before_minutes": "0",
                                                   "buffer_after_minutes": "0", "min_notice_minutes": "0"})
    assert response.status_code == 422, text(response)[:300]


def test_a_nul_character_in_a_form_is_a_400(owner):
    response = owner.post("/dashboard/settings", {"name": "Ac\x00me", "timezone": "Europe/London",
                                                  "cancellation_cutoff_hours": "12", "reminder_offsets": "24h"})
    assert response.status_code == 400
    assert "NUL" in text(response)


def test_an_htmx_request_with_a_nul_character_gets_the_reason(owner):
    response = owner.client.get("/dashboard/bookings?q=a%00b", headers=HTMX)
    assert response.status_code == 400
