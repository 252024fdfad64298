"""Template helpers shared by every blueprint."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from app.services.identity import logo_path
from app.services.phones import international


def format_local(value: datetime | None, tz: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """A UTC datetime shown as wall-clock time in `tz`."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["local"] = format_local
    app.jinja_env.filters["phone"] = international  # +1 781-234-5678: a stored number as people read it
    app.jinja_env.filters["logo_path"] = logo_path  # an organization's uploaded logo (None: it has none)

    @app.context_processor
    def inject_globals():
        return {"app_name": "Atlas Booking", "now_utc": datetime.now().astimezone()}
