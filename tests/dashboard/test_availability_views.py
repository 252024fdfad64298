"""The availability editor: rules edited in place with validation, date overrides, holidays, and the
live preview that refreshes on the scheduleChanged event sent with every change."""
from __future__ import annotations

import re
from datetime import date, time

from dashboard_helpers import is_fragment, text
from sqlalchemy import select

from app.models import AvailabilityOverride, AvailabilityRule, Holiday

WEDNESDAY = date(2030, 1, 9)  # Alex's day off in the fixture
THURSDAY = date(2030, 1, 10)


def preview_counts(body: str) -> dict[str, int]:
    return {day: int(n) for day, n in re.findall(r'data-date="([\d-]+)" data-slots="(\d+)"', body)}


def rules_of(db, user) -> list[tuple[int, time, time]]:
    db.session.expire_all()
    rows = db.session.scalars(select(AvailabilityRule).where(AvailabilityRule.user_id == user.id)).all()
    return sorted((r.day_of_week, r.start_time, r.end_time) for r in rows)


def test_preview_shows_the_next_seven_days(owner, gym):
    body = text(owner.get(f"/dashboard/availability?trainer={gym.alex.id}&type={gym.pt.id}", target="slot-preview"))
    counts = preview_counts(body)
    assert list(counts) == [f"2030-01-{d:02d}" for d in range(6, 13)]
    # Sunday off; Monday 8 hours less the 10:00 booking; Wednesday the day off; Saturday off.
    assert counts == {"2030-01-06": 0, "2030-01-07": 7, "2030-01-08": 8, "2030-01-09": 0, "2030-01-10": 8,
                      "2030-01-11": 8, "2030-01-12": 0}
    assert "Day off" in body
    assert 'hx-trigger="scheduleChanged from:body"' in text(owner.get(f"/dashboard/availability?trainer={gym.alex.id}"))


def test_add_rule_answers_with_the_section_and_the_event(trainer, gym, db):
    response = trainer.post("/dashboard/availability/rules",
                            {"trainer": str(gym.alex.id), "day_of_week": "6", "start_time": "08:00",
                             "end_time": "12:00"}, target="weekly-rules")
    assert response.status_code == 200 and is_fragment(response)
    assert response.headers["HX-Trigger"] == "scheduleChanged"
    assert (6, time(8), time(12)) in rules_of(db, gym.alex)
    preview = text(trainer.get(f"/dashboard/availability?trainer={gym.alex.id}", target="slot-preview"))
    assert preview_counts(preview)["2030-01-12"] == 4  # Saturday now has 08:00–12:00


def test_add_rule_without_javascript_redirects(trainer, gym):
    response = trainer.post("/dashboard/availability/rules",
                            {"day_of_week": "6", "start_time": "08:00", "end_time": "12:00"})
    assert response.status_code == 303
    assert "Hours added" in text(trainer.get(response.headers["Location"]))


def test_end_must_be_after_start(trainer, gym, db):
    before = rules_of(db, gym.alex)
    response = trainer.post("/dashboard/availability/rules", {"day_of_week": "6", "start_time": "12:00",
                                                              "end_time": "08:00"}, target="weekly-rules")
    assert response.status_code == 422 and is_fragment(response)
    assert "The end must be after the start" in text(response)
    assert "HX-Trigger" not in response.headers
    assert rules_of(db, gym.alex) == before


def test_midnight_means_the_end_of_the_day(trainer, gym, db):
    response = trainer.post("/dashboard/availability/rules", {"day_of_week": "6", "start_time": "18:00",
                                                              "end_time": "00:00"})
    assert response.status_code == 303
    assert (6, time(18), time(0)) in rules_of(db, gym.alex)


def test_no_overlapping_intervals_on_a_day(trainer, gym, db):
    response = trainer.post("/dashboard/availability/rules", {"day_of_week": "1", "start_time": "16:00",
                                                              "end_time": "19:00"}, target="weekly-rules")
    assert response.status_code == 422
    assert "overlaps 09:00–17:00 on Monday" in text(response)
    # Touching is not overlapping.
    ok = trainer.post("/dashboard/availability/rules", {"day_of_week": "1", "start_time": "17:00",
                                                        "end_time": "19:00"}, target="weekly-rules")
    assert ok.status_code == 200


def test_rule_is_changed_in_place_and_checked_against_the_others(trainer, gym, db):
    prefix = f"r-{gym.rule.id}-"
    response = trainer.post(f"/dashboard/availability/rules/{gym.rule.id}",
                            {prefix + "day_of_week": "1", prefix + "start_time": "07:00", prefix + "end_time": "15:00"},
                            target="weekly-rules")
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "scheduleChanged"
    assert (1, time(7), time(15)) in rules_of(db, gym.alex)
    # Moving Monday's hours onto Tuesday would overlap Tuesday's: refused, shown on that row.
    refused = trainer.post(f"/dashboard/availability/rules/{gym.rule.id}",
                           {prefix + "day_of_week": "2", prefix + "start_time": "10:00", prefix + "end_time": "11:00"},
                           target="weekly-rules")
    assert refused.status_code == 422
    assert "rule-row--error" in text(refused) and "overlaps 09:00–17:00 on Tuesday" in text(refused)
    assert (1, time(7), time(15)) in rules_of(db, gym.alex)


