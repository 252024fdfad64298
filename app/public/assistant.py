"""The booking assistant on a public booking page: POST /book/<slug>/assistant (404 without a key).

The visitor talks to the organization's public principal: it finds times and books on the gym's
public pages, and reads, moves or cancels a booking only with that booking's manage token — exactly
what the booking and manage pages let anyone do.
"""
from __future__ import annotations

from flask import abort, current_app, redirect, request, url_for

from app.agents import panel as assistant_panel
from app.agents import principal_for_public
from app.extensions import limiter
from app.htmx import private, render, wants_fragment
from app.public.blueprint import bp
from app.public.pages import book_page, book_step
from app.public.picker import PickerState


@bp.post("/book/<slug>/assistant")
@limiter.limit(lambda: current_app.config["RATELIMIT_ASSISTANT"])
def assistant(slug: str):
    """One message to the assistant: the page again with the conversation, or for htmx the new exchange."""
    if not assistant_panel.enabled():
        abort(404)
    page = book_page(slug, PickerState.from_args(request.args))
    if page.atype is None:
        abort(404)  # nothing bookable here: the page shows no panel either
    # Audited as the organization's public assistant, from this visitor's address.
    principal = principal_for_public(page.org).seen_from(request.remote_addr, request.headers.get("User-Agent"))
    panel, status = assistant_panel.handle(principal, context=page_context(page), audience=f"public:{page.link.slug}",
                                           action=url_for("public.assistant", slug=page.link.slug, tz=page.state.tz))
    if wants_fragment():
        return private(assistant_panel.fragment_response(panel, status))
    if panel.changed:
        page = book_page(slug, page.state)  # the calendar without the time just booked or freed
    return private(render("public/book.html", status=status, page=page, picker=page.picker, calendar=page.calendar,
        step=book_step(page), tz=page.tz, brand=page.brand, assistant=panel))


@bp.get("/book/<slug>/assistant")
def assistant_page(slug: str):
    """Where a plain form post leaves the address bar: coming back to it (a bookmark, the history)
    goes to the booking page itself rather than a "method not allowed"."""
    if not assistant_panel.enabled():
        abort(404)
    return redirect(url_for("public.book", slug=slug, tz=request.args.get("tz") or None), code=303)


def page_context(page) -> dict:
    """What the assistant is told about this page (see app.agents.assistant.system_prompt)."""
    link = page.link
    trainers = [m for m in link.staff if m.active]
    return {
        "organization": {"name": page.org.name, "slug": page.org.slug, "timezone": page.org.timezone},
        "timezone": page.tz,
        "booking_page": {
            "slug": link.slug, "name": link.name, "type": link.type,
            "url": f"{current_app.config['APP_URL']}{url_for('public.book', slug=link.slug)}",
            "services": [{"id": str(t.id), "name": t.name, "duration": t.duration_minutes,
                          "price": t.price_display} for t in page.types],
            "trainers": [{"id": str(m.id), "name": m.name} for m in trainers],
        },
        "fallback": ", or choose a time with the calendar on this page",
    }
