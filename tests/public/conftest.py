"""Fixtures for the public pages: a gym with a branded link, frozen time, and a form-filling helper."""
from __future__ import annotations

import html
import re
from datetime import date, datetime, timezone

import pytest
import time_machine

# A Sunday noon; the Monday after is 2030-01-07. Europe/London is UTC+0 in January.
NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)
MONDAY = date(2030, 1, 7)
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def org(make_org):
    return make_org(slug="atlas", name="Atlas Fitness", timezone="Europe/London",
                    contact_email="hello@atlas.example", cancellation_cutoff_minutes=12 * 60)


@pytest.fixture
def trainer(make_trainer, org):
    return make_trainer(org=org, name="Alex Morgan")


@pytest.fixture
def pt_type(make_appointment_type, org):
    return make_appointment_type(org=org, name="Personal Training", duration_minutes=60, price_pennies=5000,
                                 booking_window_days=None, location="Main gym floor",
                                 description="One-to-one coaching.")


@pytest.fixture
def link(make_link, trainer, pt_type, db):
    link = make_link([trainer], [pt_type], slug="pt")
    link.name = "Book Personal Training"  # the factory fixes the name
    link.branding.primary_color = "#0f766e"
    link.branding.accent_color = "#f59e0b"
    link.branding.welcome_text = "Train one-to-one with Alex."
    db.session.commit()
    return link


def hx(target: str) -> dict:
    return {**HTMX, "HX-Target": target}


def text_of(response) -> str:
    return response.get_data(as_text=True)


def hrefs(response, pattern: str) -> list[str]:
    """The (unescaped) href values of links whose href matches `pattern`."""
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', text_of(response)) if re.search(pattern, h)]


def form_fields(response, action_contains: str = "") -> tuple[str, dict]:
    """The first POST form (whose action contains `action_contains`): its action and field values."""
    page = text_of(response)
    for match in re.finditer(r'<form[^>]*method="post"[^>]*>(.*?)</form>', page, re.S):
        tag = match.group(0)[: match.group(0).index(">") + 1]
        action = html.unescape(re.search(r'action="([^"]*)"', tag).group(1))
        if action_contains not in action:
            continue
        fields = {}
        body = match.group(1)
        for inp in re.finditer(r"<input([^>]*)>", body):
            attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', inp.group(1)))
            if "name" not in attrs:
                continue
            if attrs.get("type") == "radio" and "checked" not in inp.group(1):
                continue
            fields[attrs["name"]] = html.unescape(attrs.get("value", ""))
        for area in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', body, re.S):
            fields[area.group(1)] = html.unescape(area.group(2)).lstrip("\r\n")
        for select in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', body, re.DOTALL):
            # As a browser sends it: the selected option, else the first.
            options = re.findall(r'<option([^>]*)value="([^"]*)"([^>]*)>', select.group(2))
            chosen = next((value for before, value, after in options if "selected" in before + after),
                          options[0][1] if options else "")
            fields[select.group(1)] = html.unescape(chosen)
        return action, fields
    raise AssertionError(f"no POST form with action containing {action_contains!r}")


@pytest.fixture
def pages():
    """Helpers for reading pages in tests (kept in one place so each test reads as a journey)."""

    class Pages:
        hx = staticmethod(hx)
        text = staticmethod(text_of)
        hrefs = staticmethod(hrefs)
        form = staticmethod(form_fields)

    return Pages


@pytest.fixture
def booked(link, trainer):
    """A booking made through the service; returns (booking, manage token)."""
    from app.services.bookings import Actor, create_booking

    def make(start: datetime = datetime(2030, 1, 8, 10, 0, tzinfo=timezone.utc), **overrides):
        values = dict(link_slug=link.slug, start_time=start, attendee_name="Jane Smith",
                      attendee_email="jane@example.com", attendee_timezone="Europe/London",
                      description="Knee is a bit sore.", actor=Actor(type="attendee"))
        values.update(overrides)
        result = create_booking(**values)
        return result.booking, result.manage_token

    return make
