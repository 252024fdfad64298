"""API keys for AI agents and the MCP server: owners and admins create them (the key is shown once, on
the page that answers the POST: it is never stored, so it can't be shown again) and revoke them.
Another organization's key answers 404; trainers get 403."""
from __future__ import annotations

from flask import current_app, flash, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.dashboard.access import admin_required, fetch, org_id
from app.dashboard.blueprint import bp
from app.dashboard.forms import MultiCheckboxField, choices
from app.extensions import htmx
from app.htmx import apply_errors, render, see_other
from app.models import API_KEY_SCOPES
from app.services import api_keys as service
from app.services.errors import Conflict, InvalidRequest

API_KEYS_CHANGED = "apiKeysChanged"


class ApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Name the key."), Length(max=service.NAME_MAX)],
                       description="Who or what will use it, e.g. “Claude booking assistant”.")
    scopes = MultiCheckboxField("Permissions", choices=choices((s, f"{service.SCOPE_LABELS[s]} ({s})")
                                                               for s in API_KEY_SCOPES),
                                validators=[DataRequired("Choose at least one permission.")],
                                default=["availability:read"])


def _page(*, status: int = 200, form: ApiKeyForm | None = None, new_key: service.NewApiKey | None = None,
          block: str | None = None, notice: str | None = None, notice_kind: str = "ok", trigger: str | None = None):
    return render("dashboard/api_keys.html", ["api_keys_panel"], status=status, block=block, trigger=trigger,
                  keys=service.list_api_keys(org_id()), form=form or ApiKeyForm(formdata=None), new_key=new_key,
                  labels=service.SCOPE_LABELS, app_url=current_app.config["APP_URL"], notice=notice,
                  actions=service.recent_actions(org_id()),
                  notice_kind=notice_kind)


@bp.get("/api-keys")
@admin_required
def api_keys():
    """The organization's keys: prefix, permissions, created, last used; a form for a new one."""
    return _page()


@bp.post("/api-keys")
@admin_required
def api_key_create():
    form = ApiKeyForm()
    if form.validate():
        try:
            new_key = service.create_api_key(org_id(), name=form.name.data, scopes=form.scopes.data,
                                             created_by_id=current_user.id)
        except InvalidRequest as exc:
            apply_errors(form, exc)
        else:
            # Rendered, not redirected: the key exists only in this response.
            return _page(new_key=new_key, block="api_keys_panel" if htmx else None, trigger=API_KEYS_CHANGED)
    return _page(status=422, form=form, block="api_keys_panel" if htmx else None)


@bp.post("/api-keys/<key_id>/revoke")
@admin_required
def api_key_revoke(key_id):
    key = fetch(service.get_api_key, key_id)
    try:
        service.revoke_api_key(org_id(), key.id)
    except Conflict as exc:
        if htmx:
            return _page(status=409, block="api_keys_panel", notice=exc.message, notice_kind="error")
        flash(exc.message, "error")
        return see_other(url_for("dashboard.api_keys"))
    message = f"Revoked {key.name}: anything using it is refused from now on."
    if htmx:
        return _page(block="api_keys_panel", notice=message, trigger=API_KEYS_CHANGED)
    flash(message, "success")
    return see_other(url_for("dashboard.api_keys"))
