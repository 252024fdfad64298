"""The overview: today's agenda and the pictures — bookings per day for the next four weeks, each
trainer's utilisation (booked ÷ available hours), and the last four weeks of classes (fill rate by
class, waitlist promotions, late cancellations and no-shows), drawn as SVG on the server."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import request
from flask_login import current_user

from app.dashboard.access import is_admin, org_id, org_tz, trainer_param
from app.dashboard.blueprint import bp
from app.dashboard.charts import bookings_per_day_chart, fill_rate_chart, utilisation_chart
from app.htmx import render, wanted_block
from app.services import reports
from app.services.scheduling import engine
from app.services.team import team

CHART_DAYS = 28
CLASS_REPORT_DAYS = 28  # the class figures look back: the four weeks ending today


@bp.get("/")
def home():
    tz = org_tz()
    now = datetime.now(timezone.utc)
    today = now.astimezone(ZoneInfo(tz)).date()
    trainer_arg = request.args.get("trainer", "")
    selected = None if is_admin() and trainer_arg in ("", "all") else trainer_param(trainer_arg or None)
    staff_ids = [selected.id] if selected else None
    per_day = reports.bookings_per_day(org_id(), today, CHART_DAYS, tz, staff_id=selected.id if selected else None)
    util = reports.utilisation(org_id(), today, CHART_DAYS, tz, now=now, staff_ids=staff_ids)
    # A trainer sees their own classes; owners and admins the team's, or the chosen trainer's.
    classes = reports.class_report(org_id(), today - timedelta(days=CLASS_REPORT_DAYS - 1), today, tz,
                                   instructor_id=selected.id if selected else None)
    members = team(org_id()) if is_admin() else [current_user._get_current_object()]
    context = dict(members=members, today=today, tz=tz, selected=selected, days=CHART_DAYS, per_day=per_day,
                   day_chart=bookings_per_day_chart(per_day, today), util=util, util_chart=utilisation_chart(util),
                   period_end=today + timedelta(days=CHART_DAYS - 1), classes=classes,
                   fill_chart=fill_rate_chart(classes.by_type))
    block = wanted_block(["dashboard_charts"])
    if block is None:
        start, end = engine.local_day_window(today, today, tz)
        own = None if is_admin() else [current_user.id]
        context.update(agenda=reports.agenda(org_id(), start, end, staff_ids=own),
                       staff_names={m.id: m.name for m in members}, now=now,
                       week_total=sum(count for _, count in per_day[:7]))
    return render("dashboard/home.html", block=block, **context)
