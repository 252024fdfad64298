"""htmx responses, one copy for every blueprint (public pages, dashboard, sign-in, the assistant).

One URL renders the whole page, or — for an htmx request — only the template block that fills the
element named by HX-Target (template fragments, via jinja2-fragments' render_block). A boosted
link or a history restore wants the whole page. After a successful POST a browser gets a 303 and
htmx a client-side redirect (it would follow a 3xx itself and swap the result into the target).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import make_response, redirect, render_template, session
from flask_htmx.responses import HTMXResponseClientRedirect
from jinja2_fragments.flask import render_block
from werkzeug.urls import iri_to_uri

from app.extensions import htmx
from app.services.errors import InvalidRequest

# htmx events sent with HX-Trigger after changes (camelCase, as STYLE.md names them).
SCHEDULE_CHANGED = "scheduleChanged"
BOOKING_CHANGED = "bookingChanged"


def wants_fragment() -> bool:
    """An htmx request that swaps part of the page (not a boosted link or a history restore)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def wanted_block(blocks: Iterable[str] | Mapping[str, str]) -> str | None:
    """The block an htmx request asks for, if the page has it; None: render the whole page.

    `blocks` names the page's blocks: an HX-Target id (kebab-case) asks for the block of the same
    name in snake_case; a mapping gives target ids whose block is named otherwise."""
    if not wants_fragment():
        return None
    target = htmx.target or ""
    if isinstance(blocks, Mapping):
        return blocks.get(target)
    name = target.replace("-", "_")
    return name if name in set(blocks) else None


def render(template: str, blocks: Iterable[str] | Mapping[str, str] = (), *, status: int = 200,
           trigger: str | None = None, block: str | None = None, **context):
    """The page, or the block an htmx request targets (or `block`, when the view already chose one).

    Messages flashed while answering with a block replace the page's messages (#messages, one live
    region in base.html) out of band, rather than waiting for — and stacking on — the next page."""
    block = block or wanted_block(blocks)
    body = render_block(template, block, **context) if block else render_template(template, **context)
    if block and session.get("_flashes"):
        body += render_template("_messages_oob.html")
    response = make_response(body, status)
    # The same URL answers with a page or a fragment: caches must keep them apart.
    response.vary.add("HX-Request")
    response.vary.add("HX-Target")
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


def see_other(location: str, *, trigger: str | None = None):
    """After a successful POST: 303 for a browser, HX-Redirect for htmx (which would follow a 3xx itself).

    The address is made ASCII (percent-encoded) first: a header may only carry Latin-1, and a path
    such as /dashboard/bookings?q=Zoë comes from people."""
    location = iri_to_uri(location)
    response = HTMXResponseClientRedirect(location) if htmx else redirect(location, code=303)
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


def private(response, *, noindex: bool = True):
    """A page that carries a secret in its URL or body (a manage token, a reset link, a conversation):
    never cached, never passed on in a Referer, and (unless `noindex` is off) never indexed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    if noindex:
        response.headers["X-Robots-Tag"] = "noindex"
    return response


def apply_errors(form, exc: InvalidRequest, mapping: Mapping[str, str] | None = None, *,
                 only_mapped: bool = False) -> None:
    """Put a service's field errors next to the form's fields, and its sentence above the form.

    `mapping` renames service fields to form fields (default: the form's SERVICE_FIELDS, if any).
    With `only_mapped`, only mapped fields take an error, and a lone field error is shown as the
    service's whole sentence (written for the person filling the form). The sentence also goes
    above the form unless every error found its field and it only says "correct the highlighted
    fields"."""
    mapping = mapping if mapping is not None else getattr(form, "SERVICE_FIELDS", {})
    fields = exc.fields or {}
    placed = leftover = False
    for name, message in fields.items():
        target = getattr(form, mapping.get(name, name), None)
        if target is None or not hasattr(target, "errors") or (only_mapped and name not in mapping):
            leftover = True
            continue
        text = exc.message if only_mapped and len(fields) == 1 else message
        target.errors = [*list(target.errors or []), text]
        placed = True
    if only_mapped:
        if leftover or not fields:
            form.form_errors.append(exc.message)
    elif not placed or not exc.message.startswith("Please correct"):
        form.form_errors.append(exc.message)
