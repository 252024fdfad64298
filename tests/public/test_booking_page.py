"""/book/<slug>: the branded page, its htmx fragments, time zones, and the booking form."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.models import Booking, BookingLink


def test_the_page_is_branded_and_shows_a_month_calendar(client, link, pages):
    response = client.get("/book/pt")
    assert response.status_code == 200
    page = pages.text(response)
    assert page.startswith("<!doctype html>")
    assert "Atlas Fitness" in page and "Book Personal Training" in page
    assert "Train one-to-one with Alex." in page
    assert "--brand:#0f766e" in page and "--accent:#f59e0b" in page
    assert "January 2030" in page
    # Mon 7 Jan has free times (a real link); Sat 12 Jan does not; Sun 5 Jan is in the past.
    assert 'id="day-2030-01-07"' in page
    assert "/book/pt?date=2030-01-07" in page
    assert 'id="day-2030-01-12"' not in page and "Saturday 12 January 2030, no free times" in page
    assert 'id="day-2030-01-05"' not in page
    assert "Personal Training" in page and "1 hour" in page and "£50.00" in page
    assert "Choose a day" in page
    assert "HX-Request" in response.headers["Vary"]


def test_month_navigation_is_plain_links(client, link, pages):
    page = pages.text(client.get("/book/pt"))
    assert "Previous month" not in page  # nothing to book in the past
    next_month = pages.hrefs(client.get("/book/pt"), r"month=2030-02")
    assert next_month
    february = client.get(next_month[0])
    assert february.status_code == 200
    assert "February 2030" in pages.text(february)
    assert 'id="day-2030-02-01"' in pages.text(february)
    assert "Previous month" in pages.text(february)


def test_calendar_fragment_for_htmx(client, link, pages):
    response = client.get("/book/pt?month=2030-02", headers=pages.hx("calendar"))
    assert response.status_code == 200
    fragment = pages.text(response)
    assert "<html" not in fragment and "<body" not in fragment
    assert "February 2030" in fragment and 'id="day-2030-02-01"' in fragment
    assert 'id="booking-step"' not in fragment and "Choose a day" not in fragment  # only the calendar block
    assert "HX-Request" in response.headers["Vary"]


def test_a_day_is_a_full_page_or_only_the_slots_fragment(client, link, pages):
    full = client.get("/book/pt?date=2030-01-07")
    fragment = client.get("/book/pt?date=2030-01-07", headers=pages.hx("booking-step"))
    assert full.status_code == fragment.status_code == 200
    full_page, part = pages.text(full), pages.text(fragment)
    assert "<html" in full_page and "January 2030" in full_page
    assert "<html" not in part and "calendar__grid" not in part and "Atlas Fitness" not in part
    assert "calendar__grid" in full_page
    for page in (full_page, part):
        assert "Monday 7 January 2030" in page
        # 09:00–17:00, one-hour sessions: starts 09:00 … 16:00
        times = re.findall(r'<span class="slot__time">(\d\d:\d\d)</span>', page)
        assert times == ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    assert 'aria-current="true"' in full_page  # the chosen day is marked in the calendar
    assert "HX-Request" in full.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]


def test_an_htmx_history_restore_gets_the_full_page(client, link, pages):
    response = client.get("/book/pt?date=2030-01-07",
                          headers={**pages.hx("booking-step"), "HX-History-Restore-Request": "true"})
    assert "<html" in pages.text(response)


def test_the_day_fragment_is_served_from_the_cache_in_one_query(client, link, pages, count_queries):
    client.get("/book/pt?date=2030-01-07", headers=pages.hx("booking-step"))
    with count_queries() as statements:
        response = client.get("/book/pt?date=2030-01-07", headers=pages.hx("booking-step"))
    assert response.status_code == 200 and "09:00" in pages.text(response)
    assert len(statements) == 1, statements  # the schedule-version check only


def test_times_are_in_the_organization_zone_without_a_choice(client, link, pages):
    page = pages.text(client.get("/book/pt?date=2030-01-07&slot=2030-01-07T10:00:00Z"))
    assert "Mon 7 Jan, 10:00–11:00 (Europe/London)" in page
    assert '<option value="Europe/London" selected>' in page
    assert 'data-tz-detect="auto"' in page  # the script may replace it with the browser's zone


def test_the_visitor_zone_changes_days_and_labels(client, link, pages):
    page = pages.text(client.get("/book/pt?date=2030-01-07&tz=America/New_York"))
    times = re.findall(r'<span class="slot__time">(\d\d:\d\d)</span>', page)
    assert times[0] == "04:00"  # 09:00 in London
    assert "Times in America/New_York" in page
    assert '<option value="America/New_York" selected>' in page
    assert 'data-tz-detect="off"' in page
    # the zone is carried in every link
    assert all("tz=America/New_York" in href for href in pages.hrefs(client.get(
        "/book/pt?date=2030-01-07&tz=America/New_York"), r"slot="))


def test_a_zone_outside_the_common_list_is_offered_once_chosen(client, link, pages):
    page = pages.text(client.get("/book/pt?date=2030-01-07&tz=Asia/Kathmandu"))
    assert '<option value="Asia/Kathmandu" selected>' in page
    assert "14:45" in page  # 09:00 UTC is 14:45 in Nepal


def test_an_unknown_zone_is_ignored(client, link, pages):
    response = client.get("/book/pt?date=2030-01-07&tz=Mars/Olympus_Mons")
    assert response.status_code == 200
    assert "Times in Europe/London" in pages.text(response)


def test_changing_zone_for_htmx_swaps_the_whole_picker(client, link, pages):
    response = client.get("/book/pt?date=2030-01-07&tz=Asia/Tokyo", headers=pages.hx("booking-picker"))
    part = pages.text(response)
    assert "<html" not in part and "Book Personal Training" not in part  # not the hero
    assert 'id="calendar"' in part and 'id="booking-step"' in part
    assert "18:00" in part and "Times in Asia/Tokyo" in part


@pytest.mark.parametrize("path", ["/book/nope", "/book/private", "/book/closed"])
def test_unknown_private_or_inactive_links_are_a_404_page(client, make_link, trainer, pt_type, path, pages):
    make_link([trainer], [pt_type], slug="private", is_public=False)
    make_link([trainer], [pt_type], slug="closed", is_active=False)
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "no booking page at this address" in pages.text(response)
    assert client.get(path + "?date=2030-01-07", headers=pages.hx("booking-step")).status_code == 404


def test_several_appointment_types_are_offered_as_a_choice(client, link, make_appointment_type, org, db, pages):
    consult = make_appointment_type(org=org, name="Consultation", duration_minutes=30, price_pennies=0,
                                    booking_window_days=None, description="A chat about your goals.")
    link.appointment_types = [*link.appointment_types, consult]
    db.session.commit()
    page = pages.text(client.get("/book/pt"))
    assert "What would you like to book?" in page
    assert "<legend" in page and 'type="radio" name="type"' in page
    assert "Consultation" in page and "30 min" in page and "Free" in page and "A chat about your goals." in page
    chosen = pages.text(client.get(f"/book/pt?type={consult.id}&date=2030-01-07"))
    assert re.findall(r'<span class="slot__time">(\d\d:\d\d)</span>', chosen)[:3] == ["09:00", "09:30", "10:00"]
    assert f'value="{consult.id}" checked' in chosen


def test_choosing_a_slot_shows_the_details_form(client, link, pages):
    response = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T10:00:00Z", headers=pages.hx("booking-step"))
    part = pages.text(response)
    assert "<html" not in part
    assert "Your details" in part and "Mon 7 Jan, 10:00–11:00 (Europe/London)" in part
    action, fields = pages.form(response)
    assert action.startswith("/book/pt?")
    assert fields["csrf_token"] and fields["slot"].startswith("2030-01-07T10:00:00Z|")
    assert fields["timezone"] == "Europe/London" and len(fields["idempotency_key"]) == 32
    for label in ('for="name"', 'for="email"', 'for="phone"', 'for="notes"'):
        assert label in part


def test_a_slot_no_longer_free_falls_back_to_the_day(client, link, trainer, make_booking, pages):
    make_booking(staff=trainer, start=datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc))
    page = pages.text(client.get("/book/pt?date=2030-01-07&slot=2030-01-07T10:00:00Z"))
    assert "no longer available" in page
    assert "Your details" not in page


def fill(fields: dict, **values) -> dict:
    return {**fields, "name": "Jane Smith", "email": "jane@example.com", "phone": "+44 7700 900123",
            "notes": "First session", **values}


def test_booking_end_to_end_with_plain_links_and_forms(client, db, link, trainer, pages):
    """No JavaScript: every step is a link or a form that posts and redirects."""
    start_page = client.get("/book/pt")
    day = client.get(pages.hrefs(start_page, r"date=2030-01-07#booking-step$")[0])
    slot = client.get(pages.hrefs(day, r"slot=2030-01-07T11")[0])
    action, fields = pages.form(slot)
    response = client.post(action, data=fill(fields))
    assert response.status_code == 303
    location = response.headers["Location"]
    match = re.fullmatch(r"/booking/manage/([\w-]+)\?created=1", location)
    assert match, location
    token = match.group(1)

    booking = db.session.scalars(select(Booking)).one()
    assert booking.start_at == datetime(2030, 1, 7, 11, 0, tzinfo=timezone.utc)
    assert (booking.attendee_name, booking.attendee_email, booking.attendee_phone) == \
        ("Jane Smith", "jane@example.com", "+447700900123")
    assert booking.attendee_timezone == "Europe/London" and booking.description == "First session"
    assert booking.staff_id == trainer.id
    # the raw token is never stored, only its hash
    assert booking.manage_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {booking.manage_token_hash, booking.idempotency_key}

    confirmation = client.get(location)
    page = pages.text(confirmation)
    assert confirmation.status_code == 200
    assert "You're booked!" in page
    assert "Monday 7 January 2030, 11:00–12:00 (Europe/London)" in page
    assert f"/booking/manage/{token}/booking.ics" in page
    assert "https://calendar.google.com/calendar/render?" in page
    assert f"http://localhost/booking/manage/{token}" in page


def test_booking_through_htmx_answers_with_a_client_redirect(client, db, link, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z")
    action, fields = pages.form(slot)
    response = client.post(action, data=fill(fields), headers=pages.hx("booking-step"))
    assert response.status_code == 200
    assert re.fullmatch(r"/booking/manage/[\w-]+\?created=1", response.headers["HX-Redirect"])
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_the_visitor_zone_is_kept_on_the_booking_and_the_confirmation(client, db, link, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z&tz=America/New_York")
    action, fields = pages.form(slot)
    assert fields["timezone"] == "America/New_York"
    response = client.post(action, data=fill(fields))
    page = pages.text(client.get(response.headers["Location"]))
    assert "Monday 7 January 2030, 04:00–05:00 (America/New_York)" in page
    assert "Mon 7 Jan, 09:00 (Europe/London) at the gym" in page
    assert db.session.scalars(select(Booking)).one().attendee_timezone == "America/New_York"


def test_a_post_without_the_csrf_token_is_refused(client, db, link, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z")
    action, fields = pages.form(slot)
    fields.pop("csrf_token")
    response = client.post(action, data=fill(fields))
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_field_errors_are_shown_next_to_the_fields_and_nothing_typed_is_lost(client, db, link, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z")
    action, fields = pages.form(slot)
    response = client.post(action, data=fill(fields, name="", email="not-an-email", notes="Bad knee"))
    assert response.status_code == 422
    page = pages.text(response)
    assert "<html" in page  # a full page without htmx
    assert 'id="name-error"' in page and "Please tell us your name." in page
    assert 'id="email-error"' in page and "doesn&#39;t look like an email address" in page
    assert 'aria-describedby="email-error"' in page and 'aria-invalid="true"' in page
    assert 'value="not-an-email"' in page and "Bad knee</textarea>" in page and 'value="+44 7700 900123"' in page
    assert "Mon 7 Jan, 09:00–10:00 (Europe/London)" in page  # the chosen time is still there
    _, again = pages.form(response)
    assert again["slot"] == fields["slot"] and again["idempotency_key"] == fields["idempotency_key"]
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_field_errors_for_htmx_are_the_form_fragment_with_422(client, link, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z")
    action, fields = pages.form(slot)
    response = client.post(action, data=fill(fields, email=""), headers=pages.hx("booking-step"))
    assert response.status_code == 422
    part = pages.text(response)
    assert "<html" not in part and "We need an email address" in part and 'value="Jane Smith"' in part


def test_errors_found_by_the_service_land_on_their_field(client, db, link, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z")
    action, fields = pages.form(slot)
    response = client.post(action, data=fill(fields, phone="12"))
    assert response.status_code == 422
    page = pages.text(response)
    assert 'id="phone-error"' in page and "This is not a valid United Kingdom number." in page
    assert 'value="Jane Smith"' in page
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_a_slot_taken_while_typing_offers_the_nearest_free_times(client, db, link, trainer, make_booking, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T10:00:00Z")
    action, fields = pages.form(slot)
    make_booking(staff=trainer, start=datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc))  # someone was quicker

    response = client.post(action, data=fill(fields, notes="Keep this"))
    assert response.status_code == 422
    page = pages.text(response)
    assert "someone has just booked that time" in page
    assert "Choose another time" in page and "<legend" in page
    radios = re.findall(r'type="radio" id="alt-\d+" name="slot" value="([^"]+)"', page)
    assert radios and not any(r.startswith("2030-01-07T10:00:00Z") for r in radios)
    assert radios[0].startswith("2030-01-07T09:00:00Z")  # nearest first, pre-selected
    assert re.search(r'value="2030-01-07T09:00:00Z\|[^"]+" checked', page)
    assert 'value="Jane Smith"' in page and "Keep this</textarea>" in page

    action, fields = pages.form(response)
    fields["slot"] = next(r for r in radios if r.startswith("2030-01-07T11:00:00Z"))
    booked = client.post(action, data=fields)
    assert booked.status_code == 303
    mine = db.session.scalars(select(Booking).where(Booking.attendee_email == "jane@example.com")).one()
    assert mine.start_at == datetime(2030, 1, 7, 11, 0, tzinfo=timezone.utc)


def test_a_slot_taken_for_htmx_is_a_422_fragment(client, link, trainer, make_booking, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T10:00:00Z")
    action, fields = pages.form(slot)
    make_booking(staff=trainer, start=datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc))
    response = client.post(action, data=fill(fields), headers=pages.hx("booking-step"))
    assert response.status_code == 422
    part = pages.text(response)
    assert "<html" not in part and "someone has just booked that time" in part and 'name="slot"' in part


def test_a_double_submit_books_once(client, db, link, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z")
    action, fields = pages.form(slot)
    first = client.post(action, data=fill(fields))
    second = client.post(action, data=fill(fields))
    assert first.status_code == 303
    assert second.status_code == 200 and "already booked for this time" in pages.text(second)
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_a_link_without_active_types_says_so(client, link, pt_type, db, pages):
    pt_type.is_active = False
    db.session.commit()
    response = client.get("/book/pt")
    assert response.status_code == 200
    assert "Nothing to book just now" in pages.text(response)


def test_branding_colours_are_made_readable(client, link, db, pages):
    link.branding.primary_color = "#ffe14d"  # a pale yellow: white text on it would fail AA
    db.session.commit()
    page = pages.text(client.get("/book/pt"))
    assert "--brand:#ffe14d;--brand-contrast:#15192b" in page
    ink = re.search(r"--brand-ink:(#[0-9a-f]{6})", page).group(1)
    assert ink != "#ffe14d"


def test_the_front_page_links_to_booking_pages(client, link, pages):
    assert "/book/pt" in pages.hrefs(client.get("/"), r"^/book/")


def test_links_of_other_organizations_stay_apart(client, link, make_org, make_trainer, make_appointment_type,
                                                 make_link, db, pages):
    other = make_org(slug="other", name="Other Gym")
    make_link([make_trainer(org=other, name="Sam")], [make_appointment_type(org=other, name="Spin")],
              slug="spin")
    page = pages.text(client.get("/book/spin"))
    assert "Other Gym" in page and "Atlas Fitness" not in page
    assert db.session.scalar(select(func.count()).select_from(BookingLink)) == 2


def test_a_round_robin_link_offers_each_time_once_and_assigns_the_trainer(client, db, org, trainer, make_trainer,
                                                                           pt_type, make_link, pages):
    sam = make_trainer(org=org, name="Sam Lee")
    make_link([trainer, sam], [pt_type], type="round_robin", slug="team")
    day = client.get("/book/team?date=2030-01-07")
    page = pages.text(day)
    times = re.findall(r'<span class="slot__time">(\d\d:\d\d)</span>', page)
    assert times == sorted(set(times)) and times[0] == "09:00"
    assert 'class="slot__who"' not in page  # the gym assigns the trainer
    # the URL names whoever owned the start when it was shown; another trainer may take it now
    other = next(m for m in (trainer, sam) if f"staff={m.id}" not in pages.hrefs(day, r"slot=2030-01-07T09")[0])
    slot = client.get(f"/book/team?date=2030-01-07&slot=2030-01-07T09:00:00Z&staff={other.id}")
    assert "Your details" in pages.text(slot)
    action, fields = pages.form(slot)
    assert client.post(action, data=fill(fields)).status_code == 303
    booking = db.session.scalars(select(Booking)).one()
    assert booking.staff_id in {trainer.id, sam.id}


def test_an_individual_link_with_several_trainers_lets_the_visitor_pick(client, db, org, trainer, make_trainer,
                                                                       pt_type, make_link, pages):
    sam = make_trainer(org=org, name="Sam Lee")
    make_link([trainer, sam], [pt_type], slug="pick")
    day = client.get("/book/pick?date=2030-01-07")
    page = pages.text(day)
    assert '<span class="slot__who">Sam Lee</span>' in page and '<span class="slot__who">Alex Morgan</span>' in page
    sams = next(h for h in pages.hrefs(day, r"slot=2030-01-07T10") if f"staff={sam.id}" in h)
    slot = client.get(sams)
    assert "with Sam Lee" in pages.text(slot)
    action, fields = pages.form(slot)
    assert client.post(action, data=fill(fields)).status_code == 303
    assert db.session.scalars(select(Booking)).one().staff_id == sam.id


def test_a_type_withdrawn_while_typing_is_not_swapped_for_another(client, db, link, make_appointment_type, org,
                                                                  pages):
    strength = make_appointment_type(org=org, name="Strength Assessment", duration_minutes=30,
                                     booking_window_days=None)
    link.appointment_types = [*link.appointment_types, strength]
    db.session.commit()
    slot = client.get(f"/book/pt?type={strength.id}&date=2030-01-07&slot=2030-01-07T09:30:00Z")
    action, fields = pages.form(slot)
    assert fields["appointment_type"] == str(strength.id)
    strength.is_active = False
    db.session.commit()
    response = client.post(action, data=fill(fields))
    assert response.status_code == 422
    assert "can&#39;t be booked here any more" in pages.text(response)
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_a_used_form_resubmitted_for_another_time_asks_again_politely(client, db, link, pages):
    slot = client.get("/book/pt?date=2030-01-07&slot=2030-01-07T09:00:00Z")
    action, fields = pages.form(slot)
    assert client.post(action, data=fill(fields)).status_code == 303
    # back in the browser, another time picked on the same form
    response = client.post(action, data=fill(fields, slot=fields["slot"].replace("T09:", "T11:")))
    assert response.status_code == 422
    page = pages.text(response)
    assert "This form was already used to make a booking" in page and "Idempotency" not in page
    _, again = pages.form(response)
    assert again["idempotency_key"] != fields["idempotency_key"]
    assert client.post(action, data=again).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2
