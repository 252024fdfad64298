"""The availability editor: weekly rules edited in place, date overrides, organization holidays, and beside
them a live preview of the next 7 days' slots, refreshed by htmx after every change (each change answers
with HX-Trigger: scheduleChanged, and the preview listens for it on the body).

A change that would leave upcoming bookings outside working time is not saved at once: the same POST
answers with a review (services.schedule_changes) listing them, whose form posts the change again with a
decision per booking (keep, cancel, move) and the fingerprint of the list it showed."""
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
    staff_actor,
    trainer_param,
)
from app.dashboard.blueprint import bp
from app.dashboard.forms import HolidayForm, OverrideForm, RuleForm
from app.extensions import htmx
from app.htmx import SCHEDULE_CHANGED, apply_errors, render, see_other, wanted_block, wants_fragment
from app.services.catalog import appointment_types
from app.services.errors import InvalidRequest, NotFound
from app.services.schedule_changes import DECISIONS, ScheduleChange, StaleReview, apply_change, change_impact
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


def _saved(trainer, block: str, message: str, *, announce: bool = False):
    """After a change: the section re-rendered for htmx, with the event that refreshes the preview
    (and, when `announce`, the message in the page's messages: what became of bookings is not seen in
    the section); post/redirect/get without JavaScript."""
    if htmx:
        if announce:
            flash(message, "success")
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
    change = ScheduleChange("update_rule", row_id=rule.id, day_of_week=form.day_of_week.data,
                            start_time=form.start_time.data, end_time=form.end_time.data)
    return _change(trainer, "weekly_rules", "Hours saved.", change, form=form, rule_errors={rule.id: form})


@bp.post("/availability/rules/<rule_id>/delete")
def rule_delete(rule_id):
    rule, trainer = _own_row(schedules.get_rule, rule_id)
    return _change(trainer, "weekly_rules", "Hours removed.", ScheduleChange("delete_rule", row_id=rule.id))


# --- date overrides ------------------------------------------------------------------------------

@bp.post("/availability/overrides")
def override_add():
    form = OverrideForm()
    trainer = _trainer_from(form.trainer.data)
    change = ScheduleChange("add_override", user_id=trainer.id, day=form.date.data, kind=form.kind.data,
                            start_time=form.start_time.data, end_time=form.end_time.data, reason=form.reason.data)
    return _change(trainer, "overrides", "Date change added.", change, form=form, override_form=form)


@bp.post("/availability/overrides/<override_id>/delete")
def override_delete(override_id):
    override, trainer = _own_row(schedules.get_override, override_id)
    return _change(trainer, "overrides", "Date change removed.",
                   ScheduleChange("delete_override", row_id=override.id))


# --- holidays (organization-wide: owners and admins) ---------------------------------------------

@bp.post("/availability/holidays")
def holiday_add():
    form = HolidayForm()
    if not is_admin():
        abort(403)
    trainer = _trainer_from(form.trainer.data)
    change = ScheduleChange("add_holiday", name=form.name.data, day=form.date.data)
    return _change(trainer, "holidays", "Holiday added.", change, form=form, holiday_form=form)


@bp.post("/availability/holidays/<holiday_id>/delete")
def holiday_delete(holiday_id):
    holiday = fetch(schedules.get_holiday, holiday_id)
    if not is_admin():
        abort(403)
    trainer = _trainer_from(request.form.get("trainer"))
    schedules.delete_holiday(org_id(), holiday.id)  # gives working time back: no booking can fall out
    return _saved(trainer, "holidays", "Holiday removed.")


# --- changes that would leave bookings outside working time ---------------------------------------

REVIEW_FIELDS = ("csrf_token", "review")
REVIEW_PREFIXES = ("decision-", "reason-")
REASON_MAX = 500
SECTION_IDS = {"weekly_rules": "weekly-rules", "overrides": "overrides", "holidays": "holidays"}


