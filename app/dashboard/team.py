"""The team (owners change it; admins look) and the organization's settings (owners and admins),
the class waitlist cutoff and late-cancel window among them."""
from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, request, url_for
from flask_login import current_user

from app.dashboard.access import admin_required, fetch, is_owner, org_id, org_tz
from app.dashboard.blueprint import bp
from app.dashboard.forms import ActiveForm, RoleForm, SettingsForm, TeamAddForm
from app.extensions import htmx
from app.htmx import apply_errors, render, see_other
from app.services import team as team_service
from app.services.classes import views as class_views
from app.services.errors import Conflict, InvalidRequest
from app.services.identity import LOGO_MAX_BYTES
from app.services.phones import international, organization_region
from app.services.quiet_hours import DEFAULT as QUIET_DEFAULT
from app.services.quiet_hours import QuietHours, organization_quiet_hours
from app.services.zones import canonical_zones, valid_zone, zone_groups


def _team_page(status: int = 200, add_form: TeamAddForm | None = None, block: str | None = None,
               notice: str | None = None, notice_kind: str = "ok"):
    members = team_service.team(org_id())
    return render("dashboard/team.html", ["team_list", "team_add"], status=status, block=block, members=members,
                  can_edit=is_owner(), add_form=add_form or TeamAddForm(formdata=None),
                  role_forms={m.id: RoleForm(formdata=None, prefix=f"m-{m.id}", role=m.role) for m in members},
                  active_form=ActiveForm(formdata=None), notice=notice, notice_kind=notice_kind)


@bp.get("/team")
@admin_required
def team():
    return _team_page()


@bp.post("/team")
@admin_required
def team_add():
    if not is_owner():
        abort(403)
    form = TeamAddForm()
    if form.validate():
        try:
            member = team_service.add_staff(org_id(), name=form.name.data, email=form.email.data,
                                            role=form.role.data, timezone_name=org_tz())
        except InvalidRequest as exc:
            apply_errors(form, exc)
        else:
            flash(f"{member.name} added. We've emailed them a link to choose a password.", "success")
            return see_other(url_for("dashboard.team"))
    return _team_page(status=422, add_form=form, block="team_add" if htmx else None)


def _member(user_id, *, owner: bool = False):
    member = fetch(team_service.get_member, user_id)
    if current_user.role not in ("owner", "admin") or (owner and not is_owner()):
        abort(403)
    return member


def _team_changed(message: str):
    if htmx:
        return _team_page(block="team_list", notice=message)
    flash(message, "success")
    return see_other(url_for("dashboard.team"))


def _team_refused(exc):
    if htmx:
        return _team_page(status=409, block="team_list", notice=exc.message, notice_kind="error")
    flash(exc.message, "error")
    return see_other(url_for("dashboard.team"))


@bp.post("/team/<user_id>/role")
def team_role(user_id):
    member = _member(user_id, owner=True)
    form = RoleForm(prefix=f"m-{member.id}")
    if not form.validate():
        abort(400)
    try:
        team_service.set_role(org_id(), member.id, form.role.data, acting_user_id=current_user.id)
    except (Conflict, InvalidRequest) as exc:
        return _team_refused(exc)
    return _team_changed(f"{member.name} is now {'an' if member.role in ('owner', 'admin') else 'a'} {member.role}.")


@bp.post("/team/<user_id>/active")
def team_active(user_id):
    member = _member(user_id, owner=True)
    form = ActiveForm()
    if not form.validate():
        abort(400)
    try:
        team_service.set_active(org_id(), member.id, form.active.data == "1", acting_user_id=current_user.id)
    except (Conflict, InvalidRequest) as exc:
        return _team_refused(exc)
    if not member.active:
        left = len(team_service.bookings_to_reassign(org_id(), member.id))
        message = (f"{member.name} is deactivated: no new bookings."
                   + (f" {left} upcoming booking{'s' if left != 1 else ''} to reassign." if left else ""))
        if left and not htmx:
            flash(message, "success")
            return see_other(url_for("dashboard.team_member", user_id=member.id))
        return _team_changed(message)
    return _team_changed(f"{member.name} is active again.")


@bp.get("/team/<user_id>")
def team_member(user_id):
    """A member and their upcoming bookings: after a deactivation, the ones to move to someone else."""
    member = _member(user_id)
    bookings = team_service.bookings_to_reassign(org_id(), member.id)
    return render("dashboard/team_member.html", ["member_bookings"], member=member, bookings=bookings, tz=org_tz(),
                  can_edit=is_owner(), active_form=ActiveForm(formdata=None))


# --- settings ------------------------------------------------------------------------------------

