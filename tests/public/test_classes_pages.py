"""Public class pages: the weekly timetable (full page and htmx week), booking a spot or joining the
waitlist, the spot's manage page (cancel, leave the waitlist, promotion), hostile input, and
isolation between gyms."""
from __future__ import annotations

import html
import re
from datetime import date, datetime, time, timezone

import pytest
import time_machine
from sqlalchemy import select

from app.models import ClassBooking, ClassSession, Notification
from app.services import classes
from app.services.bookings import Actor

HTMX_WEEK = {"HX-Request": "true", "HX-Target": "class-week"}
HTMX_BOOKING = {"HX-Request": "true", "HX-Target": "class-booking"}
NEXT_WEEK = "2030-01-07"  # NOW (conftest) is Sunday 6 January 2030: the Monday after
CUSTOMER = Actor("attendee")


@pytest.fixture
def spin(make_class_type, org):
    return make_class_type(org=org, name="Spin", duration_minutes=45, capacity=2, location="Studio 2",
                           color="#dc2626")


@pytest.fixture
def yoga(make_class_type, org):
    return make_class_type(org=org, name="Yoga Flow", duration_minutes=60, capacity=10)


@pytest.fixture
def sam(make_trainer, org):
    return make_trainer(org=org, name="Sam Rivers")


@pytest.fixture
def spin_monday(make_class_session, spin, sam):
    """Spin on Monday 7 January 2030 at 18:00 (London = UTC in January), 2 places."""
    return make_class_session(ctype=spin, instructor=sam, start=datetime(2030, 1, 7, 18, 0, tzinfo=timezone.utc))


@pytest.fixture
def yoga_tuesday(make_class_session, yoga, trainer):
    return make_class_session(ctype=yoga, instructor=trainer, start=datetime(2030, 1, 8, 9, 30, tzinfo=timezone.utc))


def book(session, n, **kw):
    return classes.book_class(session_id=session.id, attendee_name=f"Person {n}",
                              attendee_email=f"person{n}@example.com", actor=CUSTOMER, **kw)


def session_url(org, session):
    return f"/classes/{org.slug}/session/{session.id}"



def week_text(response) -> str:
    return response.get_data(as_text=True)


def rows(response) -> list[str]:
    """Each session row of the timetable, its tags stripped (what a reader sees)."""
    return [" ".join(re.sub(r"<[^>]+>", " ", m).split())
            for m in re.findall(r'<li class="class-row[^"]*"[^>]*>(.*?)</li>', week_text(response), re.S)]


# --- the timetable ---------------------------------------------------------------------------------------

def test_the_week_shows_each_session_with_its_details_in_the_gyms_colours(client, org, link, spin_monday,
                                                                           yoga_tuesday, sam):
    response = client.get(f"/classes/{org.slug}?week={NEXT_WEEK}")
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = week_text(response)
    assert "<html" in page and "Class timetable" in page and "Atlas Fitness" in page
    assert "#0f766e" in page  # the gym's booking-page colours
    assert "Monday 7 January 2030" in page and "Tuesday 8 January 2030" in page
    spin_row, yoga_row = rows(response)
    assert spin_row.startswith("18:00 to 18:45 Spin With Sam Rivers · 45 min · Studio 2 2 spots left")
    assert "Book" in spin_row
    assert yoga_row.startswith("09:30 to 10:30 Yoga Flow With Alex Morgan · 1 hour 10 spots left")
    assert f'href="/classes/atlas/session/{spin_monday.id}"' in page


def test_an_htmx_request_gets_the_week_alone(client, org, spin_monday):
    response = client.get(f"/classes/{org.slug}?week={NEXT_WEEK}", headers=HTMX_WEEK)
    assert response.status_code == 200
    page = week_text(response)
    assert "<html" not in page and "Class timetable" not in page
    assert "class-filters" in page and len(rows(response)) == 1
    assert "HX-Request" in response.headers["Vary"]