def _clean(value: str) -> str:
    """Form text without control characters (a NUL byte would reach the database)."""
    return "".join(ch for ch in value if ch >= " " or ch in "\t\n")[:REASON_MAX]


def _decisions() -> tuple[dict[str, str], dict[str, str]]:
    """The review form's choice and cancellation reason per booking id. Staff (trainers) may only keep
    bookings: cancelling or moving one is for owners and admins, as on the booking pages (403)."""
    decisions = {key[len("decision-"):]: value for key, value in request.form.items() if key.startswith("decision-")}
    reasons = {key[len("reason-"):]: _clean(value) for key, value in request.form.items() if key.startswith("reason-")}
    if not is_admin() and any(value in DECISIONS and value != "keep" for value in decisions.values()):
        abort(403)
    return decisions, reasons


def _change(trainer, block: str, message: str, change: ScheduleChange, *, form=None, **invalid):
    """Check the form, then save the change — or, when it would leave bookings outside working time
    and the person has not decided about them (or decided about another list than today's), answer
    with the review of those bookings instead, saving nothing."""
    if form is not None and not form.validate():
        return _invalid(trainer, block, **invalid)
    decisions, reasons = _decisions()
    reviewed = request.form.get("review")
    try:
        outcome = apply_change(org_id(), change, decisions=decisions, reasons=reasons, reviewed=reviewed,
                               actor=staff_actor(), today=_today())
    except StaleReview as exc:
        # First time: the review itself (200). A review of a list that changed meanwhile: 409, again.
        return _review(trainer, block, exc.impact, stale=reviewed is not None,
                       status=200 if reviewed is None else 409)
    except NotFound:
        abort(404)  # a row removed meanwhile, or another organization's
    except InvalidRequest as exc:
        if any(key.startswith("decision-") for key in exc.fields):
            impact = change_impact(org_id(), change, today=_today())
            return _review(trainer, block, impact, status=422, error=exc.message)
        if form is None:
            abort(400)
        apply_errors(form, exc)
        return _invalid(trainer, block, **invalid)
    return _done(trainer, block, message, outcome)


def _carried_fields() -> list[tuple[str, str]]:
    """The submitted change, carried through the review form unchanged."""
    return [(key, value) for key, value in request.form.items(multi=True)
            if key not in REVIEW_FIELDS and not key.startswith(REVIEW_PREFIXES)]


def _review(trainer, block: str, impact, *, stale: bool = False, status: int = 200, error: str | None = None):
    """The bookings the change would leave outside working time, each with its choice (a page, or the
    section's fragment for htmx)."""
    decisions, reasons = _decisions()
    block_name = "change_review" if wants_fragment() else None
    return render("dashboard/schedule_review.html", status=status, block=block_name, trainer=trainer, impact=impact,
                  stale=stale, error=error, action=request.path, section_id=SECTION_IDS[block], carried=_carried_fields(), decisions=decisions, reasons=reasons,
                  can_act=is_admin(), back=url_for("dashboard.availability", trainer=trainer.id))


def _done(trainer, block: str, message: str, outcome):
    """After saving: as any change when nothing is left to do; else the bookings still to move (with
    the way to the reschedule flow) and any that could not be cancelled."""
    parts = [message]
    if outcome.cancelled:
        parts.append(f"{len(outcome.cancelled)} booking{'s' if len(outcome.cancelled) != 1 else ''} cancelled "
                     "and the client told.")
    if outcome.kept:
        parts.append(f"{len(outcome.kept)} booking{'s' if len(outcome.kept) != 1 else ''} kept.")
    if not outcome.to_move and not outcome.failed:
        return _saved(trainer, block, " ".join(parts), announce=len(parts) > 1)
    block_name = "change_done" if wants_fragment() else None
    return render("dashboard/schedule_review.html", block=block_name, trigger=SCHEDULE_CHANGED, trainer=trainer,
                  outcome=outcome, summary=" ".join(parts), section_id=SECTION_IDS[block],
                  back=url_for("dashboard.availability", trainer=trainer.id))
