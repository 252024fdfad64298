"""What the dashboard shows about calendar sync: plain-language problems per trainer, and the
bookings whose events could not be written."""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Booking, User
from app.services.calendar.access import GONE, utcnow
from app.services.calendar.busy import is_current
from app.services.calendar.connections import connections_by_user
from app.services.zones import zone


def calendar_problems(staff: Sequence[User], *, now: datetime | None = None) -> dict[uuid.UUID, list[str]]:
    """Per staff member, plain-language reasons their availability or write-back is degraded (times
    in the staff member's own zone)."""
    now = utcnow(now)
    problems: dict[uuid.UUID, list[str]] = defaultdict(list)
    zones = {s.id: zone(s.timezone) for s in staff}
    if not zones:
        return problems
    policy = current_app.config["GOOGLE_UNREACHABLE_POLICY"]

    def at(moment: datetime, user_id) -> str:
        return moment.astimezone(zones[user_id]).strftime("%d %b %H:%M")

    connections = [c for members in connections_by_user(staff).values() for c in members]
    writes_somewhere = {c.user_id for c in connections for calendar in c.calendars if calendar.is_destination}
    for connection in connections:
        who = connection.user_id
        for calendar in connection.calendars:  # the calendar bookings went to is gone from Google
            if who not in writes_somewhere and (calendar.sync_error or "").startswith(GONE) \
                    and "bookings" in calendar.sync_error:
                problems[who].append(f"Bookings are not being added to Google Calendar: “{calendar.name}”, the "
                                     "calendar they went to, is no longer in your Google account. Choose another "
                                     "calendar for your bookings.")
        if connection.status == "needs_reconnect":
            problems[who].append(f"Google Calendar ({connection.account_email}) needs reconnecting: new bookings "
                                 "wait to be written, and its busy times are no longer updated.")
        for calendar in connection.calendars:
            if not calendar.check_for_conflicts:
                continue
            if calendar.busy_cache_until is None:
                what = "your slots are withheld until they can be read" if policy == "withhold" else "they are ignored"
                problems[who].append(f"Busy times of “{calendar.name}” have not been read yet; {what}.")
            elif not is_current(calendar, now):
                what = ("your slots are withheld until they can be read again" if policy == "withhold"
                        else "your slots are offered without them")
                since = at(calendar.busy_refreshed_at, who) if calendar.busy_refreshed_at else "never"
                cause = (f"Google could not be reached for “{calendar.name}” since {at(calendar.sync_failed_at, who)}"
                         if calendar.sync_failed_at is not None and connection.status == "active"
                         else f"Busy times of “{calendar.name}” are out of date")
                problems[who].append(f"{cause} (last read {since}); the busy times then known still count, "
                                     f"and {what}.")
            elif calendar.sync_failed_at is not None:
                what = (f"slots after {at(calendar.busy_cache_until, who)} are withheld" if policy == "withhold"
                        else "newer busy times are not known")
                problems[who].append(f"Google could not be reached for “{calendar.name}” since "
                                     f"{at(calendar.sync_failed_at, who)}; known busy times are still used, {what}.")
    return problems


def failed_write_counts(organization_id) -> dict[uuid.UUID, int]:
    """Per member of staff, how many of their bookings could not be written to Google."""
    return dict(db.session.execute(
        select(Booking.staff_id, func.count()).where(Booking.organization_id == organization_id,
                                                     Booking.calendar_sync_status == "failed")
        .group_by(Booking.staff_id)).all())


def failed_writes(organization_id, staff_id=None, limit: int = 20) -> list[Booking]:
    query = (select(Booking).where(Booking.organization_id == organization_id,
                                   Booking.calendar_sync_status == "failed")
             .order_by(Booking.start_at).limit(limit))
    if staff_id is not None:
        query = query.where(Booking.staff_id == staff_id)
    return list(db.session.scalars(query))