def test_each_session_says_spots_left_full_cancelled_or_started(client, db, org, make_class_session, spin, sam):
    open_one = make_class_session(ctype=spin, instructor=sam, start=datetime(2030, 1, 6, 18, 0, tzinfo=timezone.utc))
    full = make_class_session(ctype=spin, instructor=sam, start=datetime(2030, 1, 6, 19, 0, tzinfo=timezone.utc))
    cancelled = make_class_session(ctype=spin, instructor=sam, start=datetime(2030, 1, 6, 20, 0, tzinfo=timezone.utc))
    make_class_session(ctype=spin, instructor=sam, start=datetime(2030, 1, 6, 11, 30, tzinfo=timezone.utc))  # started
    book(open_one, 1)
    book(full, 1), book(full, 2)
    classes.cancel_session(org.id, cancelled.id, actor=Actor("staff"))
    labels = [re.sub(r"^.*?Studio 2 ", "", r) for r in rows(client.get(f"/classes/{org.slug}"))]
    assert labels == [
        "Started", "1 spot left Book Spin at 18:00, Sun 6 Jan", "Full — join waitlist Join waitlist Spin at 19:00, Sun 6 Jan",
        "Cancelled"]


def test_filters_by_class_and_by_instructor(client, org, spin_monday, yoga_tuesday, spin, yoga, sam, trainer):
    by_class = rows(client.get(f"/classes/{org.slug}?week={NEXT_WEEK}&class={yoga.id}"))
    assert len(by_class) == 1 and "Yoga Flow" in by_class[0]
    by_instructor = client.get(f"/classes/{org.slug}?week={NEXT_WEEK}&instructor={sam.id}", headers=HTMX_WEEK)
    assert [r.split()[3] for r in rows(by_instructor)] == ["Spin"]
    # the choices are offered, the chosen one selected, and the week's links keep the filter
    page = week_text(by_instructor)
    assert f'<option value="{sam.id}" selected>Sam Rivers</option>' in page
    assert f'<option value="{trainer.id}">Alex Morgan</option>' in page
    assert f"instructor={sam.id}" in re.search(r'id="week-prev" href="([^"]+)"', page).group(1)
    none = client.get(f"/classes/{org.slug}?week={NEXT_WEEK}&class={spin.id}&instructor={trainer.id}")
    assert rows(none) == [] and "No classes match these choices this week" in week_text(none)


def test_week_navigation_from_this_week_on(client, org, spin_monday):
    this_week = week_text(client.get(f"/classes/{org.slug}"))
    assert "This week" in this_week and 'id="week-prev"' not in this_week  # no weeks gone by
    assert re.search(r'id="week-next" href="/classes/atlas\?week=2030-01-07"', this_week)
    assert rows(client.get(f"/classes/{org.slug}")) == []
    following = client.get(f"/classes/{org.slug}?week=2030-01-09")  # any day names its week
    assert "Week of Mon 7 Jan" in week_text(following) and len(rows(following)) == 1
    assert re.search(r'id="week-prev" href="/classes/atlas"', week_text(following))
    # past the horizon: the last week on offer, with no further link
    far = week_text(client.get(f"/classes/{org.slug}?week=2031-06-02"))
    assert "Week of Mon 25 Mar" in far and 'id="week-next"' not in far


def test_a_0700_class_stays_at_0700_across_the_change_of_clocks(client, db, org, spin, sam):
    """London goes to summer time on Sunday 31 March 2030: the Mondays either side are at 07:00 local,
    07:00 UTC and then 06:00 UTC."""
    with time_machine.travel(datetime(2030, 3, 20, 12, 0, tzinfo=timezone.utc), tick=False):
        classes.create_series(org.id, actor=Actor("staff"), class_type_id=spin.id, instructor_id=sam.id,
                              weekdays=[1], start_time=time(7, 0), first_date=date(2030, 3, 25),
                              last_date=date(2030, 4, 1))
        starts = db.session.scalars(select(ClassSession.start_at).order_by(ClassSession.start_at)).all()
        assert [s.hour for s in starts] == [7, 6]
        before = client.get(f"/classes/{org.slug}?week=2030-03-25")
        # this week's "next" link, followed as htmx follows it
        following = html.unescape(re.search(r'id="week-next" href="([^"]+)"', week_text(before)).group(1))
        assert following == f"/classes/{org.slug}?week=2030-04-01"
        after = client.get(following, headers=HTMX_WEEK)
        assert "Monday 25 March 2030" in week_text(before) and "Monday 1 April 2030" in week_text(after)
        assert [r[:14] for r in rows(before)] == ["07:00 to 07:45"]
        assert [r[:14] for r in rows(after)] == ["07:00 to 07:45"]


