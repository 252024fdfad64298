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

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from app.models import Booking, BookingAudit, Notification, Organization

# Rows whose changes never alter which slots are offered.
_IGNORED = (BookingAudit, Notification)


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
        if obj in session.new or obj in session.deleted or session.is_modified(obj):
            (bookings if isinstance(obj, Booking) else schedule).add(org_id)
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
