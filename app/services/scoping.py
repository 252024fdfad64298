"""Every row is read within its organization: one rule for fetching a row by id.

A malformed id, a missing row and another organization's row all answer the same NotFound, so an
id from another gym reveals nothing (not even that it exists). The dashboard turns NotFound into 404.
"""
from __future__ import annotations

import uuid

from sqlalchemy import select

from app.extensions import db
from app.services.errors import NotFound


def parse_id(value, what: str) -> uuid.UUID:
    """`value` as a UUID, or NotFound naming `what` (an id that cannot exist is not found)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise NotFound(f"No such {what}.") from None


def org_row(model, org_id: uuid.UUID, row_id, what: str):
    """The `model` row with this id if it belongs to organization `org_id`, else NotFound."""
    row = db.session.get(model, parse_id(row_id, what)) if row_id is not None else None
    if row is None or row.organization_id != org_id:
        raise NotFound(f"No such {what}.")
    return row


def org_rows(model, org_id: uuid.UUID, ids) -> list | None:
    """Every `model` row with one of these ids, all of organization `org_id` — or None when any id
    is malformed, missing or another organization's (the caller names the field at fault)."""
    try:
        wanted = {value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)) for value in ids if value}
    except (TypeError, ValueError, AttributeError):
        return None
    if not wanted:
        return []
    rows = list(db.session.scalars(select(model).where(model.id.in_(wanted), model.organization_id == org_id)))
    return rows if len(rows) == len(wanted) else None
