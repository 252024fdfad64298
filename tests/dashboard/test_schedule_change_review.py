"""Schedule changes that respect bookings, in the availability editor: a change that would leave bookings
outside working time answers with a review of them (nothing saved), whose form saves it with a choice per
booking — keep, cancel (the client told) or move (then the reschedule flow)."""
from __future__ import annotations

from datetime import date, time
from html.parser import HTMLParser

from dashboard_helpers import MONDAY, at, is_fragment, text
from sqlalchemy import func, select

from app.models import AvailabilityOverride, AvailabilityRule, Booking, BookingAudit, Holiday, Notification

DAY_OFF = {"date": MONDAY.isoformat(), "kind": "day_off", "reason": "Course"}


class _FormFields(HTMLParser):
    """The fields a browser would send from the page's review form (hidden, checked radios, text)."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.in_review = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") == "review":
            self.in_review = True
        if tag != "input" or not self.in_review or not attrs.get("name"):
            return
        kind = attrs.get("type", "text")
        if kind in ("hidden", "text") or (kind == "radio" and "checked" in attrs):
            self.fields.append((attrs["name"], attrs.get("value") or ""))


def review_form(response) -> dict:
    parser = _FormFields()
    parser.feed(text(response))
    assert parser.fields, "no review form on the page"
    return dict(parser.fields)


def overrides_on(db, user, day: date) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AvailabilityOverride).where(
        AvailabilityOverride.user_id == user.id, AvailabilityOverride.date == day))


def status_of(db, booking) -> str:
    db.session.expire_all()
    return db.session.get(Booking, booking.id).status


def day_off_review(browser, gym, target=None):
    return browser.post("/dashboard/availability/overrides", {"trainer": str(gym.alex.id), **DAY_OFF}, target=target)


def test_a_day_off_over_a_booking_shows_it_before_saving(owner, gym, db):
    response = day_off_review(owner, gym)
    assert response.status_code == 200 and not is_fragment(response)
    body = text(response)
    assert "1 booking would fall outside working time" in body
    assert "Ann of Acme" in body and "Mon 07 Jan 2030, 10:00–11:00" in body and "Acme Personal Training" in body
    assert 'name="csrf_token"' in body
    assert f'name="decision-{gym.booking.id}" value="cancel"' in body
    assert overrides_on(db, gym.alex, MONDAY) == 0  # nothing saved yet
    assert status_of(db, gym.booking) == "confirmed"


def test_with_htmx_the_review_replaces_the_section(owner, gym, db):
    response = day_off_review(owner, gym, target="overrides")
    assert response.status_code == 200 and is_fragment(response)
    assert 'hx-target="#overrides"' in text(response) and "Ann of Acme" in text(response)
    assert "HX-Trigger" not in response.headers
    assert overrides_on(db, gym.alex, MONDAY) == 0


def test_keep_saves_the_day_off_and_the_booking_stays(owner, gym, db):
    form = review_form(day_off_review(owner, gym))
    assert form[f"decision-{gym.booking.id}"] == "keep"  # the default choice
    assert (form["date"], form["kind"], form["reason"]) == ("2030-01-07", "day_off", "Course")  # carried
    response = owner.post("/dashboard/availability/overrides", form)
    assert response.status_code == 303
    assert "1 booking kept" in text(owner.get(response.headers["Location"]))
    assert overrides_on(db, gym.alex, MONDAY) == 1
    assert status_of(db, gym.booking) == "confirmed"


def test_cancel_with_a_reason_cancels_notifies_and_audits(owner, gym, db):
    form = review_form(day_off_review(owner, gym))
    form[f"decision-{gym.booking.id}"] = "cancel"
    form[f"reason-{gym.booking.id}"] = "Alex is on a course"
    response = owner.post("/dashboard/availability/overrides", form, target="overrides")
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "scheduleChanged"
    # What became of the booking is said in the page's messages (it is not in the section).
    assert 'id="messages" hx-swap-oob' in text(response) and "1 booking cancelled and the client told" in text(response)
    assert overrides_on(db, gym.alex, MONDAY) == 1
    booking = db.session.get(Booking, gym.booking.id)
    assert (booking.status, booking.cancellation_reason) == ("cancelled", "Alex is on a course")
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.booking_id == booking.id, Notification.template == "booking_cancellation",
        Notification.recipient == "ann@acme.example")) == 1
    [audit] = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).all()
    assert (audit.action, audit.actor_type, audit.actor_id) == ("cancelled", "staff", str(gym.owner.id))


def test_move_saves_and_leads_to_the_reschedule_flow(owner, gym, db):
    form = review_form(day_off_review(owner, gym))
    form[f"decision-{gym.booking.id}"] = "move"
    response = owner.post("/dashboard/availability/overrides", form)
    assert response.status_code == 200
    assert f"/dashboard/bookings/{gym.booking.id}/reschedule" in text(response)
    assert overrides_on(db, gym.alex, MONDAY) == 1
    assert status_of(db, gym.booking) == "confirmed"  # until moved


def test_a_stale_review_is_reviewed_again(owner, gym, db, make_booking):
    form = review_form(day_off_review(owner, gym))
    late = make_booking(staff=gym.alex, start=at(MONDAY, 15), appointment_type_id=gym.pt.id,
                        attendee_name="Late Larry", attendee_email="larry@acme.example")
    response = owner.post("/dashboard/availability/overrides", form)
    assert response.status_code == 409
    assert "changed since you looked" in text(response) and "Late Larry" in text(response)
    assert overrides_on(db, gym.alex, MONDAY) == 0
    again = review_form(response)
    assert again["review"] != form["review"] and again[f"decision-{late.id}"] == "keep"
    assert owner.post("/dashboard/availability/overrides", again).status_code == 303
    assert overrides_on(db, gym.alex, MONDAY) == 1


def test_a_missing_or_unknown_decision_asks_again(owner, gym, db):
    form = review_form(day_off_review(owner, gym))
    form[f"decision-{gym.booking.id}"] = "explode"
    response = owner.post("/dashboard/availability/overrides", form)
    assert response.status_code == 422 and "Choose what happens to each booking" in text(response)
    del form[f"decision-{gym.booking.id}"]
    assert owner.post("/dashboard/availability/overrides", form).status_code == 422
    assert overrides_on(db, gym.alex, MONDAY) == 0


def test_a_trainer_may_keep_but_not_cancel(trainer, gym, db):
    response = day_off_review(trainer, gym)
    assert response.status_code == 200 and "Ann of Acme" in text(response)
    assert 'value="cancel"' not in text(response)
    form = review_form(response)
    refused = trainer.post("/dashboard/availability/overrides", {**form, f"decision-{gym.booking.id}": "cancel"})
    assert refused.status_code == 403
    assert status_of(db, gym.booking) == "confirmed" and overrides_on(db, gym.alex, MONDAY) == 0
    assert trainer.post("/dashboard/availability/overrides", form).status_code == 303
    assert overrides_on(db, gym.alex, MONDAY) == 1


def test_deleting_or_shortening_weekly_hours_is_reviewed(owner, gym, db):
    prefix = f"r-{gym.rule.id}-"
    shorter = owner.post(f"/dashboard/availability/rules/{gym.rule.id}",
                         {prefix + "day_of_week": "1", prefix + "start_time": "11:00", prefix + "end_time": "17:00"},
                         target="weekly-rules")
    assert shorter.status_code == 200 and "Ann of Acme" in text(shorter) and 'hx-target="#weekly-rules"' in text(shorter)
    assert db.session.get(AvailabilityRule, gym.rule.id).start_time == time(9)
    deleted = owner.post(f"/dashboard/availability/rules/{gym.rule.id}/delete")
    assert deleted.status_code == 200 and "Ann of Acme" in text(deleted)
    form = review_form(deleted)
    form[f"decision-{gym.booking.id}"] = "cancel"
    assert owner.post(f"/dashboard/availability/rules/{gym.rule.id}/delete", form).status_code == 303
    db.session.expire_all()
    assert db.session.get(AvailabilityRule, gym.rule.id) is None
    assert status_of(db, gym.booking) == "cancelled"


def test_a_holiday_lists_every_trainers_bookings(owner, gym, db):
    response = owner.post("/dashboard/availability/holidays", {"name": "Flood", "date": MONDAY.isoformat()})
    assert response.status_code == 200
    assert "Ann of Acme" in text(response) and "Bob of Acme" in text(response)
    assert "with Sam of Acme" in text(response)
    form = review_form(response)
    assert owner.post("/dashboard/availability/holidays", form).status_code == 303
    assert db.session.scalar(select(Holiday.name).where(Holiday.organization_id == gym.org.id,
                                                        Holiday.date == MONDAY)) == "Flood"
    assert status_of(db, gym.booking) == "confirmed" and status_of(db, gym.sam_booking) == "confirmed"


def test_a_partial_block_lists_only_the_booking_it_covers(owner, gym, db):
    response = owner.post("/dashboard/availability/overrides",
                          {"trainer": str(gym.alex.id), "date": MONDAY.isoformat(), "kind": "time_off",
                           "start_time": "10:30", "end_time": "12:00"})
    assert response.status_code == 200 and "Ann of Acme" in text(response)
    clear = owner.post("/dashboard/availability/overrides",
                       {"trainer": str(gym.alex.id), "date": MONDAY.isoformat(), "kind": "time_off",
                        "start_time": "12:00", "end_time": "13:00"})
    assert clear.status_code == 303  # nothing in the way: saved at once, as before
    assert overrides_on(db, gym.alex, MONDAY) == 1


def test_no_affected_bookings_saves_as_before(owner, gym, db):
    response = owner.post("/dashboard/availability/overrides",
                          {"trainer": str(gym.alex.id), "date": "2030-01-10", "kind": "day_off"}, target="overrides")
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "scheduleChanged"
    assert overrides_on(db, gym.alex, date(2030, 1, 10)) == 1


def test_bad_input_is_a_4xx(owner, gym, other, db):
    bad_date = owner.post("/dashboard/availability/overrides", {"trainer": str(gym.alex.id), "date": "2030-02-31",
                                                                "kind": "day_off"})
    assert bad_date.status_code == 422
    nul = owner.post("/dashboard/availability/overrides", {"trainer": str(gym.alex.id), "date": "2030-01-07\x00",
                                                           "kind": "day_off\x00"})
    assert nul.status_code == 400  # app/guards.py refuses a NUL byte anywhere
    form = review_form(day_off_review(owner, gym))
    assert owner.post("/dashboard/availability/overrides",
                      {**form, f"reason-{gym.booking.id}": "ill\x00", f"decision-{gym.booking.id}": "cancel"}
                      ).status_code == 400
    assert status_of(db, gym.booking) == "confirmed"
    rivals = owner.post("/dashboard/availability/overrides", {"trainer": str(other.alex.id), **DAY_OFF})
    assert rivals.status_code == 404
    assert owner.post(f"/dashboard/availability/rules/{other.rule.id}/delete").status_code == 404
    assert owner.post("/dashboard/availability/rules/not-a-rule/delete").status_code == 404
    # A decision about another gym's booking changes nothing there and answers nothing about it.
    form = review_form(day_off_review(owner, gym))
    form[f"decision-{other.booking.id}"] = "cancel"
    assert owner.post("/dashboard/availability/overrides", form).status_code == 303
    assert status_of(db, other.booking) == "confirmed"
    assert owner.post("/dashboard/availability/overrides", {"trainer": str(gym.alex.id), **DAY_OFF},
                      csrf=False).status_code == 400
    assert overrides_on(db, gym.alex, MONDAY) == 1
