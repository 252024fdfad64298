"""Services (appointment types) and booking pages (links): create, edit, deactivate; the branding editor
with a live preview of the public page; a copy-link field."""
from __future__ import annotations

from decimal import Decimal

from flask import abort, current_app, flash, request, url_for
from flask_login import current_user

from app.dashboard.access import fetch, is_admin, org_id
from app.dashboard.blueprint import bp
from app.dashboard.forms import (
    ActiveForm,
    AppointmentTypeForm,
    BrandingForm,
    LinkForm,
    choices,
)
from app.extensions import htmx
from app.htmx import apply_errors, render, see_other
from app.services import catalog
from app.services.branding import palette, safe_logo_url
from app.services.errors import InvalidRequest
from app.services.team import team

TYPE_FIELDS = {"price_pennies": "price"}


def public_url(slug: str) -> str:
    return f"{current_app.config['APP_URL']}/book/{slug}"


def _admin_only():
    if not is_admin():
        abort(403)


# --- appointment types ---------------------------------------------------------------------------

def _type_list(status: int = 200, block: str | None = None):
    return render("dashboard/types.html", ["type_list"], status=status, block=block,
                  types=catalog.appointment_types(org_id()), can_edit=is_admin(), active_form=ActiveForm(formdata=None))


@bp.get("/types")
def types():
    return _type_list()


def _type_input(form: AppointmentTypeForm) -> catalog.AppointmentTypeInput:
    price = form.price.data if form.price.data is not None else Decimal(0)
    return catalog.AppointmentTypeInput(
        name=form.name.data, description=form.description.data, duration_minutes=form.duration_minutes.data,
        buffer_before_minutes=form.buffer_before_minutes.data, buffer_after_minutes=form.buffer_after_minutes.data,
        price_pennies=int((price * 100).to_integral_value()), currency=form.currency.data,
        min_notice_minutes=form.min_notice_minutes.data, booking_window_days=form.booking_window_days.data,
        slot_interval_minutes=form.slot_interval_minutes.data, max_per_day=form.max_per_day.data,
        location=form.location.data, color=form.color.data)


def _type_form_page(form, atype=None, status: int = 200):
    return render("dashboard/type_form.html", ["type_form"], status=status, form=form, atype=atype)


@bp.route("/types/new", methods=["GET", "POST"])
def type_new():
    _admin_only()
    form = AppointmentTypeForm()
    if form.validate_on_submit():
        try:
            atype = catalog.create_appointment_type(org_id(), _type_input(form))
        except InvalidRequest as exc:
            apply_errors(form, exc, TYPE_FIELDS)
        else:
            flash(f"{atype.name} added.", "success")
            return see_other(url_for("dashboard.types"))
    return _type_form_page(form, status=422 if request.method == "POST" else 200)


@bp.route("/types/<type_id>", methods=["GET", "POST"])
def type_edit(type_id):
    atype = fetch(catalog.get_appointment_type, type_id)
    _admin_only()
    if request.method == "GET":
        form = AppointmentTypeForm(obj=atype)
        form.price.data = Decimal(atype.price_pennies) / 100
        return _type_form_page(form, atype)
    form = AppointmentTypeForm()
    if form.validate_on_submit():
        try:
            catalog.update_appointment_type(org_id(), atype.id, _type_input(form))
        except InvalidRequest as exc:
            apply_errors(form, exc, TYPE_FIELDS)
        else:
            flash(f"{atype.name} saved.", "success")
            return see_other(url_for("dashboard.types"))
    return _type_form_page(form, atype, status=422)


@bp.post("/types/<type_id>/active")
def type_active(type_id):
    return _set_active(catalog.get_appointment_type, catalog.set_appointment_type_active, type_id,
                       lambda: _type_list(block="type_list"), ("reactivated", "deactivated: no longer offered"),
                       "dashboard.types")


def _set_active(getter, setter, row_id, relist, words: tuple[str, str], back: str):
    """Deactivate or reactivate a type or a page (owners and admins): the list again for htmx, else
    back to it with a message."""
    row = fetch(getter, row_id)
    _admin_only()
    form = ActiveForm()
    if not form.validate():
        abort(400)
    setter(org_id(), row.id, form.active.data == "1")
    if htmx:
        return relist()
    flash(f"{row.name} {words[0] if row.is_active else words[1]}.", "success")
    return see_other(url_for(back))


# --- booking links -------------------------------------------------------------------------------

def _links():
    return catalog.booking_links(org_id(), staff_id=None if is_admin() else current_user.id)


def _link_list(block: str | None = None):
    return render("dashboard/links.html", ["link_list"], block=block, links=_links(), can_edit=is_admin(),
                  public_url=public_url, active_form=ActiveForm(formdata=None))


@bp.get("/links")
def links():
    return _link_list()


def _link_form(form: LinkForm) -> LinkForm:
    form.staff_ids.choices = choices((str(m.id), m.name + ("" if m.active else " (deactivated)"))
                                     for m in team(org_id()))
    form.appointment_type_ids.choices = choices((str(t.id), t.name + ("" if t.is_active else " (inactive)"))
                                                for t in catalog.appointment_types(org_id()))
    return form


