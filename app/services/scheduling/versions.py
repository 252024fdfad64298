"""The organization's schedule versions: raised by every change that can alter availability.

Cached availability answers are keyed by (request, versions), so a change invalidates them in every
process at once without any cache having to be told. There are two counters, because bookings
change far more often than working hours: `booking_version` rises with any booking change,
`schedule_version` with everything else that shapes availability (hours, time off, holidays,
staff, appointment types, links, the organization). Caches of slow-changing data (a link's
staff and types, weekly rules) follow only `schedule_version`, so a new booking does not throw
them away. The raise happens in the same transaction as the change, right after the flush that
writes it, so a reader never sees the new rows with the old version.
"""
from __future__ import annotations

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session

from app.models import (
    AiActionLog,
    ApiKey,
    Booking,
    BookingAudit,
    Calendar,
    CalendarConnection,
    CalendarOAuthState,
    ClassAudit,
    ClassBooking,
    ClassSeries,
    ClassSession,
    Client,
    Notification,
    NotificationOptOut,
    Organization,
)

# Rows whose changes never alter which slots are offered. (Class series and spots shape one-to-one
# availability only through the sessions they make: see _SESSION_TIME. A class type's change raises
# schedule_version, which the public timetable's cached weeks follow for names and colours.)
_IGNORED = (BookingAudit, Notification, NotificationOptOut, CalendarConnection, CalendarOAuthState, ApiKey,
            AiActionLog, Client, ClassSeries, ClassBooking, ClassAudit)
# A class session is busy time for its instructor, like a booking: a new or removed session, or one
# whose time, instructor or status changed, moves booking_version (its spots and counts do not).
_SESSION_TIME = frozenset({"start_at", "end_at", "instructor_id", "status"})
# Of these rows, only changes to these columns alter slots (a calendar's busy cache, not its sync
# bookkeeping; a booking's time and status, not the state of its Google event).
_BOOKING_SYNC_ONLY = frozenset({"external_event_id", "external_calendar_id", "calendar_sync_status",
                                "calendar_sync_error", "calendar_sync_attempts", "calendar_sync_next_at",
                                "updated_at"})
# (Which trainers have a calendar that blocks time or receives bookings is cached with the booking
# pages, so choosing those calendars raises the version too.)
_CALENDAR_BUSY = frozenset({"busy_cache", "busy_cache_from", "busy_cache_until", "check_for_conflicts", "user_id",
                            "is_destination"})


def _changed_columns(obj) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


def _organizations_touched(session: Session) -> tuple[set, set]:
    schedule, bookings = set(), set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _IGNORED):
            continue
        if isinstance(obj, Organization):
            schedule.add(obj.id)
            continue
        org_id = getattr(obj, "organization_id", None)
        if org_id is None:
            continue
        if obj in session.new or obj in session.deleted:
            (bookings if isinstance(obj, (Booking, ClassSession)) else schedule).add(org_id)
        elif session.is_modified(obj):
            if isinstance(obj, ClassSession):
                if _changed_columns(obj) & _SESSION_TIME:
                    bookings.add(org_id)
            elif isinstance(obj, Booking):
                if _changed_columns(obj) - _BOOKING_SYNC_ONLY:
                    bookings.add(org_id)
            elif isinstance(obj, Calendar):
                if _changed_columns(obj) & _CALENDAR_BUSY:
                    schedule.add(org_id)
            else:
                schedule.add(org_id)
    return schedule, bookings


@event.listens_for(Session, "after_flush")
def _raise_versions(session: Session, flush_context) -> None:
    schedule, bookings = _organizations_touched(session)
    for ids, column in ((schedule, Organization.schedule_version), (bookings, Organization.booking_version)):
        if ids:
            session.execute(
                update(Organization)
                .where(Organization.id.in_(ids))
                .values({column: column + 1})
                .execution_options(synchronize_session=False)
            )