@pytest.mark.parametrize("query", ["week=2030-13-01", "week=" + "9" * 5000, "week=0001-01-01", "week=2030-02-30",
                                   "class=not-an-id", "instructor=" + "a" * 10000,
                                   "class=00000000-0000-0000-0000-000000000000", "week[]=1&class=1&class=2"])
def test_nonsense_in_the_query_string_shows_this_week(client, org, spin_monday, query):
    response = client.get(f"/classes/{org.slug}?{query}")
    assert response.status_code == 200
    assert "This week" in week_text(response)


@pytest.mark.parametrize("slug", ["nowhere", "x" * 5000])
def test_an_unknown_gym_is_404(client, org, slug):
    assert client.get(f"/classes/{slug}").status_code == 404


@pytest.mark.parametrize("path", ["/classes/at%00las", "/classes/atlas?week=%00", "/classes/atlas?class=%00%00",
                                  "/classes/atlas/session/%00", "/booking/manage/%00", "/booking/manage/%00/cancel"])
def test_a_nul_character_anywhere_is_refused(client, org, spin_monday, path):
    assert client.get(path).status_code == 400


# --- booking a spot ---------------------------------------------------------------------------------------

def test_booking_a_spot_leads_to_the_confirmation_with_the_manage_link(client, db, org, spin_monday, pages):
    page = client.get(session_url(org, spin_monday))
    assert page.status_code == 200
    text = pages.text(page)
    assert "Book your spot" in text and "2 spots left" in text and "Studio 2" in text and "Sam Rivers" in text
    assert "Monday 7 January 2030, 18:00–18:45 (Europe/London)" in text
    action, fields = pages.form(page, "/session/")
    assert fields["join_waitlist"] == "" and fields["phone_country"] == "GB"
    fields.update(name="Ann Lee", email="Ann@Example.com", phone="07700 900123")
    response = client.post(action, data=fields)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert re.match(r"/booking/manage/[\w-]+\?created=1$", location)
    spot = db.session.scalars(select(ClassBooking)).one()
    assert (spot.status, spot.attendee_name, spot.attendee_phone) == ("confirmed", "Ann Lee", "+447700900123")
    confirmation = pages.text(client.get(location))
    assert "You're booked!" in confirmation and "Spin" in confirmation
    assert "Mon 7 Jan, 18:00 (Europe/London)" in confirmation
    assert "We've sent the details to <strong class=\"confirmation__email\">Ann@example.com</strong>" in confirmation
    token = location.split("/")[3].split("?")[0]
    assert f"http://localhost/booking/manage/{token}" in confirmation
    assert db.session.scalar(select(Notification.template).where(Notification.class_booking_id == spot.id)
                             .where(Notification.channel == "email").limit(1)) == "class_booked"


def test_htmx_booking_is_a_client_redirect(client, org, spin_monday, pages):
    action, fields = pages.form(client.get(session_url(org, spin_monday)), "/session/")
    fields.update(name="Ann Lee", email="ann@example.com")
    response = client.post(action, data=fields, headers=HTMX_BOOKING)
    assert response.status_code == 200 and "/booking/manage/" in response.headers["HX-Redirect"]


def test_every_mistake_is_reported_at_once(client, db, org, spin_monday, pages):
    action, fields = pages.form(client.get(session_url(org, spin_monday)), "/session/")
    fields.update(name="", email="not-an-email", phone="12")
    response = client.post(action, data=fields, headers=HTMX_BOOKING)
    assert response.status_code == 422
    text = html.unescape(pages.text(response))
    assert "<html" not in text
    assert "Please tell us your name." in text and "doesn't look like an email address" in text
    assert 'id="phone-error"' in text
    assert 'value="not-an-email"' in text  # what was typed stays
    assert db.session.scalars(select(ClassBooking)).all() == []


def test_the_form_needs_its_csrf_token(client, db, org, spin_monday, pages):
    action, fields = pages.form(client.get(session_url(org, spin_monday)), "/session/")
    fields.update(name="Ann Lee", email="ann@example.com")
    del fields["csrf_token"]
    assert client.post(action, data=fields).status_code == 400
    assert db.session.scalars(select(ClassBooking)).all() == []


