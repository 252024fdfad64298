"""The class figures (app/services/reports.py class_report, issue 18 item 12): fill rate, waitlist
promotions, people still waiting at the start, late cancellations and no-shows, by class type and by
instructor, over local dates — every number below worked out by hand from the week built here."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.services import classes, reports
from app.services.bookings import Actor
from app.services.errors import InvalidRequest

TZ = "Europe/London"  # UTC+0 in January
MON, SUN = date(2030, 1, 7), date(2030, 1, 13)  # the reported week
BOOKED_AT = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)
CUSTOMER = Actor("attendee")
STAFF = Actor("staff", id="staff-1")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=timezone.utc)


def book(session, who: str, *, now=BOOKED_AT, waitlist=False):
    return classes.book_class(session_id=session.id, attendee_name=who.title(), attendee_email=f"{who}@example.com",
                              actor=CUSTOMER, join_waitlist=waitlist, now=now).spot


def mark(org, spot, status: str, now: datetime):
    classes.set_attendance(org.id, spot.id, status, actor=STAFF, now=now)


@pytest.fixture
def week(db, make_org, make_user, make_class_type, make_class_session):
    """Spin and Yoga (and an empty Mobility class) with Alex and Sam, and what happened in them:

    S1 Spin, Alex, Mon 18:00, 4 places: a, b, c, d booked, e waiting; b cancels late on Monday morning
       and e is promoted then; a, d, e attend, c is a no-show.                     booked 4 of 4
    S2 Spin, Sam, Wed 18:00, 6 places: f and g book, f cancels in good time.       booked 1 of 6
    S3 Yoga, Alex, Thu 07:00, 2 places: i, j booked, k and l still waiting when it starts (their
       waitlist closes); j is a no-show.                                           booked 2 of 2
    S4 Yoga, Sam, Fri 07:00: cancelled with m in it — left out of everything.
    S5 Mobility, Sam, Sunday 23:30 UTC, still Sunday in London: nobody booked.    booked 0 of 1
    S6 Spin, Alex, the Monday after: full, r waiting; q cancels on Saturday and r is promoted then —
       a promotion of the week, in a class outside it.
    S0 Spin, Alex, the Sunday before: a no-show outside the week.
    And another gym's Spin class in the week, full of no-shows, which counts nowhere.
    """
    org = make_org(timezone=TZ)
    alex = make_user(org=org, name="Alex Instructor")
    sam = make_user(org=org, name="Sam Instructor")
    spin = make_class_type(org=org, name="Spin", capacity=4, color="#ff7a1a")
    yoga = make_class_type(org=org, name="Yoga", capacity=2, duration_minutes=60)
    mobility = make_class_type(org=org, name="Mobility", capacity=1, duration_minutes=30)

    s1 = make_class_session(ctype=spin, instructor=alex, start=at(7, 18))
    a, b, c, d = (book(s1, who) for who in "abcd")
    e = book(s1, "e", waitlist=True)
    classes.cancel_spot(b.id, actor=CUSTOMER, now=at(7, 10))  # inside the 12 h window: late; e promoted
    for spot, status in ((a, "attended"), (c, "no_show"), (d, "attended"), (e, "attended")):
        mark(org, spot, status, at(7, 18, 5))

    s2 = make_class_session(ctype=spin, instructor=sam, start=at(9, 18), capacity=6)
    f = book(s2, "f")
    book(s2, "g")
    classes.cancel_spot(f.id, actor=CUSTOMER, now=at(2, 9))  # days ahead: an ordinary cancellation

    s3 = make_class_session(ctype=yoga, instructor=alex, start=at(10, 7))
    book(s3, "i")
    j = book(s3, "j")
    book(s3, "k", waitlist=True)
    book(s3, "l", waitlist=True)
    mark(org, j, "no_show", at(10, 7, 10))

    s4 = make_class_session(ctype=yoga, instructor=sam, start=at(11, 7))
    book(s4, "m")
    classes.cancel_session(org.id, s4.id, actor=STAFF, now=at(8, 9))

    make_class_session(ctype=mobility, instructor=sam, start=at(13, 23, 30))

    s6 = make_class_session(ctype=spin, instructor=alex, start=at(14, 18))
    for who in "nop":
        book(s6, who)
    q = book(s6, "q")
    book(s6, "r", waitlist=True)
    classes.cancel_spot(q.id, actor=CUSTOMER, now=at(12, 9))

    s0 = make_class_session(ctype=spin, instructor=alex, start=at(6, 18))
    mark(org, book(s0, "s"), "no_show", at(6, 18, 5))

    rival = make_org(timezone=TZ, slug="rival-gym")
    rival_spin = make_class_type(org=rival, name="Spin", capacity=2)
    rival_session = make_class_session(ctype=rival_spin, instructor=make_user(org=rival), start=at(8, 18))
    for who in ("x", "y"):
        mark(rival, book(rival_session, who), "no_show", at(8, 18, 5))

    # The backstop closes the waitlists of classes that have started: S3's k and l.
    assert classes.promote_waitlists(now=at(10, 7, 1))["waitlists_closed"] == 2
    return type("Week", (), dict(org=org, alex=alex, sam=sam, spin=spin, yoga=yoga, mobility=mobility))


def figures(items) -> dict:
    return {f.name: (f.sessions, f.places, f.booked, f.percent, f.promoted, f.waitlist_closed, f.late_cancels,
                     f.no_shows) for f in items}


def test_the_week_by_class_type_and_by_instructor(week):
    report = reports.class_report(week.org.id, MON, SUN, TZ)
    # (sessions, places, booked, fill %, promoted, still waiting at the start, late cancels, no-shows)
    assert figures(report.by_type) == {
        "Mobility": (1, 1, 0, 0, 0, 0, 0, 0),
        "Spin": (2, 10, 5, 50, 2, 0, 1, 1),     # S1 4/4 + S2 1/6; e (S1) and r (S6) promoted
        "Yoga": (1, 2, 2, 100, 0, 2, 0, 1),     # S3 only: S4 was cancelled
    }
    assert [f.name for f in report.by_type] == ["Mobility", "Spin", "Yoga"]
    assert figures(report.by_instructor) == {
        "Alex Instructor": (2, 6, 6, 100, 2, 2, 1, 2),
        "Sam Instructor": (2, 7, 1, 14, 0, 0, 0, 0),  # S2 1/6 + S5 0/1 = 1/7
    }
    assert report.by_instructor[0].id == week.alex.id and report.by_type[1].color == "#ff7a1a"
    assert figures([report.total]) == {"All classes": (4, 13, 7, 54, 2, 2, 1, 2)}
    assert not report.is_empty


def test_one_instructors_figures_only(week):
    report = reports.class_report(week.org.id, MON, SUN, TZ, instructor_id=week.sam.id)
    assert figures(report.by_type) == {"Mobility": (1, 1, 0, 0, 0, 0, 0, 0), "Spin": (1, 6, 1, 17, 0, 0, 0, 0)}
    assert figures(report.by_instructor) == {"Sam Instructor": (2, 7, 1, 14, 0, 0, 0, 0)}


def test_days_are_the_gyms_local_days(week):
    # In Tokyo (UTC+9) the week 7–13 January runs from 6 Jan 15:00 to 13 Jan 15:00 UTC: S0 (Sunday
    # 18:00 UTC) is in it with its no-show, S5 (Sunday 23:30 UTC) is not; r's promotion (12 Jan) still is.
    report = reports.class_report(week.org.id, MON, SUN, "Asia/Tokyo")
    assert figures(report.by_type) == {"Spin": (3, 14, 6, 43, 2, 0, 1, 2), "Yoga": (1, 2, 2, 100, 0, 2, 0, 1)}
    # One day alone: Monday in London holds S1 and the morning e was promoted in.
    monday = reports.class_report(week.org.id, MON, MON, TZ)
    assert figures(monday.by_type) == {"Spin": (1, 4, 4, 100, 1, 0, 1, 1)}


def test_no_classes_is_an_empty_report(week, make_org):
    report = reports.class_report(make_org().id, MON, SUN, TZ)
    assert report.is_empty and report.by_instructor == []
    assert (report.total.sessions, report.total.percent) == (0, None)
    quiet = reports.class_report(week.org.id, date(2030, 3, 1), date(2030, 3, 28), TZ)
    assert quiet.is_empty


def test_a_fixed_number_of_queries_whatever_the_number_of_classes(week, count_queries, make_class_session):
    with count_queries() as few:
        reports.class_report(week.org.id, MON, SUN, TZ)
    for day in range(7, 14):
        make_class_session(ctype=week.yoga, instructor=week.sam, start=at(day, 12))
    with count_queries() as more:
        reports.class_report(week.org.id, MON, SUN, TZ)
    assert len(few) == len(more) == 4
    with count_queries() as none:
        reports.class_report(week.org.id, date(2030, 3, 1), date(2030, 3, 28), TZ)
    assert len(none) == 2


@pytest.mark.parametrize("first, last", [(SUN, MON), (MON, MON + timedelta(days=400)), (date(1900, 1, 1), MON)])
def test_bad_periods_are_refused(week, first, last):
    with pytest.raises(InvalidRequest):
        reports.class_report(week.org.id, first, last, TZ)
