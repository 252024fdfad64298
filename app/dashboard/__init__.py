"""The staff dashboard: bookings, calendar, classes, clients, availability, services, booking pages, team, settings.

Every route needs a signed-in member of staff and shows only their organization's rows (another
organization's ids answer 404). HTML throughout: one URL renders the whole page, or for an htmx
request only the block its HX-Target names (app/htmx.py). Importing this package registers every
route on `bp`.
"""
from app.dashboard import (  # noqa: F401  (register the routes)
    api_keys,
    assistant,
    availability,
    bookings,
    calendar_sync,
    catalog,
    classes,
    clients,
    home,
    new_booking,
    outbox,
    team,
)
from app.dashboard.blueprint import bp

__all__ = ["bp"]
