"""The public pages' plain helpers: brand colours, time formatting, picker state and calendar."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from app.public.picker import PickerState, build_calendar
from app.public.zones import fmt_duration, fmt_span, fmt_when, zone_choices
from app.services.branding import WHITE, contrast, palette, safe_logo_url, tint
from app.services.zones import valid_zone
from app.timeformat import duration_text


@pytest.mark.parametrize("primary", ["#1f4fd1", "#0f766e", "#ffe14d", "#ffffff", "#000000", "#7f7f7f", "#ff7a1a",
                                     "#22c55e", "#e11d48"])
def test_every_brand_colour_gives_readable_text(primary):
    colours = palette(primary, "#fde68a")
    assert contrast(colours.brand, colours.brand_contrast) >= 4.5   # button text
    assert contrast(colours.brand_ink, WHITE) >= 4.5                # links on white
    assert contrast(colours.brand_ink, tint(colours.brand, .18)) >= 4.5  # free days on their tint
    assert contrast(colours.focus, WHITE) >= 3                      # focus ring


@pytest.mark.parametrize("bad", [None, "", "red", "#12345", "#1234567", "#12345g", "#fff;}body{x:y"])
def test_colours_that_are_not_hex_fall_back(bad):
    colours = palette(bad, bad)
    assert colours.brand == "#1f4fd1" and colours.accent == "#ff7a1a"
    assert ";}" not in colours.css().replace(";--", "")


def test_logo_urls_must_be_web_or_site_relative():
    assert safe_logo_url("https://gym.example/logo.png") == "https://gym.example/logo.png"
    assert safe_logo_url("/static/logo.svg") == "/static/logo.svg"
    for bad in ("javascript:alert(1)", "//evil.example/x.png", "data:image/png;base64,xx", None):
        assert safe_logo_url(bad) is None


def test_times_are_written_with_the_zone_named():
    start = datetime(2030, 3, 5, 9, 0, tzinfo=timezone.utc)
    end = datetime(2030, 3, 5, 10, 0, tzinfo=timezone.utc)
    assert fmt_when(start, "Europe/London") == "Tue 5 Mar, 09:00 (Europe/London)"
    assert fmt_when(start, "America/New_York") == "Tue 5 Mar, 04:00 (America/New_York)"
    assert fmt_span(start, end, "Europe/London", long=True) == "Tuesday 5 March 2030, 09:00–10:00 (Europe/London)"
    # across local midnight the end's day is named
    assert fmt_span(start, end, "Pacific/Kiritimati") == "Tue 5 Mar, 23:00–Wed 6 Mar, 00:00 (Pacific/Kiritimati)"


def test_durations_and_policies_read_naturally():
    assert [fmt_duration(m) for m in (30, 60, 90, 120)] == ["30 min", "1 hour", "1 h 30 min", "2 hours"]
    assert [duration_text(m) for m in (90, 720, 1440, 2880)] == ["90 minutes", "12 hours", "1 day", "2 days"]


def test_zone_choices_include_the_current_and_extra_zones_ordered_by_offset():
    now = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)
    choices = zone_choices("Asia/Kathmandu", "Europe/London", now=now)
    values = [value for value, _ in choices]
    assert "Asia/Kathmandu" in values and values.count("Europe/London") == 1
    assert values.index("America/New_York") < values.index("Europe/London") < values.index("Asia/Tokyo")
    assert dict(choices)["Asia/Kathmandu"] == "Asia/Kathmandu (UTC+05:45)"


def test_only_real_zone_names_are_accepted():
    assert valid_zone("Europe/London") == "Europe/London"
    for bad in ("Mars/Base", "../../etc/passwd", "/etc/localtime", "", None, "x" * 100):
        assert valid_zone(bad) is None


def test_picker_state_drops_what_it_cannot_read():
    state = PickerState.from_args({"tz": "Nowhere/Land", "type": "not-a-uuid", "month": "2030-13",
                                   "date": "2030-01-07", "slot": "2030-01-07T09:00:00", "staff": "x"})
    assert state == PickerState(day=date(2030, 1, 7))  # a slot without a zone offset is no slot
    ok = PickerState.from_args({"date": "2030-01-07", "slot": "2030-01-07T09:00:00Z", "month": "2030-02"})
    assert ok.slot == datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc) and ok.month == date(2030, 2, 1)
    assert PickerState.from_args({"slot": "2030-01-07T09:00:00Z"}).slot is None  # a slot needs its day


def test_calendar_weeks_start_on_monday_and_navigation_is_bounded():
    today = date(2030, 1, 6)
    cal = build_calendar(date(2030, 1, 1), frozenset({date(2030, 1, 7)}), today=today, selected=date(2030, 1, 7),
                         window_days=30)
    first_week = cal.weeks[0]
    assert first_week[0] is None and first_week[1].date == date(2030, 1, 1)  # 1 Jan 2030 is a Tuesday
    assert cal.prev_month is None and cal.next_month == date(2030, 2, 1)
    assert cal.first_free_day() == date(2030, 1, 7)
    days = {d.date: d for week in cal.weeks for d in week if d}
    assert days[date(2030, 1, 6)].today and days[date(2030, 1, 5)].past and days[date(2030, 1, 7)].selected
    feb = build_calendar(date(2030, 2, 1), frozenset(), today=today, selected=None, window_days=30)
    assert feb.prev_month == date(2030, 1, 1) and feb.next_month is None  # the window ends 5 February
    assert not feb.has_free_days
