"""A group class in a real browser: one customer takes the last spot, a second finds the class full
and joins the waitlist, the first cancels from their manage link, the second is promoted — and the
promotion email reaches them when the outbox is delivered (the file outbox: no SMTP server here)."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.models import ClassBooking, Notification

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


@pytest.fixture
def app_config(app_config, tmp_path):
    """Emails go to files under tmp_path (no SMTP server); nothing is sent until the test delivers."""
    return dict(app_config, SMTP_HOST=None, TWILIO_ACCOUNT_SID=None, OUTBOX_DIR=str(tmp_path / "outbox"))


@pytest.fixture
def spin_session(gym, db, make_class_type, make_class_session, make_trainer):
    """Spin with two places, four days from now at 18:00 London time (clear of every cutoff), one place
    already taken by a regular."""
    from app.models import Organization
    from app.services import classes
    from app.services.bookings import Actor

    org = db.session.get(Organization, gym.organization_id)
    zone = ZoneInfo(org.timezone)
    day = datetime.now(zone).date() + timedelta(days=4)
    start = datetime.combine(day, time(18, 0), tzinfo=zone).astimezone(timezone.utc)
    spin = make_class_type(org=org, name="Spin", duration_minutes=45, capacity=2, location="Studio 2",
                           color="#dc2626", description="Forty-five minutes on the bike: intervals and hills.")
    sam = make_trainer(org=org, name="Sam Rivers")
    session = make_class_session(ctype=spin, instructor=sam, start=start)
    # A second class in the week, so the timetable shows more than one row.
    make_class_session(ctype=make_class_type(org=org, name="Yoga Flow", duration_minutes=60, capacity=12,
                                             color="#7c3aed"),
                       instructor=sam, start=start - timedelta(hours=10))
    classes.book_class(session_id=session.id, attendee_name="Rita Regular", attendee_email="rita@example.com",
                       actor=Actor("attendee"))
    return session


def outbox_emails(folder: Path) -> list:
    return [message_from_bytes(p.read_bytes(), policy=default_policy) for p in sorted(folder.glob("*.eml"))]


def test_last_spot_waitlist_cancel_and_promotion(chromium, server, gym, db, spin_session, screenshot, app):
    from playwright.sync_api import expect

    from app.services import notifications

    problems: list[str] = []

    def watch(page):
        page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)
        return page

    zone = ZoneInfo("Europe/London")
    local_day = spin_session.start_at.astimezone(zone).date()
    monday = local_day - timedelta(days=local_day.weekday())

    # --- Ann takes the last spot, from the timetable ---------------------------------------------------
    ann_context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    ann_context.set_default_timeout(TIMEOUT_MS)
    ann = watch(ann_context.new_page())
    ann.goto(f"{server}/classes/atlas")
    if ann.locator(f"#session-{spin_session.id}").count() == 0:
        # The class is next week: the week's navigation (htmx swaps the week in place).
        ann.locator("#week-next").click()
        expect(ann).to_have_url(re.compile(rf"week={monday.isoformat()}"))
    row = ann.locator(f"#session-{spin_session.id}")
    expect(row).to_contain_text("18:00")
    expect(row).to_contain_text("Sam Rivers")
    expect(row).to_contain_text("1 spot left")
    screenshot(ann, "classes-timetable")
    row.get_by_role("link", name=re.compile("^Book")).click()
    expect(ann.locator("#booking-title")).to_have_text("Book your spot")
    ann.get_by_label("Your name").fill("Ann Lee")
    ann.get_by_label("Email").fill("ann@example.com")
    ann.get_by_role("button", name="Book my spot").click()
    expect(ann.locator("#confirmation-title")).to_have_text("You're booked!")
    expect(ann.locator("#confirmation-sent")).to_contain_text("ann@example.com")
    screenshot(ann, "classes-booked-confirmation")
    ann_manage = ann.locator(".manage-link__url a").get_attribute("href")
    assert re.match(rf"{re.escape(server)}/booking/manage/[\w-]+$", ann_manage)

    # --- Bea finds it full and joins the waitlist ------------------------------------------------------
    bea_context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    bea_context.set_default_timeout(TIMEOUT_MS)
    bea = watch(bea_context.new_page())
    bea.goto(f"{server}/classes/atlas?week={monday.isoformat()}")
    bea_row = bea.locator(f"#session-{spin_session.id}")
    expect(bea_row).to_contain_text("Full — join waitlist")
    bea_row.get_by_role("link", name=re.compile("^Join waitlist")).click()
    expect(bea.locator("#booking-title")).to_have_text("This class is full — join the waitlist")
    expect(bea.locator("#class-spots")).to_have_text("Full — join waitlist")
    screenshot(bea, "classes-full-session")
    bea.get_by_label("Your name").fill("Bea Cole")
    bea.get_by_label("Email").fill("bea@example.com")
    bea.get_by_role("button", name="Join the waitlist").click()
    expect(bea.locator("#confirmation-title")).to_have_text("You're on the waitlist — position 1")
    expect(bea.locator("#waitlist-position")).to_contain_text("Position 1")
    screenshot(bea, "classes-waitlist-confirmation")
    bea_manage = bea.url.split("?")[0]

    # --- Ann cancels from her manage link; Bea is promoted ---------------------------------------------
    ann.goto(ann_manage)
    ann.get_by_role("link", name="Cancel my spot").click()
    expect(ann.locator("#actions-title")).to_have_text("Cancel your spot?")
    ann.get_by_role("button", name="Yes, cancel my spot").click()
    expect(ann.locator("#spot-status")).to_have_text("Cancelled")
    expect(ann.locator("#messages")).to_contain_text("Your spot is cancelled")

    bea.goto(bea_manage)
    expect(bea.locator("#spot-status")).to_have_text("Booked")
    screenshot(bea, "classes-promoted-manage")

    db.session.expire_all()
    bea_spot = db.session.scalars(select(ClassBooking).where(ClassBooking.attendee_email == "bea@example.com")).one()
    assert bea_spot.status == "confirmed" and bea_spot.promoted_at is not None

    # --- the outbox is delivered: Bea's promotion email arrives --------------------------------------------
    notifications.process_due()
    db.session.expire_all()
    promoted = db.session.scalars(select(Notification).where(
        Notification.class_booking_id == bea_spot.id, Notification.template == "class_promoted",
        Notification.channel == "email")).one()
    assert promoted.status == "sent", promoted.last_error
    emails = [m for m in outbox_emails(Path(app.config["OUTBOX_DIR"])) if m["To"] and "bea@example.com" in m["To"]]
    subjects = [m["Subject"] for m in emails]
    promotion = [m for m in emails if "Spin" in m["Subject"] and m["Subject"].startswith("You're in")]
    assert len(promotion) == 1, subjects
    body = promotion[0].get_body(("plain",)).get_content()
    assert "moved from the waitlist" in body and bea_manage.split("/")[-1] in body
    assert problems == []
    ann_context.close()
    bea_context.close()
