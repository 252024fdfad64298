"""The availability editor: weekly rules edited in place, date overrides, organization holidays, and beside
them a live preview of the next 7 days' slots, refreshed by htmx after every change (each change answers
with HX-Trigger: scheduleChanged, and the preview listens for it on the body)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import abort, flash, request, url_for

from app.dashboard.access import (
    check_own,
    fetch,
    is_admin,
    org_id,
    org_tz,
    trainer_param,
)
from app.dashboard.blueprint import bp
from app.dashboard.forms import HolidayForm, OverrideForm, RuleForm
from app.extensions import htmx
from app.htmx import SCHEDULE_CHANGED, apply_errors, render, see_other, wanted_block
from app.services.catalog import appointment_types
from app.services.errors import InvalidRequest
from app.services.scheduling import schedules
from app.services.team import team

BLOCKS = ("weekly_rules", "overrides", "holidays", "slot_preview")


def _today() -> date:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(org_tz())).date()


def _trainer_from(value: str | None):
    """The trainer whose schedule is edited: staff get themselves; owners and admins the one asked
    for, else the first active trainer (owners rarely train), else themselves."""
    if not value and is_admin():
        trainers = [m for m in team(org_id(), active_only=True) if m.role == "staff"]
        if trainers:
            return trainers[0]
    return trainer_param(value or None)


def _chosen_type(types, value: str | None):
    active = [t for t in types if t.is_active]
    for atype in active:
        if str(atype.id) == (value or ""):
            return atype
    return active[0] if active else None


def editor(trainer, *, block: str | None = None, status: int = 200, trigger: str | None = None,
           rule_form: RuleForm | None = None, rule_errors: dict | None = None, override_form: OverrideForm | None = None,
           holiday_form: HolidayForm | None = None, type_value: str | None = None):
    """The editor page, or one of its sections (the block an htmx request targets, or `block`).
    Only what the rendered part shows is loaded: the preview refresh costs the preview's queries alone."""
    block = block or wanted_block(BLOCKS)
    today = _today()
    types = appointment_types(org_id())
    atype = _chosen_type(types, type_value if type_value is not None else request.args.get("type"))
    context = dict(trainer=trainer, today=today, tz=org_tz(), types=types, atype=atype,
                   day_names=schedules.DAY_NAMES, can_edit_holidays=is_admin())
    if block in (None, "slot_preview"):
        context["preview"] = (schedules.preview_slots(org_id(), trainer.id, atype.id) if atype is not None else None)
    if block in (None, "weekly_rules"):
        rule_errors = rule_errors or {}
        context["rule_rows"] = [(rule, rule_errors.get(rule.id) or _row_form(rule))
                                for rule in schedules.weekly_rules(org_id(), trainer.id)]
        context["rule_form"] = rule_form or RuleForm(formdata=None, trainer=str(trainer.id))
    if block in (None, "overrides"):
        context["overrides"] = schedules.upcoming_overrides(org_id(), trainer.id, today)
        context["override_form"] = override_form or OverrideForm(formdata=None, trainer=str(trainer.id))
        context["override_kind"] = schedules.override_kind
    if block in (None, "holidays"):
        context["holidays"] = schedules.upcoming_holidays(org_id(), today)
        context["holiday_form"] = holiday_form or HolidayForm(formdata=None, trainer=str(trainer.id))
    if block is None:
        context["members"] = team(org_id()) if is_admin() else []
    return render("dashboard/availability.html", status=status, trigger=trigger, block=block, **context)


@bp.get("/availability")
def availability():
    """The editor for one trainer (staff: themselves), with the preview for one appointment type."""
    return editor(_trainer_from(request.args.get("trainer")))


def _saved(trainer, block: str, message: str):
    """After a change: the section re-rendered for htmx, with the event that refreshes the preview;
    post/redirect/get without JavaScript."""
    if htmx:
        return editor(trainer, block=block, trigger=SCHEDULE_CHANGED)
    flash(message, "success")
    return see_other(url_for("dashboard.availability", trainer=trainer.id, type=request.args.get("type")))


