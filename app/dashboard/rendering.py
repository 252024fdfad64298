"""Pages and fragments: one URL renders the whole page, or — for an htmx request — only the block that
fills the element named by HX-Target (template fragments, via jinja2-fragments' render_block)."""
from __future__ import annotations

from collections.abc import Iterable

from flask import make_response, redirect, render_template
from flask_htmx.responses import HTMXResponseClientRedirect
from jinja2_fragments.flask import render_block

from app.extensions import htmx
from app.services.errors import InvalidRequest

# htmx events sent with HX-Trigger after changes (camelCase, as STYLE.md names them).
SCHEDULE_CHANGED = "scheduleChanged"
BOOKING_CHANGED = "bookingChanged"


def wanted_block(blocks: Iterable[str]) -> str | None:
    """The block an htmx request asks for: its HX-Target id (kebab-case) as a block name (snake_case),
    if the page has such a block. None: render the whole page (plain, boosted or history requests)."""
    if not htmx or htmx.boosted or htmx.history_restore_request:
        return None
    name = (htmx.target or "").replace("-", "_")
    return name if name in set(blocks) else None


def render(template: str, blocks: Iterable[str] = (), *, status: int = 200, trigger: str | None = None,
           block: str | None = None, **context):
    """The page, or the block an htmx request targets (or `block`, when the view already chose one)."""
    block = block or wanted_block(blocks)
    body = render_block(template, block, **context) if block else render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    response.vary.add("HX-Target")
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


def see_other(location: str, *, trigger: str | None = None):
    """After a successful POST: 303 for a browser, HX-Redirect for htmx (which would follow a 3xx itself)."""
    response = HTMXResponseClientRedirect(location) if htmx else redirect(location, code=303)
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


def apply_errors(form, exc: InvalidRequest, mapping: dict[str, str] | None = None) -> None:
    """Put a service's field errors next to the form's fields, and its sentence above the form (unless
    it only says "correct the highlighted fields", which the field errors already do)."""
    mapping = mapping or {}
    placed = False
    for name, message in (exc.fields or {}).items():
        target = getattr(form, mapping.get(name, name), None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*list(target.errors or []), message]
            placed = True
    if not placed or not exc.message.startswith("Please correct"):
        form.form_errors.append(exc.message)
