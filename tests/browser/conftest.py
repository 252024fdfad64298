"""Headless Chromium (Playwright, sync API) against the test app served on a local port.

Chromium is Debian's (/usr/bin/chromium), launched with the flags in STYLE.md so it never tries
to reach the internet. Without it (or without Playwright) the browser tests skip, saying why.
Screenshots of every page go to tests/output/screenshots/ (git-ignored) for people to look at.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ATLAS_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "output" / "screenshots"


@pytest.fixture(scope="session")
def chromium():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium); browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def server(live_server, app):
    """The live test server; links in pages (the manage URL) point at it."""
    app.config["APP_URL"] = live_server
    return live_server


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


@pytest.fixture
def gym(make_org, make_trainer, make_appointment_type, make_link, db):
    """Atlas Fitness with a personal-training link; Alex works every day, so any week has free times."""
    org = make_org(slug="atlas", name="Atlas Fitness", timezone="Europe/London",
                   contact_email="hello@atlas.example", cancellation_cutoff_minutes=60)
    alex = make_trainer(org=org, name="Alex Morgan", hours={day: [("07:00", "20:00")] for day in range(7)})
    pt = make_appointment_type(org=org, name="Personal Training Session", duration_minutes=60, price_pennies=5000,
                               buffer_after_minutes=15, booking_window_days=90, location="Main gym floor",
                               description="1-on-1 personal training session")
    link = make_link([alex], [pt], slug="personal-training")
    link.name = "Book Personal Training"
    link.branding.primary_color = "#0f766e"
    link.branding.accent_color = "#f59e0b"
    link.branding.welcome_text = "Train one-to-one with Alex. Sessions last an hour; bring water and a towel."
    db.session.commit()
    return link
