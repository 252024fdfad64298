"""The organization's schedule version: raised by every change that can alter availability.

Cached availability answers are keyed by (request, version), so a change invalidates them in every
process at once without any cache having to be told. The raise happens in the same transaction as
the change, right after the flush that writes it, so a reader can never see the new rows with the
old version.
"""
from __future__ import annotations

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from app.models import BookingAudit, Notification, Organization

# Rows whose changes never alter which slots are offered.
_IGNORED = (BookingAudit, Notification)


def _organizations_touched(session: Session) -> set:
    touched = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _IGNORED):
            continue
        if isinstance(obj, Organization):
            touched.add(obj.id)
            continue
        org_id = getattr(obj, "organization_id", None)
        if org_id is not None and (obj in session.new or obj in session.deleted or session.is_modified(obj)):
            touched.add(org_id)
    return touched


@event.listens_for(Session, "after_flush")
def _raise_schedule_version(session: Session, flush_context) -> None:
    touched = _organizations_touched(session)
    if touched:
        session.execute(
            update(Organization)
            .where(Organization.id.in_(touched))
            .values(schedule_version=Organization.schedule_version + 1)
            .execution_options(synchronize_session=False)
        )
