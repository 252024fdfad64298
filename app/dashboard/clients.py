"""Clients: the list (search by name, email or phone), a client's page with their bookings, their
class spots and the staff's notes, and the list as CSV — each through app/services/clients.py.

Owners and admins see every client of the organization. A trainer sees the clients they have a
booking with (in any status, cancelled included), and on a client's page only their own bookings
with them — the booking list's rule; another client of the gym is a 403, another gym's a 404. A
trainer may write notes on the clients they see: they are the ones who work with them.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import abort, flash, request, url_for
from flask_login import current_user

from app.dashboard.access import fetch, is_admin, org_id, org_tz, page_arg
from app.dashboard.blueprint import bp
from app.dashboard.csv_export import csv_response
from app.dashboard.forms import ClientForm, ClientSearchForm
from app.extensions import htmx
from app.htmx import apply_errors, render, see_other
from app.services import clients as service
from app.services.classes import views as class_views
from app.services.errors import InvalidRequest
from app.timeformat import iso_local

CSV_HEADER = ("Name", "Email", "Phone", "Bookings", "Upcoming", "No-shows", "Cancellations", "Next booking",
              "Last booking", "No marketing emails", "No marketing texts", "Notes", "Client since")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _viewer() -> uuid.UUID | None:
    """Whose clients the list is: None for owners and admins (everyone's), else the trainer's own."""
    return None if is_admin() else current_user.id


def _search(form: ClientSearchForm, *, export: bool = False):
    """The clients matching the form's query, or (with its errors placed) none."""
    if not form.validate():
        return None
    q = (form.q.data or "").strip() or None
    try:
        if export:
            return service.export_clients(org_id(), q, staff_id=_viewer(), now=_now())
        return service.search_clients(org_id(), q, staff_id=_viewer(), page=page_arg(), now=_now())
    except InvalidRequest as exc:
        apply_errors(form, exc)
        return None


@bp.get("/clients")
def clients():
    """The organization's clients (a trainer's: theirs), by name, filtered by name, email or phone."""
    form = ClientSearchForm(request.args)
    result = _search(form) or service.ClientPage(rows=[], total=0, page=1, per_page=service.PER_PAGE)
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render("dashboard/clients.html", ["client_list"], form=form, result=result, tz=org_tz(), args=args,
                  status=422 if form.errors else 200)


@bp.get("/clients/export.csv")
def clients_export():
    """The list as on screen — the same search, every page of it — as a CSV file."""
    form = ClientSearchForm(request.args)
    rows = _search(form, export=True)
    if rows is None:
        abort(400)
    tz = org_tz()

    def local(value):
        return iso_local(value, tz)[:16].replace("T", " ") if value else None

    return csv_response("clients", CSV_HEADER, (
        (row.client.name, row.client.email, row.client.phone, row.bookings, row.upcoming, row.no_shows,
         row.cancellations, local(row.next_at), local(row.last_at), row.client.marketing_email_opt_out,
         row.client.marketing_sms_opt_out, row.client.notes, local(row.client.created_at))
        for row in rows), today=_now().astimezone(ZoneInfo(tz)).date())


def load_client(client_id):
    """The client (404 for another organization's), if this user may see it (a trainer: a client
    they have a booking with, else 403)."""
    client = fetch(service.get_client, client_id)
    if not is_admin() and not service.has_bookings_with(org_id(), client.id, current_user.id):
        abort(403)
    return client


def _page(client, *, form: ClientForm | None = None, status: int = 200, notice: str | None = None,
          block: str | None = None):
    detail = service.client_detail(org_id(), client.id, staff_id=_viewer(), now=_now())
    form = form or ClientForm(formdata=None, obj=client)
    # Their class spots (a trainer's view: the sessions they teach), beside the bookings.
    spots = class_views.client_class_spots(org_id(), client.id, instructor_id=_viewer(), now=_now())
    return render("dashboard/client.html", ["client_notes"], status=status, block=block, detail=detail,
                  client=detail.client, form=form, tz=org_tz(), notice=notice, class_spots=spots)


@bp.get("/clients/<client_id>")
def client(client_id):
    return _page(load_client(client_id))


@bp.post("/clients/<client_id>")
def client_update(client_id):
    """Save the notes and opt-outs: htmx gets the notes card back, a browser the page again (303)."""
    found = load_client(client_id)
    form = ClientForm()
    if form.validate():
        try:
            service.update_client(org_id(), found.id, notes=form.notes.data,
                                  marketing_email_opt_out=form.marketing_email_opt_out.data,
                                  marketing_sms_opt_out=form.marketing_sms_opt_out.data)
        except InvalidRequest as exc:
            apply_errors(form, exc)
        else:
            if htmx:
                return _page(found, notice="Saved.", block="client_notes")
            flash("Client saved.", "success")
            return see_other(url_for("dashboard.client", client_id=found.id))
    return _page(found, form=form, status=422, block="client_notes" if htmx else None)