def _hours(minutes: int) -> str:
    return f"{minutes // 1440}d" if minutes % 1440 == 0 else f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _quiet_hours(form: SettingsForm, org):
    """The quiet hours the form asks for: a QuietHours, None (off), or UNCHANGED when the form did
    not carry them; a time left empty keeps the one in force (or the default's)."""
    mode = form.quiet_mode.data
    if not mode:
        return team_service.UNCHANGED
    if mode not in ("sms", "all", "off"):
        raise InvalidRequest("Please correct the highlighted fields.", fields={"quiet_mode": "choose one from the list"})
    if mode == "off":
        return None
    current = organization_quiet_hours(org.settings) or QUIET_DEFAULT
    return QuietHours(form.quiet_start.data or current.start, form.quiet_end.data or current.end, email=mode == "all")


def _zone_choices(form: SettingsForm) -> None:
    """The zones to choose from, grouped by area; a value typed that is no zone stays shown, chosen,
    under its error (so the list does not silently fall back to its first zone)."""
    current = form.timezone.data
    groups = {area: [(z.name, z.label) for z in zones] for area, zones in zone_groups(current)}
    if current and not valid_zone(current):
        shown = current if len(current) <= 64 and current.isprintable() else "that value"
        groups = {"Typed": [(current, f"{shown} (not a time zone)")], **groups}
    form.timezone.choices = groups


def _settings_page(form: SettingsForm, status: int = 200):
    _zone_choices(form)
    return render("dashboard/settings.html", ["settings_form"], status=status, form=form, zones=canonical_zones())


def _posted(name: str, value):
    """`value` when the form carried the field `name`, else UNCHANGED (an older form, an API client)."""
    return value if name in request.form else team_service.UNCHANGED


def _logo(form: SettingsForm):
    """The uploaded logo's bytes (at most one byte over the limit is read: enough to refuse it),
    None to remove it, or UNCHANGED when no file was chosen."""
    if form.remove_logo.data:
        return None
    upload = request.files.get("logo")
    if upload is None or not upload.filename:
        return team_service.UNCHANGED
    return upload.stream.read(LOGO_MAX_BYTES + 1)


def _class_windows(form: SettingsForm, org) -> dict:
    """The class windows in minutes (one left out of the POST keeps its value), checked before anything
    is saved: the organization's settings and these are saved together or not at all."""
    def minutes(field, current: int) -> int:
        if field.name not in request.form or field.data is None:
            return current
        return int((field.data * 60).to_integral_value())

    windows = {"waitlist_cutoff_minutes": minutes(form.class_waitlist_cutoff_hours, org.class_waitlist_cutoff_minutes),
               "late_cancel_minutes": minutes(form.class_late_cancel_hours, org.class_late_cancel_minutes)}
    errors = class_views.class_window_errors(windows["waitlist_cutoff_minutes"], windows["late_cancel_minutes"])
    if errors:
        raise InvalidRequest("Please correct the highlighted fields.", fields=errors)
    return windows


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings():
    org = current_user.organization
    if request.method == "GET":
        quiet = organization_quiet_hours(org.settings)
        form = SettingsForm(formdata=None, name=org.name, timezone=org.timezone,
                            phone_region=organization_region(org.settings),
                            quiet_mode="off" if quiet is None else "all" if quiet.email else "sms",
                            quiet_start=(quiet or QUIET_DEFAULT).start, quiet_end=(quiet or QUIET_DEFAULT).end,
                            cancellation_cutoff_hours=Decimal(org.cancellation_cutoff_minutes) / 60,
                            class_waitlist_cutoff_hours=Decimal(org.class_waitlist_cutoff_minutes) / 60,
                            class_late_cancel_hours=Decimal(org.class_late_cancel_minutes) / 60,
                            reminder_offsets=", ".join(_hours(m) for m in org.reminder_offsets_minutes or []),
                            frame_origins="\n".join((org.settings or {}).get("frame_origins", [])),
                            contact_email=org.contact_email, phone=international(org.phone) if org.phone else "",
                            postal_address=org.postal_address)
        return _settings_page(form)
    form = SettingsForm()
    if form.validate():
        try:
            windows = _class_windows(form, org)
            offsets = team_service.parse_reminder_offsets(form.reminder_offsets.data)
            origins = team_service.parse_frame_origins(form.frame_origins.data)
            team_service.update_settings(
                org_id(), name=form.name.data, timezone_name=form.timezone.data,
                cancellation_cutoff_minutes=int((form.cancellation_cutoff_hours.data * 60).to_integral_value()),
                reminder_offsets_minutes=offsets, frame_origins=origins, phone_region=form.phone_region.data or None,
                quiet_hours=_quiet_hours(form, org),
                contact_email=_posted("contact_email", form.contact_email.data),
                phone=_posted("phone", form.phone.data),
                postal_address=_posted("postal_address", form.postal_address.data), logo=_logo(form))
            class_views.update_class_windows(org_id(), **windows)
        except InvalidRequest as exc:
            apply_errors(form, exc, {"cancellation_cutoff": "cancellation_cutoff_hours", "quiet_hours": "quiet_end",
                                     "class_waitlist_cutoff": "class_waitlist_cutoff_hours",
                                     "class_late_cancel": "class_late_cancel_hours"})
        else:
            flash("Settings saved.", "success")
            return see_other(url_for("dashboard.settings"))
    return _settings_page(form, status=422)
