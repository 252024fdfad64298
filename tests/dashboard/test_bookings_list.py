"""The bookings list: a "From" date alone lists from that date on, and a collective booking is one
row naming all its trainers, counted once — here and in the overview's totals (issue 16, item 9)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from dashboard_helpers import MONDAY, NOW, at, text

from app.services.bookings import Actor, create_booking


@pytest.fixture
def pair(gym, make_link):
    """Pat's session with Alex and Sam together (a collective page), Monday 14:00."""
    make_link([gym.alex, gym.sam], [gym.pt], type="collective", slug="acme-duo")
    return create_booking(link_slug="acme-duo", start_time=at(MONDAY, 14), attendee_name="Pat Pair",
                          attendee_email="pat@example.com", actor=Actor("attendee"), now=NOW).booking


def rows(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<td class=\"nowrap\">.*?</tr>", page, re.S)


def test_a_from_date_alone_lists_from_that_date_onwards(owner, gym, make_booking):
    make_booking(staff=gym.alex, start=at(MONDAY + timedelta(days=1), 9), attendee_name="Tess Tuesday",
                 attendee_email="tess@example.com")
    make_booking(staff=gym.alex, start=at(MONDAY + timedelta(days=60), 9), attendee_name="Mo March",
                 attendee_email="mo@example.com")
    page = text(owner.get("/dashboard/bookings?date_from=2030-01-08", target="booking-list"))
    assert "Tess Tuesday" in page and "Mo March" in page and "Ann of Acme" not in page
    assert "2</strong> bookings" in page
    until = text(owner.get("/dashboard/bookings?date_to=2030-01-08", target="booking-list"))
    assert "Ann of Acme" in until and "Tess Tuesday" in until and "Mo March" not in until


def test_a_collective_booking_is_one_row_naming_every_trainer(owner, trainer, gym, pair):
    page = text(owner.get("/dashboard/bookings"))
    assert "3</strong> bookings" in page  # Ann, Bob and Pat's pair: not four
    pats = [row for row in rows(page) if "Pat Pair" in row]
    assert len(pats) == 1
    assert "Alex of Acme, Sam of Acme" in pats[0]
    assert f"/dashboard/bookings/{pair.id}" in pats[0]  # the lead: the booking its manage link names
    # Sam's own list (as an owner filtering, or Alex signed in): their part of it, once.
    sams = text(owner.get(f"/dashboard/bookings?trainer={gym.sam.id}"))
    assert "2</strong> bookings" in sams and len([r for r in rows(sams) if "Pat Pair" in r]) == 1
    alexs = text(trainer.get("/dashboard/bookings"))
    assert "2</strong> bookings" in alexs and "Pat Pair" in alexs


def test_the_overview_counts_a_collective_booking_once(owner, gym, pair):
    page = text(owner.get("/dashboard/"))
    stats = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page))
    assert stats["Next 7 days"] == "3"


def test_todays_agenda_lists_a_collective_booking_once_with_both_trainers(owner, gym, make_booking):
    import uuid

    group = uuid.uuid4()
    sunday = MONDAY - timedelta(days=1)
    lead = make_booking(staff=gym.alex, start=at(sunday, 15), appointment_type_id=gym.pt.id, group_id=group,
                        manage_token_hash="0" * 64, attendee_name="Pat Pair", attendee_email="pat@example.com")
    make_booking(staff=gym.sam, start=at(sunday, 15), appointment_type_id=gym.pt.id, group_id=group,
                 attendee_name="Pat Pair", attendee_email="pat@example.com")
    page = text(owner.get("/dashboard/"))
    items = re.findall(r'<li class="agenda__item.*?</li>', page, re.S)
    assert len(items) == 1 and "Pat Pair" in items[0] and "Alex of Acme, Sam of Acme" in items[0]
    assert f"/dashboard/bookings/{lead.id}" in items[0]
    stats = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page))
    assert stats["Today"] == "1"


def test_the_team_calendar_counts_a_collective_booking_once(owner, gym, pair):
    page = text(owner.get("/dashboard/calendar?view=day&date=2030-01-07"))
    assert "Whole team · 3 bookings" in page  # Ann, Bob, and Pat's pair (in both trainers' columns)
    assert page.count("Pat Pair") >= 2