def test_rule_is_deleted(trainer, gym, db):
    # Tuesday's hours hold no booking, so they go at once (Monday's hold one: tests/dashboard/
    # test_schedule_change_review.py).
    tuesday = db.session.scalars(select(AvailabilityRule).where(AvailabilityRule.user_id == gym.alex.id,
                                                                AvailabilityRule.day_of_week == 2)).one()
    response = trainer.post(f"/dashboard/availability/rules/{tuesday.id}/delete", target="weekly-rules")
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "scheduleChanged"
    assert all(day != 2 for day, _, _ in rules_of(db, gym.alex))


def test_day_off_removes_that_days_slots_from_the_preview(trainer, gym, db):
    url = f"/dashboard/availability?trainer={gym.alex.id}&type={gym.pt.id}"
    assert preview_counts(text(trainer.get(url, target="slot-preview")))["2030-01-10"] == 8
    response = trainer.post("/dashboard/availability/overrides",
                            {"date": THURSDAY.isoformat(), "kind": "day_off", "reason": "Course"}, target="overrides")
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "scheduleChanged"
    assert "Course" in text(response)
    assert preview_counts(text(trainer.get(url, target="slot-preview")))["2030-01-10"] == 0


def test_time_off_and_extra_hours(trainer, gym, db):
    url = f"/dashboard/availability?trainer={gym.alex.id}&type={gym.pt.id}"
    trainer.post("/dashboard/availability/overrides", {"date": "2030-01-10", "kind": "time_off",
                                                       "start_time": "09:00", "end_time": "12:00"})
    trainer.post("/dashboard/availability/overrides", {"date": "2030-01-12", "kind": "extra",
                                                       "start_time": "10:00", "end_time": "12:00"})
    counts = preview_counts(text(trainer.get(url, target="slot-preview")))
    assert counts["2030-01-10"] == 5 and counts["2030-01-12"] == 2


def test_override_validation(trainer, gym, db):
    needs_times = trainer.post("/dashboard/availability/overrides", {"date": "2030-01-10", "kind": "extra"},
                               target="overrides")
    assert needs_times.status_code == 422 and "Give a start and an end time" in text(needs_times)
    past = trainer.post("/dashboard/availability/overrides", {"date": "2030-01-01", "kind": "day_off"},
                        target="overrides")
    assert past.status_code == 422 and "That date has passed" in text(past)
    twice = trainer.post("/dashboard/availability/overrides", {"date": WEDNESDAY.isoformat(), "kind": "day_off"},
                         target="overrides")
    assert twice.status_code == 422 and "already a day off" in text(twice)


def test_override_is_removed(trainer, gym, db):
    response = trainer.post(f"/dashboard/availability/overrides/{gym.override.id}/delete", target="overrides")
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(AvailabilityOverride, gym.override.id) is None


def test_holidays_are_for_owners_and_admins(owner, trainer, gym, db):
    assert trainer.post("/dashboard/availability/holidays", {"name": "Closed", "date": "2030-01-10"}).status_code == 403
    assert "Add holiday" not in text(trainer.get("/dashboard/availability"))
    response = owner.post("/dashboard/availability/holidays",
                          {"name": "Boiler repair", "date": "2030-01-10", "trainer": str(gym.alex.id)},
                          target="holidays")
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "scheduleChanged"
    preview = text(owner.get(f"/dashboard/availability?trainer={gym.sam.id}", target="slot-preview"))
    assert preview_counts(preview)["2030-01-10"] == 0 and "Holiday" in preview
    again = owner.post("/dashboard/availability/holidays", {"name": "Again", "date": "2030-01-10"}, target="holidays")
    assert again.status_code == 422 and "already a holiday" in text(again)
    assert db.session.scalar(select(Holiday).where(Holiday.name == "Boiler repair")) is not None


def test_schedule_change_invalidates_cached_availability(owner, gym, client, app):
    """A change in the editor raises the schedule version, so the public API never serves stale slots."""
    url = f"/api/booking/availability?link={gym.link.slug}&date=2030-01-10"
    app.config["AVAILABILITY_CACHE_SECONDS"] = 60
    assert len(client.get(url).get_json()["slots"]) == 8  # round robin: each hourly start once
    assert len(client.get(url).get_json()["slots"]) == 8  # (now from the cache)
    owner.post("/dashboard/availability/holidays", {"name": "Closed", "date": "2030-01-10"})
    assert client.get(url).get_json()["slots"] == []


def test_admin_opens_a_trainer_by_default(owner, gym):
    page = text(owner.get("/dashboard/availability"))
    assert "<h1>Alex of Acme" in page
