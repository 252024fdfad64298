"""The dashboard's classes: types, the weekly timetable with its questions (clashes, booked
sessions), one-off sessions and changes, the roster and its actions, the calendar, the client page
and the class settings. Time is frozen on Sunday 2030-01-06 12:00 UTC (Europe/London = UTC)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import time_machine
from dashboard_helpers import MONDAY, at, is_fragment, text
from sqlalchemy import func, select

from app.models import ClassBooking, ClassSeries, ClassSession, ClassType, Organization
from app.services import classes
from app.services.bookings import Actor

CUSTOMER = Actor("attendee")


@pytest.fixture
def spin(make_class_type, gym):
    return make_class_type(org=gym.org, name="Spin", capacity=2, color="#dc2626")


@pytest.fixture
def session(make_class_session, spin, gym):
    """Alex's Spin, Monday 7 January 18:00–18:45."""
    return make_class_session(ctype=spin, instructor=gym.alex, start=at(MONDAY, 18))


@pytest.fixture
def sam_session(make_class_session, spin, gym):
    return make_class_session(ctype=spin, instructor=gym.sam, start=at(MONDAY, 19))


@pytest.fixture
def rival_session(make_class_session, make_class_type, other):
    return make_class_session(ctype=make_class_type(org=other.org, name="Rival Spin"), instructor=other.alex,
                              start=at(MONDAY, 18))


def book(session, n, **kw):
    return classes.book_class(session_id=session.id, attendee_name=f"Person {n}",
                              attendee_email=f"person{n}@example.com", actor=CUSTOMER, **kw)


def spot_status(db, spot_id):
    db.session.expire_all()
    return db.session.get(ClassBooking, spot_id)


# --- pages render ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/dashboard/classes", "/dashboard/classes/types", "/dashboard/classes/timetable",
                                  "/dashboard/classes/types/new", "/dashboard/classes/timetable/new",
                                  "/dashboard/classes/sessions/new"])
def test_pages_render_for_the_owner_with_the_classes_nav(owner, session, path):
    response = owner.get(path)
    assert response.status_code == 200, text(response)[:500]
    assert 'href="/dashboard/classes"' in text(response) and ">Classes</a>" in text(response)


def test_week_shows_sessions_with_counts_and_waitlist_and_its_fragment(owner, session, db):
    book(session, 1)
    book(session, 2)
    book(session, 3, join_waitlist=True)
    page = owner.get("/dashboard/classes?date=2030-01-07")
    assert "2/2 booked" in text(page) and "1 waiting" in text(page)
    assert f"/dashboard/classes/sessions/{session.id}" in text(page)
    fragment = owner.get("/dashboard/classes?date=2030-01-07", target="class-week")
    assert fragment.status_code == 200 and is_fragment(fragment) and "2/2 booked" in text(fragment)
    # another week, and bad input, are pages too
    assert "2/2 booked" not in text(owner.get("/dashboard/classes?date=2030-01-14"))
    assert owner.get("/dashboard/classes?date=nonsense").status_code == 200
    assert owner.get("/dashboard/classes?date=nonsense%00").status_code == 400  # the app-wide NUL guard


def test_week_filter_by_instructor(owner, session, sam_session, gym, other):
    page = text(owner.get(f"/dashboard/classes?date=2030-01-07&instructor={gym.sam.id}"))
    assert f"/dashboard/classes/sessions/{sam_session.id}" in page
    assert f"/dashboard/classes/sessions/{session.id}" not in page
    assert owner.get(f"/dashboard/classes?instructor={other.alex.id}").status_code == 404
    assert owner.get("/dashboard/classes?instructor=not-an-id").status_code == 404


def test_forms_carry_csrf(owner, session):
    for path in ("/dashboard/classes/types/new", "/dashboard/classes/timetable/new", "/dashboard/classes/sessions/new",
                 f"/dashboard/classes/sessions/{session.id}", f"/dashboard/classes/sessions/{session.id}/change",
                 f"/dashboard/classes/sessions/{session.id}/cancel"):
        body = text(owner.get(path))
        assert body.count('method="post"') >= 1, path
        assert body.count('method="post"') <= body.count('name="csrf_token"'), path


def test_a_post_without_csrf_is_refused(owner, session):
    response = owner.post(f"/dashboard/classes/sessions/{session.id}/add",
                          {"name": "Zoë", "email": "zoe@example.com"}, csrf=False)
    assert response.status_code == 400
    assert classes.roster(session.organization_id, session.id).booked == []