def test_a_full_class_offers_its_waitlist_and_says_the_position(client, db, org, spin_monday, pages):
    book(spin_monday, 1), book(spin_monday, 2)
    page = client.get(session_url(org, spin_monday))
    text = pages.text(page)
    assert "This class is full — join the waitlist" in text and "Join the waitlist</button>" in text
    assert "Book my spot" not in text
    action, fields = pages.form(page, "/session/")
    assert fields["join_waitlist"] == "1"
    fields.update(name="Bea Cole", email="bea@example.com")
    response = client.post(action, data=fields)
    assert response.status_code == 303
    confirmation = pages.text(client.get(response.headers["Location"]))
    assert "You're on the waitlist — position 1" in confirmation
    assert "bea@example.com" in confirmation and "Leave the waitlist" in confirmation
    spot = db.session.scalars(select(ClassBooking).where(ClassBooking.attendee_email == "bea@example.com")).one()
    assert spot.status == "waitlisted"


def test_the_last_spot_taken_meanwhile_offers_the_waitlist_with_the_details_kept(client, db, org, spin_monday, pages):
    action, fields = pages.form(client.get(session_url(org, spin_monday)), "/session/")
    book(spin_monday, 1), book(spin_monday, 2)
    fields.update(name="Bea Cole", email="bea@example.com")
    response = client.post(action, data=fields)
    assert response.status_code == 409
    text = pages.text(response)
    assert "the last spot has just been taken" in text and 'value="Bea Cole"' in text
    assert db.session.scalars(select(ClassBooking).where(ClassBooking.attendee_email == "bea@example.com")).all() == []
    action, fields = pages.form(response, "/session/")
    assert fields["join_waitlist"] == "1" and fields["email"] == "bea@example.com"
    assert client.post(action, data=fields).status_code == 303
    spot = db.session.scalars(select(ClassBooking).where(ClassBooking.attendee_email == "bea@example.com")).one()
    assert spot.status == "waitlisted"


def test_the_same_person_twice_is_told_they_are_booked(client, org, spin_monday, pages):
    book(spin_monday, 1)
    action, fields = pages.form(client.get(session_url(org, spin_monday)), "/session/")
    fields.update(name="Person One", email="PERSON1@example.com")
    response = client.post(action, data=fields)
    assert response.status_code == 409
    assert "already booked into this class" in pages.text(response)


def test_a_cancelled_or_started_session_has_no_form(client, org, make_class_session, spin, sam, pages):
    started = make_class_session(ctype=spin, instructor=sam, start=datetime(2030, 1, 6, 11, 0, tzinfo=timezone.utc))
    text = pages.text(client.get(session_url(org, started)))
    assert "This class has started" in text and "<form class=\"details-form\"" not in text
    cancelled = make_class_session(ctype=spin, instructor=sam, start=datetime(2030, 1, 8, 11, 0, tzinfo=timezone.utc))
    classes.cancel_session(org.id, cancelled.id, actor=Actor("staff"), reason="Instructor ill")
    text = pages.text(client.get(session_url(org, cancelled)))
    assert "This class is cancelled" in text and "Instructor ill" in text


@pytest.mark.parametrize("session_id", ["nope", "0" * 5000, "00000000-0000-0000-0000-000000000000",
                                        "../../etc/passwd"])
def test_a_bad_session_id_is_404(client, org, spin_monday, session_id):
    assert client.get(f"/classes/{org.slug}/session/{session_id}").status_code == 404


@pytest.mark.parametrize("changes, status", [
    ({"name": "A" * 100_000}, 422), ({"email": "a@" + "b" * 5000 + ".com"}, 422), ({"phone": "9" * 5000}, 422),
    ({"phone_country": "ZZ"}, 422), ({"name": "\n\t "}, 422),
    # a NUL character anywhere is refused before the form is read (app/guards.py)
    ({"name": "Ann\x00Lee"}, 400), ({"email": "a\x00@example.com"}, 400), ({"phone_country": "\x00ZZ"}, 400)])
def test_hostile_details_are_refused_never_a_500(client, db, org, spin_monday, pages, changes, status):
    action, fields = pages.form(client.get(session_url(org, spin_monday)), "/session/")
    fields.update({"name": "Ann Lee", "email": "ann@example.com"})
    fields.update(changes)
    response = client.post(action, data=fields)
    assert response.status_code == status
    assert db.session.scalars(select(ClassBooking)).all() == []


