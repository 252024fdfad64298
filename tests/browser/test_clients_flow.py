"""The Clients pages in Chromium: public bookings make clients; the owner finds one by typing part
of a phone number (htmx filters as they type), opens them and saves a note without leaving the
page. Screenshots at desktop and phone size: tests/output/screenshots/dash-clients-*.png."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.services.bookings import Actor, create_booking

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect

PASSWORD = "correct horse battery"  # the factories' default


@pytest.fixture
def owner(gym, make_user, db):
    from app.models import Organization

    org = db.session.get(Organization, gym.organization_id)
    tz = ZoneInfo(org.timezone)
    day = datetime.now(tz).date() + timedelta(days=2)
    for hour, name, email, phone in ((9, "Jane Smith", "jane@example.com", "+447700900123"),
                                     (11, "Tom Hughes", "Tom.Hughes@example.com", None),
                                     (14, "Priya Shah", "priya@example.com", "+447700900456"),
                                     (16, "Jane Smith", "JANE@example.com", None)):
        start = datetime.combine(day, datetime.min.time().replace(hour=hour), tzinfo=tz)
        create_booking(link_slug=gym.slug, start_time=start, attendee_name=name, attendee_email=email,
                       attendee_phone=phone, actor=Actor("attendee"))
    return make_user(org=org, name="Olivia Owner", role="owner", email="owner@atlas.example")


def test_owner_finds_a_client_by_phone_and_notes_them(chromium, server, owner, screenshot):
    for name, viewport in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})):
        page = chromium.new_page(viewport=viewport)
        page.goto(f"{server}/auth/login")
        page.fill("#email", owner.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/dashboard/$"))
        if name == "phone":  # the sections sit behind the menu on a phone
            page.click(".dash-menu__toggle")
            page.click(".dash-menu__link >> text=Clients")
        else:
            page.click("nav.dash-nav >> text=Clients")
        page.wait_for_url(re.compile(r".*/dashboard/clients$"))
        assert page.locator(".clients-table tbody tr").count() == 3  # Jane's two bookings: one client
        screenshot(page, f"dash-clients-list-{name}")
        page.fill("#q", "0770 0900 456")  # typed, not submitted: htmx searches after a pause
        expect(page.locator(".clients-table tbody tr")).to_have_count(1)
        assert "Priya Shah" in page.inner_text("#client-list")
        assert "q=0770" in page.url  # the search is in the address, so back and reload keep it
        page.click("#client-list >> text=Priya Shah")
        page.wait_for_url(re.compile(r".*/dashboard/clients/[0-9a-f-]+$"))
        page.fill("#notes", f"Shoulder rehab — light weights only ({name}).")
        page.click("#client-notes button[type=submit]")
        expect(page.locator("#client-notes .alert--ok")).to_have_text("Saved.")
        assert page.input_value("#notes").endswith(f"({name}).")
        page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the picture
        screenshot(page, f"dash-clients-client-{name}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "sideways scrolling"
        page.close()
