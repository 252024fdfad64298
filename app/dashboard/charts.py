"""Chart geometry for server-rendered SVG (no chart library): the numbers in, coordinates out.

The templates draw the shapes, give every chart a <title>, a description and aria-label, and repeat
the numbers in a table, so nobody has to read values off a picture.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from app.services.reports import ClassFigures, Utilisation


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    day: date
    label: str | None  # axis label under the bar (Mondays), None for the others
    is_today: bool
    is_weekend: bool


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_bottom: int
    bars: list[Bar]
    ticks: list[Tick]
    total: int
    busiest: tuple[date, int] | None


def _nice_max(value: int) -> int:
    if value <= 4:
        return 4
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= value:
            return int(math.ceil(top))
    return value


def bookings_per_day_chart(points: list[tuple[date, int]], today: date, *, width: int = 760,
                           height: int = 220) -> BarChart:
    """One bar per day; a y axis with four gridlines; Mondays labelled."""
    left, right, top, bottom = 34, 8, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for _, v in points), default=0))
    slot = plot_w / max(1, len(points))
    gap = min(4.0, slot * 0.25)
    bars = []
    for i, (day, value) in enumerate(points):
        h = plot_h * value / top_value
        bars.append(Bar(x=round(left + i * slot + gap / 2, 2), y=round(top + plot_h - h, 2),
                        width=round(slot - gap, 2), height=round(h, 2), value=value, day=day,
                        label=day.strftime("%d %b") if day.weekday() == 0 or i == 0 else None,
                        is_today=day == today, is_weekend=day.weekday() >= 5))
    ticks = [Tick(y=round(top + plot_h - plot_h * k / 4, 2), value=round(top_value * k / 4)) for k in range(5)]
    busiest = max(points, key=lambda p: p[1]) if points and any(v for _, v in points) else None
    return BarChart(width=width, height=height, plot_left=left, plot_bottom=top + plot_h, bars=bars, ticks=ticks,
                    total=sum(v for _, v in points), busiest=busiest)


@dataclass(frozen=True)
class UtilisationRow:
    name: str
    y: float
    bar_width: float
    percent: int | None
    booked_hours: float
    available_hours: float
    level: str  # low / mid / high, for the colour


@dataclass(frozen=True)
class UtilisationChart:
    width: int
    height: int
    label_width: int
    track_width: int
    row_height: int
    rows: list[UtilisationRow]


def _level(ratio: float) -> str:
    """The colour band of a share: high from 80 %, mid from 40 %, else low."""
    return "high" if ratio >= 0.8 else "mid" if ratio >= 0.4 else "low"


def utilisation_chart(items: list[Utilisation], *, width: int = 760) -> UtilisationChart:
    """A horizontal bar per trainer, 0–100 % of their available hours (over 100 % is drawn full)."""
    label_w, pct_w, row_h = 150, 120, 34
    track = width - label_w - pct_w
    rows = []
    for i, item in enumerate(items):
        ratio = item.ratio or 0.0
        level = _level(ratio)
        rows.append(UtilisationRow(name=item.name, y=i * row_h, bar_width=round(track * min(1.0, ratio), 2),
                                   percent=item.percent, booked_hours=round(item.booked_minutes / 60, 1),
                                   available_hours=round(item.available_minutes / 60, 1), level=level))
    return UtilisationChart(width=width, height=max(row_h, len(rows) * row_h), label_width=label_w, track_width=track,
                            row_height=row_h, rows=rows)


@dataclass(frozen=True)
class FillRateRow:
    name: str
    y: float
    bar_width: float
    percent: int | None
    booked: int
    places: int
    sessions: int
    level: str  # low / mid / high, for the colour


@dataclass(frozen=True)
class FillRateChart:
    width: int
    height: int
    label_width: int
    track_width: int
    row_height: int
    rows: list[FillRateRow]


def fill_rate_chart(items: list[ClassFigures], *, width: int = 760) -> FillRateChart:
    """A horizontal bar per class type (or instructor), 0–100 % of the places in their sessions taken,
    in the geometry of the utilisation chart."""
    label_w, pct_w, row_h = 150, 120, 34
    track = width - label_w - pct_w
    rows = []
    for i, item in enumerate(items):
        ratio = item.ratio or 0.0
        rows.append(FillRateRow(name=item.name, y=i * row_h, bar_width=round(track * min(1.0, ratio), 2),
                                percent=item.percent, booked=item.booked, places=item.places,
                                sessions=item.sessions, level=_level(ratio)))
    return FillRateChart(width=width, height=max(row_h, len(rows) * row_h), label_width=label_w, track_width=track,
                         row_height=row_h, rows=rows)