def test_an_unexpected_waitlist_value_never_waitlists_silently(client, db, org, spin_monday, pages):
    book(spin_monday, 1), book(spin_monday, 2)
    action, fields = pages.form(client.get(session_url(org, spin_monday)), "/session/")
    fields.update(name="Bea Cole", email="bea@example.com", join_waitlist="yes please")
    assert client.post(action, data=fields).status_code == 409
    assert db.session.scalars(select(ClassBooking).where(ClassBooking.attendee_email == "bea@example.com")).all() == []


# --- the spot's manage page ---------------------------------------------------------------------------------

def test_cancelling_a_spot_promotes_the_first_person_waiting(client, db, org, spin_monday, pages):
    ann = book(spin_monday, 1)
    book(spin_monday, 2)
    bea = book(spin_monday, 3, join_waitlist=True)
    manage = pages.text(client.get(f"/booking/manage/{ann.manage_token}"))
    assert "Spin" in manage and ">Booked<" in manage and "Cancel my spot" in manage
    assert "Cancel before Mon 7 Jan, 06:00 (Europe/London)" in manage
    waiting = pages.text(client.get(f"/booking/manage/{bea.manage_token}"))
    assert "On the waitlist" in waiting and "Position 1 — you're next" in waiting
    confirm = client.get(f"/booking/manage/{ann.manage_token}/cancel", headers={"HX-Request": "true",
                                                                                "HX-Target": "booking-actions"})
    text = pages.text(confirm)
    assert "<html" not in text and "Cancel your spot?" in text and "late cancellation" not in text
    action, fields = pages.form(confirm, "/cancel")
    response = client.post(action, data=fields)
    assert response.status_code == 303 and response.headers["Location"] == f"/booking/manage/{ann.manage_token}"
    after = pages.text(client.get(response.headers["Location"]))
    assert "Your spot is cancelled" in after and "This spot is cancelled" in after
    promoted = pages.text(client.get(f"/booking/manage/{bea.manage_token}"))
    assert ">Booked<" in promoted and "Position" not in promoted
    db.session.expire_all()
    assert db.session.get(ClassBooking, bea.spot.id).status == "confirmed"
    assert db.session.get(ClassBooking, ann.spot.id).cancel_kind == "customer"
    assert "class_promoted" in db.session.scalars(select(Notification.template).where(
        Notification.class_booking_id == bea.spot.id)).all()


def test_leaving_the_waitlist(client, db, org, spin_monday, pages):
    book(spin_monday, 1), book(spin_monday, 2)
    first = book(spin_monday, 3, join_waitlist=True)
    second = book(spin_monday, 4, join_waitlist=True)
    assert "Position 2" in pages.text(client.get(f"/booking/manage/{second.manage_token}"))
    confirm = client.get(f"/booking/manage/{first.manage_token}/cancel")
    assert "Leave the waitlist?" in pages.text(confirm) and "number 1" in pages.text(confirm)
    action, fields = pages.form(confirm, "/cancel")
    response = client.post(action, data=fields, follow_redirects=True)
    assert "You've left the waitlist" in pages.text(response)
    assert "Position 1 — you're next" in pages.text(client.get(f"/booking/manage/{second.manage_token}"))
    db.session.expire_all()
    assert db.session.get(ClassBooking, first.spot.id).cancel_kind == "left_waitlist"
    # Nothing left to cancel: the confirm step is not offered again, and a second POST changes nothing.
    assert "Leave the waitlist?" not in pages.text(client.get(f"/booking/manage/{first.manage_token}/cancel"))
    again = client.post(action, data=fields, follow_redirects=True)
    assert "already been cancelled" in pages.text(again)


def test_a_late_cancellation_is_warned_about_before_confirming(client, db, org, make_class_session, spin, sam, pages):
    soon = make_class_session(ctype=spin, instructor=sam, start=datetime(2030, 1, 6, 20, 0, tzinfo=timezone.utc))
    spot = book(soon, 1)
    manage = pages.text(client.get(f"/booking/manage/{spot.manage_token}"))
    assert "cancelling counts as a late cancellation" in manage
    confirm = client.get(f"/booking/manage/{spot.manage_token}/cancel")
    assert 'id="late-cancel-warning"' in pages.text(confirm) and "Yes, cancel late" in pages.text(confirm)
    action, fields = pages.form(confirm, "/cancel")
    response = client.post(action, data=fields, follow_redirects=True)
    assert "recorded as a late cancellation" in pages.text(response)
    db.session.expire_all()
    assert db.session.get(ClassBooking, spot.spot.id).cancel_kind == "late"


