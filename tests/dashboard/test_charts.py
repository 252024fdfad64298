"""The pictures: bookings per day for four weeks and utilisation per trainer, as accessible SVG with
the numbers repeated in a table — and the numbers themselves."""
from __future__ import annotations

import re
from datetime import timedelta

from dashboard_helpers import MONDAY, TODAY, at, is_fragment, text

from app.services import reports


def test_overview_charts_are_accessible_svg_with_a_table(owner, gym):
    body = text(owner.get("/dashboard/"))
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", body, re.S)
    assert len(svgs) == 2
    for svg in svgs:
        assert 'role="img"' in svg and "aria-label=" in svg and "<title>" in svg
    assert "2 bookings from Sun 06 Jan to Sat 02 Feb" in body
    assert "<td>Mon 07 Jan</td><td class=\"num\">2</td>" in body  # the table repeats the numbers
    assert "<script" not in "".join(svgs)


def test_bookings_per_day_counts_local_days_and_skips_cancelled(gym, make_booking):
    make_booking(staff=gym.sam, start=at(MONDAY, 23, 30), attendee_name="Late")  # still Monday in London
    make_booking(staff=gym.sam, start=at(MONDAY, 14), status="cancelled")
    counts = dict(reports.bookings_per_day(gym.org.id, TODAY, 28, "Europe/London"))
    assert counts[MONDAY] == 3 and counts[TODAY] == 0 and len(counts) == 28
    tokyo = dict(reports.bookings_per_day(gym.org.id, TODAY, 28, "Asia/Tokyo"))
    assert tokyo[MONDAY] == 2 and tokyo[MONDAY + timedelta(days=1)] == 1  # 23:30 UTC is Tuesday in Tokyo


def test_utilisation_is_booked_over_available_hours(gym, make_booking):
    from dashboard_helpers import NOW

    make_booking(staff=gym.alex, start=at(MONDAY, 14), minutes=90)
    rows = {u.name: u for u in reports.utilisation(gym.org.id, MONDAY, 7, "Europe/London", now=NOW)}
    alex, sam = rows["Alex of Acme"], rows["Sam of Acme"]
    # Mon–Fri 09–17 = 40 h, less Wednesday's day off = 32 h; booked 1 h + 1.5 h.
    assert (alex.booked_minutes, alex.available_minutes, alex.percent) == (150, 32 * 60, 8)
    assert (sam.booked_minutes, sam.available_minutes) == (60, 40 * 60)
    assert "Acme Owner" not in rows  # owners without hours are not trainers


def test_chart_fragment_for_one_trainer(owner, gym):
    response = owner.get(f"/dashboard/?trainer={gym.sam.id}", target="dashboard-charts")
    assert is_fragment(response)
    body = text(response)
    assert "1 bookings from" in body and "Sam of Acme" in body and "Alex of Acme" not in re.sub(r"<option.*?</option>", "", body)
