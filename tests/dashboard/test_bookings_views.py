"""Bookings in the dashboard: list filters, calendars, detail with audit trail, and the staff actions —
which go through app/services/bookings.py, so they are audited as Actor("staff", id=user id, ip=…)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from dashboard_helpers import MONDAY, at, is_fragment, text
from sqlalchemy import select

from app.models import Booking, BookingAudit


def test_list_filters_by_status_trainer_dates_and_attendee(owner, gym, make_booking):
    make_booking(staff=gym.sam, start=at(MONDAY, 15), status="cancelled", attendee_name="Cara Cancelled",
                 attendee_email="cara@example.com")
    make_booking(staff=gym.alex, start=at(MONDAY + timedelta(days=14), 9), attendee_name="Dan Later",
                 attendee_email="dan@example.com")
    everyone = text(owner.get("/dashboard/bookings"))
    assert all(name in everyone for name in ("Ann of Acme", "Bob of Acme", "Cara Cancelled", "Dan Later"))
    assert "4</strong> bookings" in everyone

    cancelled = text(owner.get("/dashboard/bookings?status=cancelled", target="booking-list"))
    assert "Cara Cancelled" in cancelled and "Ann of Acme" not in cancelled

    alex = text(owner.get(f"/dashboard/bookings?trainer={gym.alex.id}"))
    assert "Ann of Acme" in alex and "Dan Later" in alex and "Bob of Acme" not in alex

    monday = text(owner.get("/dashboard/bookings?date_from=2030-01-07&date_to=2030-01-07"))
    assert "Ann of Acme" in monday and "Dan Later" not in monday

    by_email = text(owner.get("/dashboard/bookings?q=DAN%40EXAMPLE"))
    assert "Dan Later" in by_email and "Ann of Acme" not in by_email
    assert "No bookings match" in text(owner.get("/dashboard/bookings?q=%25"))


def test_list_reports_bad_dates(owner, gym):
    response = owner.get("/dashboard/bookings?date_from=2030-02-01&date_to=2030-01-01")
    assert response.status_code == 422
    assert "before the start" in text(response)


def test_staff_see_only_their_own_bookings(trainer, gym):
    page = text(trainer.get("/dashboard/bookings"))
    assert "Ann of Acme" in page and "Bob of Acme" not in page
    calendar = text(trainer.get("/dashboard/calendar?date=2030-01-07"))
    assert "Ann of Acme" in calendar and "Bob of Acme" not in calendar


def test_team_week_marks_today_in_the_organizations_zone(owner, gym, db):
    gym.org.timezone = "Pacific/Auckland"  # 12:00 UTC on the 6th is already the 7th there
    db.session.commit()
    page = text(owner.get("/dashboard/calendar"))
    today = re.search(r'class="team-week__day is-today"[^>]*aria-current="date">\s*<a[^>]*>(\w+)', page)
    assert today and today.group(1) == "Mon"
    assert "Week of 07 January 2030" in page


def test_week_of_one_trainer_is_a_time_grid_with_bookings_placed(owner, gym):
    page = text(owner.get(f"/dashboard/calendar?trainer={gym.alex.id}&date=2030-01-07"))
    assert 'class="tgrid"' in page
    # 10:00 on a grid starting at 07:00 in 15-minute rows: row 13 (+1 for the header), four rows long.
    assert re.search(r'grid-row: 14 / span 4;[^"]*"[^>]*>\s*<span class="ev__time">10:00<span class="ev__end">–11:00', page)
    assert "tgrid__work" in page  # working hours shaded


def test_day_view_shows_each_trainer_as_a_column(owner, gym):
    page = text(owner.get("/dashboard/calendar?view=day&date=2030-01-07"))
    assert "Alex of Acme" in page and "Sam of Acme" in page
    assert "Ann of Acme" in page and "Bob of Acme" in page


def test_team_week_costs_the_same_queries_whatever_the_bookings(owner, gym, make_booking, make_trainer,
                                                                 count_queries):
    kim = make_trainer(org=gym.org, name="Kim")
    url = "/dashboard/calendar?date=2030-01-07"
    owner.get(url)  # warm anything lazily loaded once per process
    with count_queries() as few:
        assert owner.get(url).status_code == 200
    for day in range(5):
        for hour in range(9, 17):
            make_booking(staff=kim, start=at(MONDAY + timedelta(days=day), hour), attendee_name=f"M{day}{hour}")
    with count_queries() as many:
        response = owner.get(url)
    assert text(response).count("chip chip--") == 42
    assert len(many) == len(few), "\n".join(many)
    assert len(few) <= 12


def test_booking_list_and_detail_cost_a_fixed_number_of_queries(owner, gym, make_booking, count_queries):
    with count_queries() as few:
        owner.get("/dashboard/bookings")
    for hour in range(9, 17):
        make_booking(staff=gym.sam, start=at(MONDAY + timedelta(days=1), hour), attendee_name=f"Member {hour}")  # Tuesday
    with count_queries() as many:
        owner.get("/dashboard/bookings")
    assert len(many) == len(few)


def audit_rows(db, booking):
    return db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)
                              .order_by(BookingAudit.created_at)).all()


def test_cancel_goes_through_the_booking_service_and_is_audited(owner, gym, db):
    response = owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {"reason": "Trainer ill", "confirm": "yes"},
                          target="booking-detail")
    assert response.status_code == 200 and is_fragment(response)
    assert response.headers["HX-Trigger"] == "bookingChanged"
    assert "Booking cancelled" in text(response)
    db.session.expire_all()
    booking = db.session.get(Booking, gym.booking.id)
    assert booking.status == "cancelled" and booking.cancellation_reason == "Trainer ill"
    [entry] = audit_rows(db, booking)
    assert (entry.actor_type, entry.actor_id, entry.action) == ("staff", str(gym.owner.id), "cancelled")
    assert entry.ip_address == "127.0.0.1"
    # The audit trail on the page names the person.
    assert "Acme Owner" in text(owner.get(f"/dashboard/bookings/{gym.booking.id}"))


def test_cancel_twice_is_refused_with_the_services_message(owner, gym):
    owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {"confirm": "yes"})
    # Cancelled: nothing to ask any more, so the service says why not.
    response = owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {}, target="booking-detail")
    assert response.status_code == 409
    assert "already cancelled" in text(response)
    plain = owner.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {})
    assert plain.status_code == 303  # post/redirect/get, with the message flashed
    assert "already cancelled" in text(owner.get(plain.headers["Location"]))


def test_confirm_a_pending_booking(owner, gym, make_booking, db):
    pending = make_booking(staff=gym.alex, start=at(MONDAY, 14), status="pending", attendee_name="Penny")
    response = owner.post(f"/dashboard/bookings/{pending.id}/status", {"action": "confirm"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Booking, pending.id).status == "confirmed"
    assert audit_rows(db, pending)[0].action == "confirm"


def test_mark_completed_and_no_show_only_after_the_start(owner, gym, make_booking, db):
    earlier = make_booking(staff=gym.alex, start=datetime(2030, 1, 6, 9, 0, tzinfo=timezone.utc),
                           attendee_name="Early Bird")
    page = text(owner.get(f"/dashboard/bookings/{earlier.id}"))
    assert "Mark completed" in page and "Mark no-show" in page
    assert owner.post(f"/dashboard/bookings/{earlier.id}/status", {"action": "no_show"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Booking, earlier.id).status == "no_show"
    future = text(owner.get(f"/dashboard/bookings/{gym.booking.id}"))
    assert "Mark completed" not in future
    refused = owner.post(f"/dashboard/bookings/{gym.booking.id}/status", {"action": "complete"},
                         target="booking-detail")
    assert refused.status_code == 409 and "once it has started" in text(refused)


def test_unknown_status_action_is_a_bad_request(owner, gym):
    assert owner.post(f"/dashboard/bookings/{gym.booking.id}/status", {"action": "delete"}).status_code == 400


def test_reschedule_lists_free_times_and_moves_the_booking(owner, gym, db):
    page = text(owner.get(f"/dashboard/bookings/{gym.booking.id}/reschedule?date=2030-01-07"))
    starts = re.findall(r'data-start="([^"]+)"', page)
    # Alex works 09–17; the booking's own 10:00 counts as free; 8 hourly slots.
    assert [s[11:16] for s in starts] == ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    response = owner.post(f"/dashboard/bookings/{gym.booking.id}/reschedule",
                          {"start": at(MONDAY, 15).isoformat(), "staff_id": str(gym.alex.id), "confirm": "yes"})
    assert response.status_code == 303
    db.session.expire_all()
    moved = db.session.get(Booking, gym.booking.id)
    assert moved.start_at == at(MONDAY, 15)
    assert audit_rows(db, moved)[-1].action == "rescheduled"
    assert "Booking moved to Mon 07 Jan, 15:00" in text(owner.get(response.headers["Location"]))


def test_reschedule_to_a_taken_time_is_refused(owner, gym, db):
    response = owner.post(f"/dashboard/bookings/{gym.booking.id}/reschedule",
                          {"start": at(MONDAY, 11).isoformat(), "staff_id": str(gym.sam.id), "confirm": "yes"})
    assert response.status_code == 409
    assert "not free" in text(response)
    db.session.expire_all()
    assert db.session.get(Booking, gym.booking.id).start_at == at(MONDAY, 10)


def test_reassign_to_another_trainer_of_the_link(owner, gym, db):
    page = text(owner.get(f"/dashboard/bookings/{gym.booking.id}/reschedule?date=2030-01-07&trainer={gym.sam.id}"))
    assert "11:00" not in re.findall(r'class="slot"[^>]*>([^<]+)<', page)  # Sam's own booking
    response = owner.post(f"/dashboard/bookings/{gym.booking.id}/reschedule",
                          {"start": at(MONDAY, 10).isoformat(), "staff_id": str(gym.sam.id), "confirm": "yes"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Booking, gym.booking.id).staff_id == gym.sam.id


def test_staff_cannot_act_on_bookings(trainer, gym):
    assert "Owners and admins manage bookings" in text(trainer.get(f"/dashboard/bookings/{gym.booking.id}"))
    assert trainer.post(f"/dashboard/bookings/{gym.booking.id}/cancel", {}).status_code == 403


@pytest.mark.parametrize("value", ["not-a-date", "2030-01-07T10:00:00"])
def test_reschedule_needs_an_aware_instant(owner, gym, value):
    response = owner.post(f"/dashboard/bookings/{gym.booking.id}/reschedule", {"start": value})
    assert response.status_code == 400