def _invalid(trainer, block: str, **forms):
    """Validation errors: the section (htmx) or the whole page with the errors in place, as 422."""
    return editor(trainer, block=block if htmx else None, status=422, **forms)


# --- weekly rules --------------------------------------------------------------------------------

def _row_form(rule, formdata=None) -> RuleForm:
    return RuleForm(formdata=formdata, prefix=f"r-{rule.id}", day_of_week=rule.day_of_week,
                    start_time=rule.start_time, end_time=rule.end_time)


def _submit(form, trainer, block: str, message: str, save, **invalid):
    """Check the form and save it: the block again with `message`, or the form with its errors (422)."""
    if form.validate():
        try:
            save()
        except InvalidRequest as exc:
            apply_errors(form, exc)
        else:
            return _saved(trainer, block, message)
    return _invalid(trainer, block, **invalid)


def _own_row(getter, row_id):
    """A trainer's rule or override (404 for another organization's, 403 for a colleague's when the
    signed-in person is a trainer), and that trainer."""
    row = fetch(getter, row_id)
    check_own(row.user_id)
    return row, trainer_param(str(row.user_id))


@bp.post("/availability/rules")
def rule_add():
    form = RuleForm()
    trainer = _trainer_from(form.trainer.data)
    return _submit(form, trainer, "weekly_rules", "Hours added.",
                   lambda: schedules.add_rule(org_id(), trainer.id, form.day_of_week.data, form.start_time.data,
                                              form.end_time.data), rule_form=form)


@bp.post("/availability/rules/<rule_id>")
def rule_update(rule_id):
    rule, trainer = _own_row(schedules.get_rule, rule_id)
    form = RuleForm(prefix=f"r-{rule.id}")
    return _submit(form, trainer, "weekly_rules", "Hours saved.",
                   lambda: schedules.update_rule(org_id(), rule.id, form.day_of_week.data, form.start_time.data,
                                                 form.end_time.data), rule_errors={rule.id: form})


@bp.post("/availability/rules/<rule_id>/delete")
def rule_delete(rule_id):
    rule, trainer = _own_row(schedules.get_rule, rule_id)
    schedules.delete_rule(org_id(), rule.id)
    return _saved(trainer, "weekly_rules", "Hours removed.")


# --- date overrides ------------------------------------------------------------------------------

@bp.post("/availability/overrides")
def override_add():
    form = OverrideForm()
    trainer = _trainer_from(form.trainer.data)
    return _submit(form, trainer, "overrides", "Date change added.",
                   lambda: schedules.add_override(org_id(), trainer.id, day=form.date.data, kind=form.kind.data,
                                                  start_time=form.start_time.data, end_time=form.end_time.data,
                                                  reason=form.reason.data, today=_today()), override_form=form)


@bp.post("/availability/overrides/<override_id>/delete")
def override_delete(override_id):
    override, trainer = _own_row(schedules.get_override, override_id)
    schedules.delete_override(org_id(), override.id)
    return _saved(trainer, "overrides", "Date change removed.")


# --- holidays (organization-wide: owners and admins) ---------------------------------------------

@bp.post("/availability/holidays")
def holiday_add():
    form = HolidayForm()
    if not is_admin():
        abort(403)
    trainer = _trainer_from(form.trainer.data)
    return _submit(form, trainer, "holidays", "Holiday added.",
                   lambda: schedules.add_holiday(org_id(), name=form.name.data, day=form.date.data, today=_today()),
                   holiday_form=form)


@bp.post("/availability/holidays/<holiday_id>/delete")
def holiday_delete(holiday_id):
    holiday = fetch(schedules.get_holiday, holiday_id)
    if not is_admin():
        abort(403)
    trainer = _trainer_from(request.form.get("trainer"))
    schedules.delete_holiday(org_id(), holiday.id)
    return _saved(trainer, "holidays", "Holiday removed.")