# --- class types -------------------------------------------------------------------------------

def test_owner_creates_and_edits_a_class_type(owner, gym, db):
    response = owner.post("/dashboard/classes/types/new", {
        "name": "HIIT", "description": "Hard", "duration_minutes": "30", "capacity": "12", "price": "7.50",
        "color": "#16a34a", "default_instructor_id": str(gym.sam.id), "location": "Studio 2", "is_active": "y"})
    assert response.status_code == 303, text(response)[:800]
    hiit = db.session.scalars(select(ClassType).where(ClassType.name == "HIIT")).one()
    assert (hiit.capacity, hiit.price_pennies, hiit.default_instructor_id, hiit.location) == (12, 750, gym.sam.id,
                                                                                              "Studio 2")
    edit = owner.get(f"/dashboard/classes/types/{hiit.id}")
    assert 'value="7.50"' in text(edit) and "Studio 2" in text(edit)
    response = owner.post(f"/dashboard/classes/types/{hiit.id}", {
        "name": "HIIT", "duration_minutes": "30", "capacity": "15", "color": "#16a34a"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ClassType, hiit.id).capacity == 15
    assert db.session.get(ClassType, hiit.id).is_active is False  # the box was left unticked


@pytest.mark.parametrize("data, message", [
    ({"name": "", "duration_minutes": "30", "capacity": "5"}, "Name the class."),
    ({"name": "X", "duration_minutes": "3", "capacity": "5"}, "Number must be between 5 and 1440."),
    ({"name": "X", "duration_minutes": "30", "capacity": "99999999999999999999"}, "between 1 and 1000"),
    ({"name": "X", "duration_minutes": "abc", "capacity": "5"}, "Not a valid integer value."),
    ({"name": "X", "duration_minutes": "30", "capacity": "5", "color": "red"}, "a colour like #2563eb"),
    ({"name": "X", "duration_minutes": "30", "capacity": "5", "default_instructor_id": "nope"}, "choose an instructor"),
    ({"name": "x" * 121, "duration_minutes": "30", "capacity": "5"}, "Field cannot be longer than 120 characters."),
])
def test_bad_class_type_input_is_422_with_the_message(owner, data, message, db):
    response = owner.post("/dashboard/classes/types/new", data)
    assert response.status_code == 422
    assert message in text(response)
    assert db.session.scalar(select(func.count()).select_from(ClassType)) == 0


def test_class_type_form_fragment(owner):
    response = owner.post("/dashboard/classes/types/new", {"name": ""}, target="class-type-form")
    assert response.status_code == 422 and is_fragment(response) and "Name the class." in text(response)


def test_trainers_see_but_do_not_edit_types(trainer, spin, other, make_class_type):
    assert trainer.get("/dashboard/classes/types").status_code == 200
    assert "New class" not in text(trainer.get("/dashboard/classes/types"))
    assert trainer.get("/dashboard/classes/types/new").status_code == 403
    assert trainer.get(f"/dashboard/classes/types/{spin.id}").status_code == 403
    assert trainer.post(f"/dashboard/classes/types/{spin.id}", {"name": "Mine"}).status_code == 403


def test_other_orgs_class_type_is_404(owner, other, make_class_type):
    theirs = make_class_type(org=other.org)
    assert owner.get(f"/dashboard/classes/types/{theirs.id}").status_code == 404
    assert owner.get("/dashboard/classes/types/not-a-uuid").status_code == 404


# --- the weekly timetable ----------------------------------------------------------------------

def series_data(spin, instructor, **overrides):
    data = {"class_type_id": str(spin.id), "instructor_id": str(instructor.id), "weekdays": ["1"],
            "start_time": "10:00", "first_date": "2030-01-07", "last_date": "2030-01-28"}
    data.update(overrides)
    return data


def test_series_clashes_are_shown_first_and_saved_without_those_dates(owner, spin, gym, db):
    # Alex has a booking on Monday 7 January at 10:00: the entry's first date clashes.
    response = owner.post("/dashboard/classes/timetable/new", series_data(spin, gym.alex))
    assert response.status_code == 409
    body = text(response)
    assert "Mon 07 Jan 2030, 10:00" in body and "booking" in body and "Ann of Acme" in body
    assert 'name="skip_clashes" value="1"' in body
    assert db.session.scalar(select(func.count()).select_from(ClassSeries)) == 0
    saved = owner.post("/dashboard/classes/timetable/new", {**series_data(spin, gym.alex), "skip_clashes": "1"})
    assert saved.status_code == 303, text(saved)[:800]
    series = db.session.scalars(select(ClassSeries)).one()
    assert [s["date"] for s in series.skipped] == ["2030-01-07"]
    dates = sorted(db.session.scalars(select(ClassSession.occurrence_date).where(ClassSession.series_id == series.id)))
    assert [d.isoformat() for d in dates] == ["2030-01-14", "2030-01-21", "2030-01-28"]
    listing = text(owner.get("/dashboard/classes/timetable"))
    assert "2030-01-07" in listing and "booking" in listing  # the skipped date is shown


def test_series_clash_preview_as_a_fragment(owner, spin, gym):
    response = owner.post("/dashboard/classes/timetable/new", series_data(spin, gym.alex), target="series-form")
    assert response.status_code == 409 and is_fragment(response) and "Save without those dates" in text(response)


@pytest.mark.parametrize("overrides, message", [
    ({"weekdays": []}, "Choose at least one day."),
    ({"weekdays": ["9"]}, "not a valid choice"),
    ({"start_time": "25:99"}, "Not a valid time value."),
    ({"first_date": "2030-02-30"}, "Not a valid date value."),
    ({"last_date": "2029-01-01"}, "on or after the first date"),
    ({"class_type_id": "nope"}, "choose a class"),
    ({"capacity": "5000"}, "Number must be between 1 and 1000."),
])
def test_bad_series_input_is_422(owner, spin, gym, overrides, message):
    response = owner.post("/dashboard/classes/timetable/new", series_data(spin, gym.sam, **overrides))
    assert response.status_code == 422, text(response)[:500]
    assert message in text(response)


def test_editing_a_series_with_booked_sessions_asks_keep_or_change(owner, spin, gym, db):
    series = classes.create_series(gym.org.id, actor=Actor("staff"), class_type_id=spin.id, instructor_id=gym.sam.id,
                                   weekdays=[3], start_time=datetime.strptime("18:00", "%H:%M").time(),
                                   first_date=MONDAY, last_date=MONDAY + timedelta(days=14))
    sessions = list(db.session.scalars(select(ClassSession).where(ClassSession.series_id == series.id)
                                       .order_by(ClassSession.start_at)))
    booked_session = sessions[0]
    book(booked_session, 1)
    new = series_data(spin, gym.sam, weekdays=["3"], start_time="19:00", first_date="2030-01-07",
                      last_date="2030-01-21")
    asked = owner.post(f"/dashboard/classes/timetable/{series.id}", new)
    assert asked.status_code == 409
    assert f"/dashboard/classes/sessions/{booked_session.id}" in text(asked)
    assert 'name="booked" value="keep"' in text(asked) and 'name="booked" value="change"' in text(asked)
    kept = owner.post(f"/dashboard/classes/timetable/{series.id}", {**new, "booked": "keep"})
    assert kept.status_code == 303, text(kept)[:800]
    db.session.expire_all()
    assert db.session.get(ClassSession, booked_session.id).start_at.hour == 18  # kept as it was
    assert db.session.get(ClassSession, sessions[1].id).start_at.hour == 19     # nobody in it: moved
    # …and "change" moves the booked one too
    changed = owner.post(f"/dashboard/classes/timetable/{series.id}",
                         {**new, "start_time": "20:00", "booked": "change"})
    assert changed.status_code == 303
    db.session.expire_all()
    assert db.session.get(ClassSession, sessions[1].id).start_at.hour == 20
    assert db.session.get(ClassSession, booked_session.id).start_at.hour == 18  # detached by "keep" before


def test_editing_with_change_moves_booked_sessions(owner, spin, gym, db):
    series = classes.create_series(gym.org.id, actor=Actor("staff"), class_type_id=spin.id, instructor_id=gym.sam.id,
                                   weekdays=[3], start_time=datetime.strptime("18:00", "%H:%M").time(),
                                   first_date=MONDAY, last_date=MONDAY + timedelta(days=7))
    first = db.session.scalars(select(ClassSession).where(ClassSession.series_id == series.id)
                               .order_by(ClassSession.start_at)).first()
    book(first, 1)
    data = series_data(spin, gym.sam, weekdays=["3"], start_time="19:30", last_date="2030-01-14", booked="change")
    assert owner.post(f"/dashboard/classes/timetable/{series.id}", data).status_code == 303
    db.session.expire_all()
    moved = db.session.get(ClassSession, first.id)
    assert (moved.start_at.hour, moved.start_at.minute) == (19, 30)


def test_series_edit_and_end_pages(owner, trainer, spin, gym, db):
    series = classes.create_series(gym.org.id, actor=Actor("staff"), class_type_id=spin.id, instructor_id=gym.sam.id,
                                   weekdays=[5], start_time=datetime.strptime("07:00", "%H:%M").time(),
                                   first_date=MONDAY, last_date=MONDAY + timedelta(days=14))
    edit = owner.get(f"/dashboard/classes/timetable/{series.id}")
    assert edit.status_code == 200 and 'value="07:00"' in text(edit)
    assert trainer.get(f"/dashboard/classes/timetable/{series.id}").status_code == 403
    assert trainer.get("/dashboard/classes/timetable").status_code == 200
    ask = owner.get(f"/dashboard/classes/timetable/{series.id}/end")
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in text(ask)
    dialog = owner.get(f"/dashboard/classes/timetable/{series.id}/end", target="end")
    assert "<dialog" in text(dialog) and dialog.headers["HX-Retarget"] == "#dialog-slot"
    # a POST without confirm=yes asks again, changing nothing
    again = owner.post(f"/dashboard/classes/timetable/{series.id}/end")
    assert again.status_code == 200 and 'name="confirm" value="yes"' in text(again)
    db.session.expire_all()
    assert db.session.get(ClassSeries, series.id).is_active
    assert owner.post(f"/dashboard/classes/timetable/{series.id}/end", {"confirm": "yes"}).status_code == 303
    db.session.expire_all()
    assert not db.session.get(ClassSeries, series.id).is_active


def test_ending_a_series_with_booked_sessions_asks(owner, spin, gym, db):
    series = classes.create_series(gym.org.id, actor=Actor("staff"), class_type_id=spin.id, instructor_id=gym.sam.id,
                                   weekdays=[5], start_time=datetime.strptime("07:00", "%H:%M").time(),
                                   first_date=MONDAY, last_date=MONDAY + timedelta(days=7))
    first = db.session.scalars(select(ClassSession).where(ClassSession.series_id == series.id)).first()
    spot = book(first, 1).spot
    asked = owner.post(f"/dashboard/classes/timetable/{series.id}/end", {"confirm": "yes"})
    assert asked.status_code == 409 and 'name="booked" value="change"' in text(asked)
    assert owner.post(f"/dashboard/classes/timetable/{series.id}/end",
                      {"confirm": "yes", "booked": "change"}).status_code == 303
    assert spot_status(db, spot.id).cancel_kind == "session_cancelled"


def test_other_orgs_series_is_404(owner, other, make_class_type):
    theirs = classes.create_series(other.org.id, actor=Actor("staff"),
                                   class_type_id=make_class_type(org=other.org).id, instructor_id=other.sam.id,
                                   weekdays=[5], start_time=datetime.strptime("07:00", "%H:%M").time(),
                                   first_date=MONDAY, last_date=MONDAY + timedelta(days=14))
    assert owner.get(f"/dashboard/classes/timetable/{theirs.id}").status_code == 404
    assert owner.post(f"/dashboard/classes/timetable/{theirs.id}/end", {"confirm": "yes"}).status_code == 404


# --- one-off sessions and changes --------------------------------------------------------------

def test_one_off_session_is_created_or_refused_with_its_clash(owner, spin, gym, db):
    clash = owner.post("/dashboard/classes/sessions/new", {
        "class_type_id": str(spin.id), "instructor_id": str(gym.alex.id), "day": "2030-01-07", "start_time": "10:15"})
    assert clash.status_code == 409 and "Ann of Acme" in text(clash)
    made = owner.post("/dashboard/classes/sessions/new", {
        "class_type_id": str(spin.id), "instructor_id": str(gym.sam.id), "day": "2030-01-08", "start_time": "07:00",
        "capacity": "8"})
    assert made.status_code == 303
    row = db.session.scalars(select(ClassSession)).one()
    assert (row.capacity, row.instructor_id, row.start_at) == (8, gym.sam.id, at(MONDAY + timedelta(days=1), 7))
    past = owner.post("/dashboard/classes/sessions/new", {
        "class_type_id": str(spin.id), "instructor_id": str(gym.sam.id), "day": "2020-01-08", "start_time": "07:00"})
    assert past.status_code == 422 and "in the future" in text(past)


def test_change_one_session_substitute_and_move(owner, session, gym, db):
    form = owner.get(f"/dashboard/classes/sessions/{session.id}/change")
    assert form.status_code == 200 and 'value="18:00"' in text(form)
    clash = owner.post(f"/dashboard/classes/sessions/{session.id}/change", {
        "instructor_id": str(gym.sam.id), "day": "2030-01-07", "start_time": "11:00", "capacity": "2"})
    assert clash.status_code == 409 and "Bob of Acme" in text(clash)
    book(session, 1)
    book(session, 2)
    too_small = owner.post(f"/dashboard/classes/sessions/{session.id}/change", {
        "instructor_id": str(gym.alex.id), "day": "2030-01-07", "start_time": "18:00", "capacity": "1"})
    assert too_small.status_code == 422 and "at least 2" in text(too_small)
    done = owner.post(f"/dashboard/classes/sessions/{session.id}/change", {
        "instructor_id": str(gym.sam.id), "day": "2030-01-08", "start_time": "19:00", "capacity": "5",
        "location": "Studio 3"})
    assert done.status_code == 303
    db.session.expire_all()
    row = db.session.get(ClassSession, session.id)
    assert (row.instructor_id, row.start_at, row.capacity, row.location) == (
        gym.sam.id, at(MONDAY + timedelta(days=1), 19), 5, "Studio 3")


def test_cancel_a_whole_session_asks_then_tells_everyone(owner, session, db):
    one = book(session, 1).spot
    two = book(session, 2).spot
    waiting = book(session, 3, join_waitlist=True).spot
    ask = owner.get(f"/dashboard/classes/sessions/{session.id}/cancel")
    assert ask.status_code == 200 and "Everyone booked or waiting is told" in text(ask)
    dialog = owner.get(f"/dashboard/classes/sessions/{session.id}/cancel", target="cancel-session")
    assert "<dialog" in text(dialog) and is_fragment(dialog)
    # without confirm=yes: the question again, nothing cancelled
    assert owner.post(f"/dashboard/classes/sessions/{session.id}/cancel", {"reason": "Ill"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(ClassSession, session.id).status == "scheduled"
    done = owner.post(f"/dashboard/classes/sessions/{session.id}/cancel", {"reason": "Instructor ill", "confirm": "yes"})
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(ClassSession, session.id).status == "cancelled"
    assert {spot_status(db, s.id).cancel_kind for s in (one, two, waiting)} == {"session_cancelled"}
    page = text(owner.get(f"/dashboard/classes/sessions/{session.id}"))
    assert "This session was cancelled: Instructor ill." in page


def test_too_long_a_reason_is_422(owner, session):
    response = owner.post(f"/dashboard/classes/sessions/{session.id}/cancel", {"reason": "x" * 600, "confirm": "yes"})
    assert response.status_code == 422 and "Field cannot be longer than 500 characters." in text(response)


# --- the roster --------------------------------------------------------------------------------

def test_roster_lists_booked_waiting_in_order_and_late_cancels(owner, session, db, gym):
    book(session, 1, attendee_phone="07700 900123")
    late = book(session, 2).spot
    book(session, 3, join_waitlist=True)
    book(session, 4, join_waitlist=True)
    with time_machine.travel(at(MONDAY, 12), tick=False):
        # inside the late-cancel window (12 hours by default; the class is 6 hours away)
        classes.cancel_spot(late.id, actor=CUSTOMER)
    page = owner.get(f"/dashboard/classes/sessions/{session.id}")
    body = text(page)
    assert page.status_code == 200
    assert "person1@example.com" in body and "+447700900123" in body
    # Person 3 was promoted into the freed place; Person 4 is first in line now
    assert re.search(r"1\.</span> Person 4", body)
    assert "Late cancel" in body
    fragment = owner.get(f"/dashboard/classes/sessions/{session.id}", target="roster")
    assert is_fragment(fragment) and "Person 4" in text(fragment)


def test_check_in_too_early_shows_the_services_message_then_works(owner, session, db):
    spot = book(session, 1).spot
    early = owner.post(f"/dashboard/classes/spots/{spot.id}/attendance", {"status": "attended"}, target="roster")
    assert early.status_code == 409 and "two hours before the class" in text(early)
    assert spot_status(db, spot.id).status == "confirmed"
    with time_machine.travel(at(MONDAY, 17), tick=False):
        assert owner.post(f"/dashboard/classes/spots/{spot.id}/attendance", {"status": "attended"}).status_code == 303
        assert spot_status(db, spot.id).status == "attended"
        marked = owner.post(f"/dashboard/classes/spots/{spot.id}/attendance", {"status": "no_show"}, target="roster")
        assert marked.status_code == 200 and "No-show" in text(marked)
        assert spot_status(db, spot.id).status == "no_show"
        assert owner.post(f"/dashboard/classes/spots/{spot.id}/attendance", {"status": "gone"}).status_code == 400


def test_add_a_client_and_the_waitlist(owner, session, db, gym):
    from app.models import Client
    from app.services.clients import attach_client

    picked = db.session.get(Client, attach_client(gym.org.id, name="Zoë Client", email="zoe@example.com",
                                                  phone="+447700900555"))
    db.session.commit()
    search = text(owner.get(f"/dashboard/classes/sessions/{session.id}?q=zoë"))
    assert f"?client={picked.id}" in search
    prefilled = text(owner.get(f"/dashboard/classes/sessions/{session.id}?client={picked.id}"))
    assert 'value="zoe@example.com"' in prefilled
    added = owner.post(f"/dashboard/classes/sessions/{session.id}/add",
                       {"name": "Zoë Client", "email": "zoe@example.com", "phone": "+447700900555"}, target="roster")
    assert added.status_code == 200 and "Zoë Client is booked in." in text(added)
    spot = db.session.scalars(select(ClassBooking).where(ClassBooking.email_key == "zoe@example.com")).one()
    assert (spot.status, spot.source, spot.client_id) == ("confirmed", "dashboard", picked.id)
    again = owner.post(f"/dashboard/classes/sessions/{session.id}/add", {"name": "Zoë", "email": "ZOE@example.com"})
    assert again.status_code == 409 and "already booked" in text(again)
    assert owner.post(f"/dashboard/classes/sessions/{session.id}/add",
                      {"name": "Tom", "email": "tom@example.com"}).status_code == 303
    full = owner.post(f"/dashboard/classes/sessions/{session.id}/add", {"name": "Una", "email": "una@example.com"})
    assert full.status_code == 409 and "full" in text(full)
    waiting = owner.post(f"/dashboard/classes/sessions/{session.id}/add",
                         {"name": "Una", "email": "una@example.com", "join_waitlist": "y"})
    assert waiting.status_code == 303
    assert db.session.scalars(select(ClassBooking.status).where(ClassBooking.email_key == "una@example.com")
                              ).one() == "waitlisted"


@pytest.mark.parametrize("data, message", [
    ({"name": "", "email": "a@example.com"}, "Enter the person&#39;s name."),
    ({"name": "Ann", "email": "not-an-email"}, "email"),
    ({"name": "Ann", "email": "a@example.com", "phone": "12"}, "phone"),
])
def test_bad_add_input_is_422(owner, session, data, message, db):
    response = owner.post(f"/dashboard/classes/sessions/{session.id}/add", data)
    assert response.status_code == 422
    assert message in text(response).lower() or message in text(response)
    assert db.session.scalar(select(func.count()).select_from(ClassBooking)) == 0


def test_remove_asks_then_promotes_the_first_waiting(owner, session, db):
    first = book(session, 1).spot
    book(session, 2)
    waiting = book(session, 3, join_waitlist=True).spot
    ask = owner.get(f"/dashboard/classes/spots/{first.id}/remove")
    assert ask.status_code == 200 and "Remove Person 1" in text(ask)
    assert owner.post(f"/dashboard/classes/spots/{first.id}/remove").status_code == 200  # asked again
    assert spot_status(db, first.id).status == "confirmed"
    done = owner.post(f"/dashboard/classes/spots/{first.id}/remove", {"confirm": "yes"}, target="roster")
    assert done.status_code == 200 and "Person 1 removed." in text(done)
    assert spot_status(db, first.id).cancel_kind == "removed"
    assert spot_status(db, waiting.id).status == "confirmed"


def test_trainer_sees_and_marks_only_their_own_sessions(trainer, session, sam_session, db):
    mine = trainer.get(f"/dashboard/classes/sessions/{session.id}")
    assert mine.status_code == 200 and "Add someone" not in text(mine) and "Cancel session" not in text(mine)
    assert trainer.get(f"/dashboard/classes/sessions/{sam_session.id}").status_code == 403
    spot = book(session, 1).spot
    sams = book(sam_session, 1).spot
    for method, path in [("post", f"/dashboard/classes/sessions/{session.id}/add"),
                         ("get", f"/dashboard/classes/sessions/{session.id}/cancel"),
                         ("get", f"/dashboard/classes/sessions/{session.id}/change"),
                         ("get", f"/dashboard/classes/spots/{spot.id}/remove"),
                         ("get", "/dashboard/classes/sessions/new"),
                         ("get", "/dashboard/classes/timetable/new")]:
        response = getattr(trainer, method)(path) if method == "get" else trainer.post(path, {"name": "X",
                                                                                              "email": "x@example.com"})
        assert response.status_code == 403, path
    with time_machine.travel(at(MONDAY, 17), tick=False):
        assert trainer.post(f"/dashboard/classes/spots/{spot.id}/attendance", {"status": "attended"}).status_code == 303
        assert trainer.post(f"/dashboard/classes/spots/{sams.id}/attendance",
                            {"status": "attended"}).status_code == 403
    assert spot_status(db, spot.id).status == "attended"
    assert spot_status(db, sams.id).status == "confirmed"


def test_other_orgs_sessions_and_spots_are_404(owner, rival_session):
    theirs = book(rival_session, 1).spot
    for path in (f"/dashboard/classes/sessions/{rival_session.id}", f"/dashboard/classes/sessions/{rival_session.id}/change",
                 f"/dashboard/classes/sessions/{rival_session.id}/cancel", f"/dashboard/classes/spots/{theirs.id}/remove",
                 "/dashboard/classes/sessions/nope", "/dashboard/classes/spots/1"):
        assert owner.get(path).status_code == 404, path
    assert owner.get("/dashboard/classes/spots/%00/remove").status_code == 400  # the app-wide NUL guard
    assert owner.post(f"/dashboard/classes/spots/{theirs.id}/attendance", {"status": "attended"}).status_code == 404
    assert owner.post(f"/dashboard/classes/sessions/{rival_session.id}/add",
                      {"name": "X", "email": "x@example.com"}).status_code == 404


# --- the calendar, the client page, settings ---------------------------------------------------

def test_calendar_shows_classes_beside_bookings(owner, trainer, session, sam_session, gym):
    book(session, 1)
    week = text(owner.get("/dashboard/calendar?view=week&date=2030-01-07&trainer=all"))
    assert f"/dashboard/classes/sessions/{session.id}" in week and "Spin 1/2" in week
    alex_week = text(owner.get(f"/dashboard/calendar?view=week&date=2030-01-07&trainer={gym.alex.id}"))
    assert f"/dashboard/classes/sessions/{session.id}" in alex_week
    assert f"/dashboard/classes/sessions/{sam_session.id}" not in alex_week
    day = text(owner.get("/dashboard/calendar?view=day&date=2030-01-07&trainer=all"))
    assert f"/dashboard/classes/sessions/{session.id}" in day and f"/dashboard/classes/sessions/{sam_session.id}" in day
    mine = text(trainer.get("/dashboard/calendar?view=week&date=2030-01-07"))
    assert f"/dashboard/classes/sessions/{session.id}" in mine
    assert f"/dashboard/classes/sessions/{sam_session.id}" not in mine


def test_client_page_lists_class_spots(owner, session, gym, db, make_class_session, spin):
    upcoming = book(session, 1).spot
    earlier = make_class_session(ctype=spin, instructor=gym.sam, start=at(MONDAY + timedelta(days=1), 7))
    late = book(earlier, 1).spot
    with time_machine.travel(at(MONDAY + timedelta(days=1), 6), tick=False):
        classes.cancel_spot(late.id, actor=CUSTOMER)
    past_session = make_class_session(ctype=spin, instructor=gym.sam, start=at(MONDAY + timedelta(days=2), 7))
    attended = book(past_session, 1).spot
    with time_machine.travel(at(MONDAY + timedelta(days=2), 7, 30), tick=False):
        classes.set_attendance(gym.org.id, attended.id, "no_show", actor=Actor("staff"))
        page = text(owner.get(f"/dashboard/clients/{upcoming.client_id}"))
    assert "Classes" in page
    assert f"/dashboard/classes/sessions/{session.id}" in page
    assert "No-show" in page and "Late cancel" in page


def test_settings_edit_the_class_windows(owner, gym, db):
    page = text(owner.get("/dashboard/settings"))
    assert 'name="class_waitlist_cutoff_hours"' in page and 'name="class_late_cancel_hours"' in page
    form = owner.get("/dashboard/settings")
    base = {"name": "Acme", "timezone": "Europe/London", "cancellation_cutoff_hours": "24", "reminder_offsets": "24h"}
    bad = owner.post("/dashboard/settings", {**base, "class_waitlist_cutoff_hours": "-1",
                                             "class_late_cancel_hours": "1000"})
    assert bad.status_code == 422 and "Number must be between 0 and 168." in text(bad)
    good = owner.post("/dashboard/settings", {**base, "class_waitlist_cutoff_hours": "1.5",
                                              "class_late_cancel_hours": "6"})
    assert good.status_code == 303, text(good)[:800]
    db.session.expire_all()
    org = db.session.get(Organization, gym.org.id)
    assert (org.class_waitlist_cutoff_minutes, org.class_late_cancel_minutes) == (90, 360)
    assert form.status_code == 200


def test_trainer_sees_only_their_own_classes_on_a_client_page(trainer, session, sam_session, gym, db):
    # Ann has a one-to-one booking with Alex, so Alex sees her page; she is in both Monday classes.
    mine = classes.book_class(session_id=session.id, attendee_name="Ann of Acme", attendee_email="ann@acme.example",
                              actor=CUSTOMER).spot
    gym.booking.client_id = mine.client_id
    db.session.commit()
    classes.book_class(session_id=sam_session.id, attendee_name="Ann of Acme", attendee_email="ann@acme.example",
                       actor=CUSTOMER)
    page = trainer.get(f"/dashboard/clients/{mine.client_id}")
    assert page.status_code == 200
    assert f"/dashboard/classes/sessions/{session.id}" in text(page)
    assert "Mon 07 Jan 2030, 19:00" not in text(page)  # Sam's class


def test_fragments_of_the_session_form_and_settings(owner, spin, session):
    form = owner.post("/dashboard/classes/sessions/new", {"class_type_id": str(spin.id), "day": "nope"},
                      target="session-form")
    assert form.status_code == 422 and is_fragment(form) and "Not a valid date value." in text(form)
    change = owner.post(f"/dashboard/classes/sessions/{session.id}/change", {"capacity": "10" * 30},
                        target="session-form")
    assert change.status_code == 422 and is_fragment(change) and "Number must be between 1 and 1000." in text(change)
    settings = owner.post("/dashboard/settings", {"name": "Acme", "timezone": "Europe/London",
                                                  "cancellation_cutoff_hours": "24", "class_late_cancel_hours": "nan"},
                          target="settings-form")
    assert settings.status_code == 422 and is_fragment(settings) and "Not a valid decimal value." in text(settings)


def test_nul_bytes_in_a_roster_form_are_a_400_not_a_500(owner, session, db):
    response = owner.post(f"/dashboard/classes/sessions/{session.id}/add", {"name": "A\x00", "email": "a@example.com"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ClassBooking)) == 0


def test_the_team_week_lists_a_days_classes_and_bookings_in_time_order():
    """Bookings and class entries arrive as two lists one after the other; each cell is in time order."""
    import uuid as _uuid
    from datetime import date as _date
    from datetime import datetime as _dt
    from datetime import timezone as _tz
    from types import SimpleNamespace

    from app.dashboard import calendar as cal

    member = SimpleNamespace(id=_uuid.uuid4(), name="Alex")
    evening = SimpleNamespace(staff_id=member.id, start_at=_dt(2030, 1, 7, 17, 30, tzinfo=_tz.utc))
    morning_class = SimpleNamespace(staff_id=member.id, start_at=_dt(2030, 1, 7, 6, 15, tzinfo=_tz.utc))
    [row] = cal.team_matrix([member], [_date(2030, 1, 7)], [evening, morning_class], {}, "Europe/London",
                            _date(2030, 1, 7))
    assert [time for time, _ in row.cells[0].bookings] == ["06:15", "17:30"]