def test_cancelling_needs_the_csrf_token(client, db, org, spin_monday, pages):
    spot = book(spin_monday, 1)
    action, fields = pages.form(client.get(f"/booking/manage/{spot.manage_token}/cancel"), "/cancel")
    del fields["csrf_token"]
    assert client.post(action, data=fields).status_code == 400
    db.session.expire_all()
    assert db.session.get(ClassBooking, spot.spot.id).status == "confirmed"


def test_the_short_manage_link_opens_a_class_spot(client, spin_monday):
    spot = book(spin_monday, 1)
    response = client.get(f"/m/{spot.manage_token}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/booking/manage/{spot.manage_token}")


@pytest.mark.parametrize("token", ["wrong", "x" * 5000])
def test_a_wrong_token_is_404(client, spin_monday, token):
    book(spin_monday, 1)
    assert client.get(f"/booking/manage/{token}").status_code == 404
    assert client.get(f"/booking/manage/{token}/cancel").status_code == 404


def test_an_appointments_manage_page_still_works_beside_class_spots(client, booked, spin_monday, pages):
    book(spin_monday, 1)
    _, token = booked()
    text = pages.text(client.get(f"/booking/manage/{token}"))
    assert "Personal Training" in text and "Reschedule" in text


# --- gyms apart ------------------------------------------------------------------------------------------------

def test_another_gyms_sessions_and_classes_stay_apart(client, db, org, make_org, make_class_type, make_class_session,
                                                      make_trainer, spin_monday, pages):
    other = make_org(slug="elsewhere", name="Elsewhere Gym", timezone="Europe/London")
    their_type = make_class_type(org=other, name="Boxing")
    theirs = make_class_session(ctype=their_type, instructor=make_trainer(org=other, name="Kim Other"),
                                start=datetime(2030, 1, 7, 19, 0, tzinfo=timezone.utc))
    ours = week_text(client.get(f"/classes/{org.slug}?week={NEXT_WEEK}&class={their_type.id}"))
    assert "Boxing" not in ours and "Kim Other" not in ours and "Spin" in ours  # their class is no filter here
    assert client.get(f"/classes/{org.slug}/session/{theirs.id}").status_code == 404
    action, fields = pages.form(client.get(session_url(org, spin_monday)), "/session/")
    fields.update(name="Ann Lee", email="ann@example.com")
    assert client.post(f"/classes/{org.slug}/session/{theirs.id}", data=fields).status_code == 404
    assert client.post(f"/classes/{other.slug}/session/{spin_monday.id}", data=fields).status_code == 404
    assert db.session.scalars(select(ClassBooking)).all() == []
    assert "Boxing" in week_text(client.get(f"/classes/{other.slug}?week={NEXT_WEEK}"))


def test_the_front_page_links_each_gyms_timetable(client, org, link, spin):
    page = week_text(client.get("/"))
    assert 'href="/classes/atlas"' in page and "Class timetable" in page


def test_the_booking_page_links_the_timetable_only_when_the_gym_runs_classes(client, org, link, make_class_type):
    assert "/classes/atlas" not in week_text(client.get(f"/book/{link.slug}"))
    make_class_type(org=org, name="Spin")
    assert 'href="/classes/atlas">Group classes: see the class timetable' in week_text(client.get(f"/book/{link.slug}"))


def test_a_booked_spot_downloads_as_a_calendar_file_and_a_cancelled_one_says_so(client, db, spin_monday):
    from app.services import classes as class_service
    from app.services.bookings import Actor as _Actor

    spot = book(spin_monday, 1)
    page = client.get(f"/booking/manage/{spot.manage_token}").get_data(as_text=True)
    assert f"/booking/manage/{spot.manage_token}/booking.ics" in page or "Download .ics" in page
    response = client.get(f"/booking/manage/{spot.manage_token}/booking.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    assert f"UID:class-spot-{spot.spot.id}" in body and "STATUS:CONFIRMED" in body
    assert response.headers["Cache-Control"] == "no-store"
    class_service.cancel_spot(spot.spot.id, actor=_Actor("staff"), removed=True)
    cancelled = client.get(f"/booking/manage/{spot.manage_token}/booking.ics").get_data(as_text=True)
    assert "STATUS:CANCELLED" in cancelled