def _link_input(form: LinkForm) -> catalog.BookingLinkInput:
    return catalog.BookingLinkInput(name=form.name.data, slug=form.slug.data, type=form.type.data,
                                    description=form.description.data, is_public=form.is_public.data,
                                    staff_ids=tuple(form.staff_ids.data or ()),
                                    appointment_type_ids=tuple(form.appointment_type_ids.data or ()))


def _link_form_page(form, link=None, status: int = 200):
    return render("dashboard/link_form.html", ["link_form"], status=status, form=form, link=link,
                  public_url=public_url)


@bp.route("/links/new", methods=["GET", "POST"])
def link_new():
    _admin_only()
    form = _link_form(LinkForm())
    if form.validate_on_submit():
        try:
            link = catalog.create_booking_link(org_id(), _link_input(form))
        except InvalidRequest as exc:
            apply_errors(form, exc)
        else:
            flash(f"Booking page {link.name} created. Choose its colours here.", "success")
            return see_other(url_for("dashboard.link_branding", link_id=link.id))
    return _link_form_page(form, status=422 if request.method == "POST" else 200)


@bp.route("/links/<link_id>", methods=["GET", "POST"])
def link_edit(link_id):
    link = fetch(catalog.get_booking_link, link_id)
    _admin_only()
    if request.method == "GET":
        form = _link_form(LinkForm(obj=link))
        form.staff_ids.data = [str(m.id) for m in link.staff]
        form.appointment_type_ids.data = [str(t.id) for t in link.appointment_types]
        return _link_form_page(form, link)
    form = _link_form(LinkForm())
    if form.validate_on_submit():
        try:
            catalog.update_booking_link(org_id(), link.id, _link_input(form))
        except InvalidRequest as exc:
            apply_errors(form, exc)
        else:
            flash(f"{link.name} saved.", "success")
            return see_other(url_for("dashboard.links"))
    return _link_form_page(form, link, status=422)


@bp.post("/links/<link_id>/active")
def link_active(link_id):
    return _set_active(catalog.get_booking_link, catalog.set_booking_link_active, link_id,
                       lambda: _link_list(block="link_list"), ("reactivated", "deactivated: its page is offline"),
                       "dashboard.links")


# --- branding ------------------------------------------------------------------------------------

BRANDING_FIELDS = ("logo_url", "primary_color", "accent_color", "welcome_text")


def _preview(link, values: catalog.BrandingInput) -> dict:
    """What the public page would look like with these values (colours made readable exactly as the
    public page makes them)."""
    return {"palette": palette(values.primary_color, values.accent_color), "logo_url": safe_logo_url(values.logo_url),
            "welcome_text": values.welcome_text, "link": link}


def _previewable(values: catalog.BrandingInput, stored: catalog.BrandingInput, form=None) -> catalog.BrandingInput:
    """The values to preview: each invalid field falls back to the saved one (its error goes on the form)."""
    try:
        return catalog.validate_branding(values)
    except InvalidRequest as exc:
        if form is not None:
            apply_errors(form, exc)
        for name in exc.fields:
            setattr(values, name, getattr(stored, name))
        return catalog.validate_branding(values)


def _branding_page(link, form: BrandingForm, values: catalog.BrandingInput, status: int = 200,
                   block: str | None = None):
    return render("dashboard/branding.html", ["branding_form", "branding_preview"], status=status, block=block,
                  link=link, form=form, preview=_preview(link, values), public_url=public_url(link.slug))


@bp.route("/links/<link_id>/branding", methods=["GET", "POST"])
def link_branding(link_id):
    """Logo, colours and welcome text, with a live preview. A GET carrying the fields (the editor sends
    them as you type) previews them unsaved; a POST saves."""
    link = fetch(catalog.get_booking_link, link_id)
    _admin_only()
    saved = link.branding
    stored = catalog.BrandingInput(**{name: getattr(saved, name, None) for name in BRANDING_FIELDS})
    if request.method == "GET":
        if any(name in request.args for name in BRANDING_FIELDS):
            form = BrandingForm(request.args, meta={"csrf": False})
            values = catalog.BrandingInput(**{name: request.args.get(name) for name in BRANDING_FIELDS})
            return _branding_page(link, form, _previewable(values, stored, form))
        form = BrandingForm(obj=saved) if saved is not None else BrandingForm(formdata=None)
        return _branding_page(link, form, stored)
    form = BrandingForm()
    values = catalog.BrandingInput(**{name: getattr(form, name).data for name in BRANDING_FIELDS})
    if form.validate_on_submit():
        try:
            catalog.update_branding(org_id(), link.id, values)
        except InvalidRequest as exc:
            apply_errors(form, exc)
        else:
            flash("Branding saved: the booking page shows it now.", "success")
            return see_other(url_for("dashboard.link_branding", link_id=link.id))
    return _branding_page(link, form, _previewable(values, stored), status=422)
