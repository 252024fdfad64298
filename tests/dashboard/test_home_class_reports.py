"""The overview's classes section (issue 18 item 12): the last four weeks' fill rate per class as an
accessible SVG, and waitlist promotions, late cancellations and no-shows by class and instructor —
a trainer's own classes only, the chosen trainer's for owners, nothing of another gym's, and a clear
empty state for a gym without classes."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from dashboard_helpers import NOW, is_fragment, text

from app.services import classes
from app.services.bookings import Actor

BOOKED_AT = NOW - timedelta(days=20)
STAFF = Actor("staff", id="staff-1")


def book(session, who: str, *, waitlist=False):
    return classes.book_class(session_id=session.id, attendee_name=who.title(), attendee_email=f"{who}@example.com",
                              actor=Actor("attendee"), join_waitlist=waitlist, now=BOOKED_AT).spot


@pytest.fixture
def timetable(gym, other, make_class_type, make_class_session):
    """Two past classes at Acme inside the four weeks to Sunday 6 January, and one of Rival's:

    Spin with Alex, Thu 3 Jan 18:00, 4 places: a, b, c, d booked and e waiting; b cancels late and e
    is promoted; c is a no-show — 4 of 4 booked.
    Boxfit with Sam, Fri 4 Jan 18:00, 10 places: f and g booked — 2 of 10.
    Rival's Yoga with their Alex: 3 of 3, all no-shows, never shown at Acme.
    """
    spin = make_class_type(org=gym.org, name="Acme Spin", capacity=4)
    boxfit = make_class_type(org=gym.org, name="Acme Boxfit", capacity=10)
    s1 = make_class_session(ctype=spin, instructor=gym.alex, start=datetime(2030, 1, 3, 18, tzinfo=timezone.utc))
    spots = {who: book(s1, who) for who in "abcd"}
    book(s1, "e", waitlist=True)
    classes.cancel_spot(spots["b"].id, actor=Actor("attendee"), now=datetime(2030, 1, 3, 9, tzinfo=timezone.utc))
    classes.set_attendance(gym.org.id, spots["c"].id, "no_show", actor=STAFF,
                           now=datetime(2030, 1, 3, 18, 10, tzinfo=timezone.utc))
    s2 = make_class_session(ctype=boxfit, instructor=gym.sam, start=datetime(2030, 1, 4, 18, tzinfo=timezone.utc))
    book(s2, "f")
    book(s2, "g")
    yoga = make_class_type(org=other.org, name="Rival Yoga", capacity=3)
    s3 = make_class_session(ctype=yoga, instructor=other.alex, start=datetime(2030, 1, 2, 7, tzinfo=timezone.utc))
    for who in "xyz":
        classes.set_attendance(other.org.id, book(s3, who).id, "no_show", actor=STAFF,
                               now=datetime(2030, 1, 2, 7, 5, tzinfo=timezone.utc))
    return spin, boxfit


def classes_section(body: str) -> str:
    match = re.search(r'<section class="card charts__classes".*?</section>', body, re.S)
    assert match, "no classes section"
    return match.group(0)


def row(section: str, name: str) -> list[str]:
    """The cells of the first table row headed `name`, as text."""
    match = re.search(rf'<tr><th scope="row">{re.escape(name)}</th>(.*?)</tr>', section, re.S)
    assert match, f"no row for {name}"
    return re.findall(r"<td[^>]*>(.*?)</td>", match.group(1))


def test_owner_sees_fill_rate_and_the_facts_by_class_and_instructor(owner, gym, timetable):
    section = classes_section(text(owner.get("/dashboard/")))
    assert "Mon 10 Dec to Sun 06 Jan" in section
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", section, re.S)
    assert len(svgs) == 1
    assert 'role="img"' in svgs[0] and "Acme Boxfit 20%, Acme Spin 100%" in svgs[0] and "<title>" in svgs[0]
    # (sessions, booked of places, fill, promoted, still waiting, late cancels, no-shows)
    assert row(section, "Acme Spin") == ["1", "4 of 4", "100%", "1", "0", "1", "1"]
    assert row(section, "Acme Boxfit") == ["1", "2 of 10", "20%", "0", "0", "0", "0"]
    assert row(section, "Alex of Acme") == ["1", "4 of 4", "100%", "1", "0", "1", "1"]
    assert row(section, "Sam of Acme") == ["1", "2 of 10", "20%", "0", "0", "0", "0"]
    assert row(section, "All classes") == ["2", "6 of 14", "43%", "1", "0", "1", "1"]
    assert "6 of 14 places booked in 2 sessions (43%)" in section
    assert "Rival" not in section


def test_a_trainer_sees_only_their_own_classes(trainer, gym, timetable):
    section = classes_section(text(trainer.get("/dashboard/")))
    assert row(section, "Acme Spin") == ["1", "4 of 4", "100%", "1", "0", "1", "1"]
    assert row(section, "Alex of Acme") == ["1", "4 of 4", "100%", "1", "0", "1", "1"]
    assert "Boxfit" not in section and "Sam of Acme" not in section and "All classes" not in section


def test_the_chart_fragment_for_one_trainer_carries_their_classes(owner, gym, timetable):
    response = owner.get(f"/dashboard/?trainer={gym.sam.id}", target="dashboard-charts")
    assert is_fragment(response)
    section = classes_section(text(response))
    assert "Classes, last four weeks · Sam of Acme" in section
    assert row(section, "Acme Boxfit") == ["1", "2 of 10", "20%", "0", "0", "0", "0"]
    assert "Acme Spin" not in section


def test_a_gym_without_classes_gets_an_empty_state_not_a_chart(owner, gym, other, make_class_type,
                                                              make_class_session):
    # Rival's class is in the period; Acme has a class type but nothing on its timetable.
    make_class_type(org=gym.org, name="Acme Yoga")
    make_class_session(ctype=make_class_type(org=other.org, name="Rival Spin"), instructor=other.alex,
                       start=datetime(2030, 1, 3, 18, tzinfo=timezone.utc))
    section = classes_section(text(owner.get("/dashboard/")))
    assert "No classes ran or were on the timetable from Mon 10 Dec to Sun 06 Jan" in section
    assert "<svg" not in section and "<table" not in section
