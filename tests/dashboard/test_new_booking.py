"""New booking (staff), through the dashboard: plain form posts (no JavaScript), the same booking service
as every other path — client linked by email, audited as staff, notifications or none, the owners'
override of working hours, and every bad input a 422 (or 403/404), never a 500."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from dashboard_helpers import MONDAY, at, is_fragment, text
from sqlalchemy import func, select

from app.models import Booking, BookingAudit, Client, Notification

URL = "/dashboard/bookings/new"


def form(gym, **overrides) -> dict:
    values = {"action": "book", "name": "Nina New", "email": "nina@example.com", "phone": "",
              "phone_country": "GB", "service": str(gym.pt.id), "trainer": str(gym.alex.id),
              "date": MONDAY.isoformat(), "start": at(MONDAY, 14).isoformat(), "notify": "y", "notes": ""}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def bookings_of(db, email: str) -> list[Booking]:
    return list(db.session.scalars(select(Booking).where(Booking.attendee_email == email)))


def test_the_form_opens_prefilled_from_the_calendar_and_lists_free_times(owner, gym):
    page = owner.get(f"{URL}?trainer={gym.alex.id}&date={MONDAY.isoformat()}&time=14:00")
    assert page.status_code == 200
    body = text(page)
    assert f'<option selected value="{gym.alex.id}">' in body or f'value="{gym.alex.id}" selected' in body
    # Alex works 09:00–17:00 and is booked at 10:00: those are the times offered, 14:00 chosen.
    starts = re.findall(r'name="start" value="([^"]+)"', body)
    assert at(MONDAY, 9).isoformat() in starts and at(MONDAY, 10).isoformat() not in starts
    assert re.search(rf'value="{re.escape(at(MONDAY, 14).isoformat())}" checked', body)
    assert "Book outside the trainer" in body  # owners may override


def test_staff_book_a_new_client_without_javascript(owner, gym, db):
    response = owner.post(URL, form(gym, phone="07700 900123"))
    assert response.status_code == 303, text(response)[:800]
    [booking] = bookings_of(db, "nina@example.com")
    assert response.headers["Location"].endswith(f"/dashboard/bookings/{booking.id}")
    assert (booking.staff_id, booking.start_at, booking.source) == (gym.alex.id, at(MONDAY, 14), "dashboard")
    client = db.session.get(Client, booking.client_id)
    assert (client.name, client.email, client.phone) == ("Nina New", "nina@example.com", "+447700900123")
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).one()
    assert (audit.actor_type, audit.actor_id, audit.action) == ("staff", str(gym.owner.id), "created")
    # The booking's page says who made it.
    detail = text(owner.get(f"/dashboard/bookings/{booking.id}"))
    assert "Acme Owner" in detail


def test_an_existing_client_is_linked_not_duplicated(owner, gym, db):
    first = owner.post(URL, form(gym))
    assert first.status_code == 303
    [booking] = bookings_of(db, "nina@example.com")
    picked = owner.get(f"{URL}?client={booking.client_id}")
    assert picked.status_code == 200 and 'value="nina@example.com"' in text(picked)
    found = text(owner.get(f"{URL}?q=nina"))
    assert f"client={booking.client_id}" in found
    again = owner.post(URL, form(gym, email="Nina@Example.com", client_id=str(booking.client_id),
                                 start=at(MONDAY, 15).isoformat()))
    assert again.status_code == 303, text(again)[:800]
    rows = bookings_of(db, "Nina@example.com") + bookings_of(db, "nina@example.com")
    assert len({b.client_id for b in rows}) == 1 and len(rows) == 2
    assert db.session.scalar(select(func.count()).select_from(Client).where(
        Client.organization_id == gym.org.id, Client.email == "nina@example.com")) == 1


def test_notify_or_not(owner, gym, db):
    assert owner.post(URL, form(gym, phone="07700 900123")).status_code == 303
    [told] = bookings_of(db, "nina@example.com")
    templates = {(n.template, n.recipient) for n in db.session.scalars(
        select(Notification).where(Notification.booking_id == told.id))}
    assert ("booking_confirmation", "nina@example.com") in templates
    assert ("booking_confirmation", "+447700900123") in templates
    assert any(t == "booking_reminder" for t, _ in templates)

    quiet = form(gym, email="quiet@example.com", phone="07700 900124", start=at(MONDAY, 15).isoformat())
    del quiet["notify"]  # an unticked box is not sent
    assert owner.post(URL, quiet).status_code == 303
    [silent] = bookings_of(db, "quiet@example.com")
    rows = list(db.session.scalars(select(Notification).where(Notification.booking_id == silent.id)))
    # Nothing to the client (no confirmation, no reminders); the trainer is still told.
    assert {(n.template, n.recipient) for n in rows} == {("staff_booking_created", gym.alex.email)}
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == silent.id)).one()
    assert audit.after["client_notified"] is False
    assert "Client notified" in text(owner.get(f"/dashboard/bookings/{silent.id}"))


def test_whoever_is_free_on_a_team_service(owner, gym, db):
    page = text(owner.get(f"{URL}?trainer=all&date={MONDAY.isoformat()}"))
    assert "Whoever is free" in page
    # 10:00: Alex is booked, Sam is free — so the team page gives it to Sam.
    response = owner.post(URL, form(gym, trainer="", start=at(MONDAY, 10).isoformat()))
    assert response.status_code == 303, text(response)[:800]
    [booking] = bookings_of(db, "nina@example.com")
    assert booking.staff_id == gym.sam.id


def test_owner_books_outside_hours_and_it_is_audited(owner, gym, db):
    response = owner.post(URL, form(gym, start="", outside_hours="y", at_time="18:30"))
    assert response.status_code == 303, text(response)[:800]
    [booking] = bookings_of(db, "nina@example.com")
    assert booking.start_at == at(MONDAY, 18, 30)
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).one()
    assert audit.after["outside_hours"] is True and audit.actor_type == "staff"
    assert "Outside working hours" in text(owner.get(f"/dashboard/bookings/{booking.id}"))


def test_an_override_time_in_the_spring_forward_gap_books_when_the_gap_ends(owner, gym, db):
    """01:30 on 31 March 2030 never happens in London (01:00 → 02:00): the booking starts at 02:00 BST
    (01:00 UTC), as the engine reads such a wall time, not at an instant that shows another time."""
    response = owner.post(URL, form(gym, start="", outside_hours="y", date="2030-03-31", at_time="01:30"))
    assert response.status_code == 303, text(response)[:800]
    [booking] = bookings_of(db, "nina@example.com")
    assert booking.start_at == datetime(2030, 3, 31, 1, 0, tzinfo=timezone.utc)


def test_override_never_over_another_booking(owner, gym, db):
    # Alex is booked 10:00–11:00: an override at 10:30 is refused, nothing written.
    response = owner.post(URL, form(gym, start="", outside_hours="y", at_time="10:30"))
    assert response.status_code == 409
    assert "taken" in text(response)
    assert bookings_of(db, "nina@example.com") == []


def test_a_trainer_books_only_themself_and_never_overrides(trainer, gym, db):
    page = text(trainer.get(URL))
    assert "Book outside the trainer" not in page and "Whoever is free" not in page
    assert trainer.get(f"{URL}?trainer={gym.sam.id}").status_code == 403
    colleague = trainer.post(URL, form(gym, trainer=str(gym.sam.id)))
    assert colleague.status_code == 422
    override = trainer.post(URL, form(gym, start="", outside_hours="y", at_time="18:30"))
    assert override.status_code == 403
    own = trainer.post(URL, form(gym))
    assert own.status_code == 303
    assert [b.staff_id for b in bookings_of(db, "nina@example.com")] == [gym.alex.id]


def test_other_organizations_ids_are_refused(owner, gym, other, db):
    assert owner.get(f"{URL}?trainer={other.alex.id}").status_code == 404
    client_id = owner.post(URL, form(gym)) and bookings_of(db, "nina@example.com")[0].client_id
    rival = db.session.scalar(select(Client.id).where(Client.organization_id == other.org.id)) \
        or _rival_client(db, other)
    assert owner.get(f"{URL}?client={rival}").status_code == 404
    assert owner.get(f"{URL}?client={client_id}").status_code == 200
    for bad in (dict(service=str(other.pt.id)), dict(trainer=str(other.alex.id))):
        response = owner.post(URL, form(gym, email="x@example.com", **bad))
        assert response.status_code == 422, bad
    assert bookings_of(db, "x@example.com") == []


def _rival_client(db, other):
    client = Client(organization_id=other.org.id, name="Rival Client", email="rc@rival.example")
    db.session.add(client)
    db.session.commit()
    return client.id


@pytest.mark.parametrize("bad", [
    dict(name="", email="not-an-email", phone="12"),
    dict(date="2030-02-31"),
    dict(date="99999-01-01"),
    dict(start="yesterday"),
    dict(start="2030-01-07T14:00:00"),  # no offset
    dict(phone_country="XX"),
    dict(service="", trainer=""),
    dict(service="not-a-uuid"),
    dict(outside_hours="y", start="", at_time="25:99"),
    dict(name="x" * 500),
])
def test_bad_input_is_a_422_with_the_form(owner, gym, db, bad):
    response = owner.post(URL, form(gym, **bad))
    assert response.status_code == 422, text(response)[:800]
    assert "error-summary" in text(response) or "Choose one of the free times" in text(response)
    assert bookings_of(db, "nina@example.com") == []


def test_every_mistake_is_reported_at_once(owner, gym):
    body = text(owner.post(URL, form(gym, name="", email="nope", start="")))
    assert "Enter the client&#39;s name." in body or "Enter the client's name." in body
    assert "email" in body.lower() and "Choose one of the free times." in body


def test_nul_bytes_and_garbage_never_500(owner, gym):
    assert owner.post(URL, form(gym, name="Ni\x00na")).status_code == 400
    assert owner.get(f"{URL}?date=garbage&time=99:99&trainer=all&service=zzz").status_code == 200
    assert owner.get(f"{URL}?client=not-a-uuid").status_code == 404


def test_show_times_posts_without_booking_and_htmx_gets_the_fragment(owner, gym, db):
    response = owner.post(URL, form(gym, action="times", date="2030-01-08"), target="new-booking")
    assert response.status_code == 200 and is_fragment(response)
    assert at(MONDAY.replace(day=8), 9).isoformat() in text(response)
    assert bookings_of(db, "nina@example.com") == []


def test_the_calendar_and_the_list_link_to_the_form(owner, gym):
    assert URL in text(owner.get("/dashboard/bookings"))
    week = text(owner.get(f"/dashboard/calendar?view=week&date={MONDAY.isoformat()}&trainer={gym.alex.id}"))
    assert f"{URL}?trainer={gym.alex.id}&amp;date={MONDAY.isoformat()}&amp;time=14:00" in week
    day = text(owner.get(f"/dashboard/calendar?view=day&date={MONDAY.isoformat()}"))
    assert f"{URL}?trainer={gym.sam.id}&amp;date={MONDAY.isoformat()}&amp;time=09:30" in day
    team = text(owner.get(f"/dashboard/calendar?date={MONDAY.isoformat()}"))
    assert f"{URL}?trainer={gym.alex.id}&amp;date={MONDAY.isoformat()}" in team
