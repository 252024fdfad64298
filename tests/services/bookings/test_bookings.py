"""The booking lifecycle service: create, reschedule, cancel, audit, on SQLite and PostgreSQL."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.models import Booking, BookingAudit
from app.services.bookings import (
    Actor,
    SlotTaken,
    cancel_booking,
    create_booking,
    get_booking_by_token,
    hash_token,
    reschedule_booking,
    set_booking_status,
)
from app.services.errors import Conflict, InvalidRequest, NotFound

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=timezone.utc)  # Sunday; London is UTC+0 in January
MON_9 = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)
ATTENDEE = Actor("attendee", ip="203.0.113.5", user_agent="pytest")


@pytest.fixture
def world(make_org, make_trainer, make_appointment_type, make_link):
    org = make_org(slug="gym", timezone="Europe/London", cancellation_cutoff_minutes=12 * 60)
    alex = make_trainer(org=org, name="Alex")
    sam = make_trainer(org=org, name="Sam")
    pt = make_appointment_type(org=org, name="PT", duration_minutes=60, buffer_after_minutes=15,
                               booking_window_days=None, min_notice_minutes=60)
    pt_link = make_link([alex], [pt], slug="pt")
    team_link = make_link([alex, sam], [pt], type="round_robin", slug="team")
    duo_link = make_link([alex, sam], [pt], type="collective", slug="duo")
    return type("World", (), dict(org=org, alex=alex, sam=sam, pt=pt, pt_link=pt_link, team_link=team_link,
                                  duo_link=duo_link))


def book(link="pt", start=MON_9, **kw):
    values = dict(link_slug=link, start_time=start, attendee_name="Jane Smith", attendee_email="jane@example.com",
                  actor=ATTENDEE, now=NOW)
    values.update(kw)
    return create_booking(**values)


def test_create_stores_a_hashed_token_and_audits(db, world):
    result = book(attendee_phone="07700 900123", attendee_timezone="America/New_York")
    booking = result.booking
    # 128 bits, url-safe: 22 characters (short enough for a one-segment SMS), all of them random
    assert result.created and len(result.manage_token) == 22 and re.fullmatch(r"[A-Za-z0-9_-]+", result.manage_token)
    assert booking.manage_token_hash == hash_token(result.manage_token)
    assert result.manage_token not in (booking.manage_token_hash, booking.idempotency_key)
    assert booking.attendee_phone == "+447700900123"  # E.164, GB default region
    assert (booking.start_at, booking.end_at) == (MON_9, MON_9 + timedelta(hours=60 / 60))
    assert booking.buffer_after_minutes == 15 and booking.status == "confirmed"
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).one()
    assert (audit.actor_type, audit.action, audit.ip_address) == ("attendee", "created", "203.0.113.5")
    assert audit.before is None and audit.after["status"] == "confirmed"
    assert get_booking_by_token(result.manage_token).id == booking.id


def test_wrong_tokens_are_not_found(world):
    book()
    for token in ("", "x" * 200, "not-the-token"):
        with pytest.raises(NotFound):
            get_booking_by_token(token)


def test_a_taken_slot_is_refused_with_alternatives(db, world):
    book()
    with pytest.raises(SlotTaken) as caught:
        book(attendee_email="other@example.com")
    alternatives = caught.value.alternatives  # slots, as values: each entry point formats them
    assert alternatives and all(alt.start != MON_9 for alt in alternatives)
    assert alternatives[0].start == MON_9 + timedelta(hours=2)  # 10:00 collides with the 15-minute buffer
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start": MON_9 + timedelta(minutes=10)}, None),  # not an offered start: slot_taken
        ({"start": datetime(2030, 1, 7, 9, 0)}, "start_time"),  # naive
        ({"end_time": MON_9 + timedelta(minutes=30)}, "end_time"),
        ({"attendee_email": "not-an-email"}, "attendee_email"),
        ({"attendee_phone": "12"}, "attendee_phone"),
        ({"attendee_name": "   "}, "attendee_name"),
        ({"attendee_name": "x" * 201}, "attendee_name"),
        ({"attendee_timezone": "Nowhere/Land"}, "attendee_timezone"),
        ({"staff_id": "00000000-0000-0000-0000-000000000000"}, "staff_id"),
        ({"appointment_type_id": "00000000-0000-0000-0000-000000000000"}, "appointment_type_id"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(db, world, overrides, field):
    start = overrides.pop("start", MON_9)
    with pytest.raises((InvalidRequest, SlotTaken)) as caught:
        book(start=start, **overrides)
    if field:
        assert field in caught.value.fields
    else:
        assert isinstance(caught.value, SlotTaken)
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0
    assert db.session.scalar(select(func.count()).select_from(BookingAudit)) == 0


def test_min_notice_and_the_booking_window_are_refused_with_the_real_reason(db, world):
    """Not `slot_taken` (nothing is taken): `too_soon` / `too_far_ahead`, for a booking and a move
    alike (issue 16, item 9)."""
    with pytest.raises(Conflict) as soon:
        book(start=MON_9, now=MON_9 - timedelta(minutes=30))
    assert soon.value.code == "too_soon" and "1 hour" in soon.value.message
    assert not isinstance(soon.value, SlotTaken)
    world.pt.booking_window_days = 14
    db.session.commit()
    with pytest.raises(Conflict) as far:
        book(start=MON_9 + timedelta(days=21))
    assert far.value.code == "too_far_ahead" and "14 days" in far.value.message
    booking = book().booking
    for start, code in ((NOW + timedelta(minutes=30), "too_soon"), (MON_9 + timedelta(days=21), "too_far_ahead")):
        with pytest.raises(Conflict) as refused:
            reschedule_booking(booking.id, start_time=start, actor=ATTENDEE, now=NOW)
        assert refused.value.code == code


def test_private_link_cannot_be_booked(db, world):
    world.pt_link.is_public = False
    db.session.commit()
    with pytest.raises(NotFound):
        book()


def test_idempotency_key_returns_the_first_booking(db, world):
    first = book(idempotency_key="abc-123")
    again = book(idempotency_key="abc-123")
    assert again.booking.id == first.booking.id and not again.created and again.manage_token is None
    with pytest.raises(Conflict) as caught:
        book(idempotency_key="abc-123", start=MON_9 + timedelta(hours=2))
    assert caught.value.code == "idempotency_conflict"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_a_replay_must_be_the_same_request_and_a_long_key_is_refused(db, world):
    """A key with the customer's email and time but other details is not a retry: refused, and
    it learns nothing of the booking (issue 16, item 9). A key over the limit is refused, not cut
    (two long keys with one beginning would name one booking)."""
    first = book(idempotency_key="k-1", attendee_phone="+44 7700 900123", description="Knee injury")
    same = book(idempotency_key="k-1", attendee_phone="+44 7700 900123", description="Knee injury")
    assert same.booking.id == first.booking.id and not same.created
    for change in ({"attendee_name": "Someone Else"}, {"attendee_phone": None}, {"description": None},
                   {"link": "team"}, {"location_details": "Pool"}):
        with pytest.raises(Conflict) as caught:
            book(idempotency_key="k-1", **{"attendee_phone": "+44 7700 900123", "description": "Knee injury",
                                           **change})
        assert caught.value.code == "idempotency_conflict" and "Knee" not in caught.value.message
    with pytest.raises(InvalidRequest) as long_key:
        book(idempotency_key="x" * 256, attendee_email="other@example.com", start=MON_9 + timedelta(hours=2))
    assert "idempotency_key" in long_key.value.fields
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_round_robin_assigns_and_spreads(db, world):
    first = book(link="team")
    second = book(link="team", attendee_email="b@example.com")
    assert first.booking.staff_id != second.booking.staff_id  # same time, both trainers used
    with pytest.raises(SlotTaken):
        book(link="team", attendee_email="c@example.com")


def test_collective_booking_holds_everyone_and_moves_together(db, world):
    result = book(link="duo")
    rows = db.session.scalars(select(Booking).where(Booking.group_id == result.booking.group_id)).all()
    assert {r.staff_id for r in rows} == {world.alex.id, world.sam.id}
    with pytest.raises(SlotTaken):  # Alex is held by the collective booking
        book(link="pt", attendee_email="z@example.com")
    reschedule_booking(result.booking.id, start_time=MON_9 + timedelta(hours=3), actor=ATTENDEE, now=NOW)
    db.session.expire_all()
    assert {r.start_at for r in db.session.scalars(select(Booking))} == {MON_9 + timedelta(hours=3)}
    cancel_booking(result.booking.id, actor=ATTENDEE, now=NOW)
    db.session.expire_all()
    assert {r.status for r in db.session.scalars(select(Booking))} == {"cancelled"}


def test_reschedule_moves_audits_and_frees_the_old_time(db, world):
    booking = book().booking
    moved = reschedule_booking(booking.id, start_time=MON_9 + timedelta(hours=1), actor=ATTENDEE, now=NOW)
    # moving one hour later overlaps its own old time: that must not count as busy
    assert moved.start_at == MON_9 + timedelta(hours=1) and moved.sequence == 1
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.action == "rescheduled")).one()
    assert audit.before["start_at"].startswith("2030-01-07T09:00") and audit.after["start_at"].startswith("2030-01-07T10:00")
    reschedule_booking(booking.id, start_time=MON_9 + timedelta(hours=5), actor=ATTENDEE, now=NOW)
    assert book(start=MON_9, attendee_email="n@example.com").created is True  # the old time is free again


def test_reschedule_to_another_trainer_on_the_link(db, world):
    booking = book(link="team", staff_id=str(world.alex.id)).booking
    moved = reschedule_booking(booking.id, start_time=MON_9, staff_id=str(world.sam.id), actor=ATTENDEE, now=NOW)
    assert moved.staff_id == world.sam.id


def test_reschedule_into_a_busy_time_is_refused(world):
    book(start=MON_9 + timedelta(hours=3), attendee_email="other@example.com")
    booking = book().booking
    with pytest.raises(SlotTaken) as caught:
        reschedule_booking(booking.id, start_time=MON_9 + timedelta(hours=3), actor=ATTENDEE, now=NOW)
    assert caught.value.alternatives


def test_cancelled_booking_cannot_be_rescheduled_or_cancelled_again(world):
    booking = book().booking
    cancel_booking(booking.id, reason="  Feeling   ill ", actor=ATTENDEE, now=NOW)
    assert booking.status == "cancelled" and booking.cancellation_reason == "Feeling ill"
    with pytest.raises(Conflict) as caught:
        reschedule_booking(booking.id, start_time=MON_9 + timedelta(hours=2), actor=ATTENDEE, now=NOW)
    assert caught.value.code == "booking_cancelled"
    with pytest.raises(Conflict) as caught:
        cancel_booking(booking.id, actor=ATTENDEE, now=NOW)
    assert caught.value.code == "already_cancelled"
    # the time is free again
    assert book(attendee_email="next@example.com").created


def test_cutoff_applies_to_customers_and_agents_not_staff(world):
    booking = book().booking
    late = MON_9 - timedelta(hours=11)  # inside the 12-hour cutoff
    for actor in (ATTENDEE, Actor("ai", id="key-1")):
        with pytest.raises(Conflict) as caught:
            cancel_booking(booking.id, actor=actor, now=late)
        assert caught.value.code == "outside_cutoff"
        assert caught.value.details["cutoff_minutes"] == 720
        with pytest.raises(Conflict):
            reschedule_booking(booking.id, start_time=MON_9 + timedelta(hours=3), actor=actor, now=late)
    cancel_booking(booking.id, actor=Actor("staff", id=str(world.alex.id)), now=late)
    assert booking.status == "cancelled"


def test_staff_status_actions(world):
    booking = book().booking
    with pytest.raises(Conflict):
        set_booking_status(booking.id, action="complete", actor=Actor("staff"), now=NOW)  # not started yet
    set_booking_status(booking.id, action="no_show", actor=Actor("staff"), now=MON_9 + timedelta(minutes=5))
    assert booking.status == "no_show"
    with pytest.raises(InvalidRequest):
        set_booking_status(booking.id, action="explode", actor=Actor("staff"), now=NOW)


def test_slot_search_can_treat_a_bookings_own_time_as_free(world):
    """What the reschedule picker offers: the booking's own time (and times overlapping it) stay open."""
    from datetime import date

    from app.services.scheduling import search_slots

    booking = book().booking
    plain = [s.start for s in search_slots(link_slug="pt", date_=date(2030, 1, 7), now=NOW).slots]
    own = [s.start for s in search_slots(link_slug="pt", date_=date(2030, 1, 7), now=NOW,
                                         exclude_booking_id=booking.id).slots]
    assert MON_9 not in plain and MON_9 + timedelta(hours=1) not in plain
    assert MON_9 in own and MON_9 + timedelta(hours=1) in own


def test_a_change_made_elsewhere_meanwhile_is_seen_not_overwritten(db, world):
    """Another process cancels the booking after this session read it: moving it is refused, and
    cancelling it again says so — the stale copy in memory is not trusted inside the transaction."""
    from sqlalchemy import update

    booking = book().booking
    assert booking.status == "confirmed"  # this session's copy
    with db.engine.begin() as other:  # another connection: another request or worker
        other.execute(update(Booking).where(Booking.id == booking.id).values(status="cancelled"))
    with pytest.raises(Conflict) as moved:
        reschedule_booking(booking.id, start_time=MON_9 + timedelta(hours=3), actor=ATTENDEE, now=NOW)
    assert moved.value.code == "booking_cancelled"
    with pytest.raises(Conflict) as cancelled:
        cancel_booking(booking.id, actor=ATTENDEE, now=NOW)
    assert cancelled.value.code == "already_cancelled"
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).start_at == MON_9


def test_rescheduling_to_the_time_it_already_has_changes_nothing(db, world):
    booking = book().booking
    sequence = booking.sequence
    same = reschedule_booking(booking.id, start_time=MON_9, actor=ATTENDEE, now=NOW)
    assert same.start_at == MON_9 and same.sequence == sequence
    actions = db.session.scalars(select(BookingAudit.action).where(BookingAudit.booking_id == booking.id)).all()
    assert actions == ["created"]


def test_a_moved_booking_keeps_the_length_and_buffers_it_was_made_with(db, world):
    """The service changes from 60 minutes (+15 after) to 45 (+30 after) once Jane has booked: her
    move keeps her 60 minutes and 15-minute buffer, and the times offered for the move are the ones
    where 60 minutes fit (issue 16, item 8). New bookings take the service as it is now."""
    from app.services.scheduling import search_slots

    booking = book().booking
    world.pt.duration_minutes, world.pt.buffer_after_minutes = 45, 30
    db.session.commit()
    offered = search_slots(link_slug="pt", date_=MON_9.date(), exclude_booking_id=booking.id, now=NOW,
                           use_cache=False)
    assert offered.duration_minutes == 60 and all(s.end - s.start == timedelta(minutes=60) for s in offered.slots)
    moved = reschedule_booking(booking.id, start_time=MON_9 + timedelta(hours=2), actor=ATTENDEE, now=NOW)
    assert moved.end_at - moved.start_at == timedelta(minutes=60)
    assert (moved.buffer_before_minutes, moved.buffer_after_minutes) == (0, 15)
    with pytest.raises(InvalidRequest):  # the end the client expects must be the booking's own
        reschedule_booking(booking.id, start_time=MON_9 + timedelta(hours=4), actor=ATTENDEE, now=NOW,
                           end_time=MON_9 + timedelta(hours=4, minutes=45))
    fresh = book(start=MON_9 + timedelta(days=1), attendee_email="new@example.com").booking
    assert fresh.end_at - fresh.start_at == timedelta(minutes=45) and fresh.buffer_after_minutes == 30


def test_every_trainers_row_of_a_collective_change_is_audited(db, world):
    """A move and a cancellation of a collective booking are in each trainer's row's history, not
    only the lead's (issue 16, item 9)."""
    result = book(link="duo")
    reschedule_booking(result.booking.id, start_time=MON_9 + timedelta(hours=3), actor=ATTENDEE, now=NOW)
    cancel_booking(result.booking.id, actor=ATTENDEE, now=NOW)
    rows = db.session.scalars(select(Booking).where(Booking.group_id == result.booking.group_id)).all()
    assert len(rows) == 2
    for row in rows:
        history = db.session.execute(select(BookingAudit.action, BookingAudit.before, BookingAudit.after)
                                     .where(BookingAudit.booking_id == row.id)
                                     .order_by(BookingAudit.created_at)).all()
        assert [action for action, _, _ in history] == ["created", "rescheduled", "cancelled"]
        _, before, after = history[1]
        assert before["start_at"].startswith("2030-01-07T09:00") and after["start_at"].startswith("2030-01-07T12:00")
        assert before["staff_id"] == after["staff_id"] == str(row.staff_id)


class _Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg's DeadlockDetected carries


@pytest.mark.parametrize("sqlstate, retried", [("40P01", True), ("40001", True), ("57014", False)])
def test_a_booking_that_loses_a_deadlock_is_tried_again(db, world, monkeypatch, sqlstate, retried):
    """PostgreSQL can answer two concurrent inserts of one time with a deadlock (each waiting on the
    other's exclusion check) and roll one back: that one is tried again from the start — it then finds
    the time taken, or books it — instead of a 500. Other database errors are not retried."""
    from sqlalchemy.exc import OperationalError

    from app.database import RACE_ATTEMPTS
    from app.services.bookings import create

    real, calls = create._insert, []

    def deadlock_first(request, now):
        calls.append(1)
        if len(calls) == 1:
            error = _Deadlock("deadlock detected")
            error.sqlstate = sqlstate
            raise OperationalError("INSERT INTO bookings …", {}, error)
        return real(request, now)

    monkeypatch.setattr(create, "_insert", deadlock_first)
    if not retried:
        with pytest.raises(OperationalError):
            book()
        assert len(calls) == 1
        return
    result = book()
    assert result.created and len(calls) == 2
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
    # Losing every time is still an error after RACE_ATTEMPTS tries (never an endless loop).
    tries = []

    def always_deadlock(request, now):
        tries.append(1)
        raise OperationalError("INSERT INTO bookings …", {}, _Deadlock("deadlock detected"))

    monkeypatch.setattr(create, "_insert", always_deadlock)
    with pytest.raises(OperationalError):
        book(start=MON_9 + timedelta(hours=2))
    assert len(tries) == RACE_ATTEMPTS


def test_a_move_that_loses_a_deadlock_is_tried_again(db, world, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.services.bookings import change

    booking = book().booking
    real, calls = change._reschedule, []

    def deadlock_first(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE bookings …", {}, _Deadlock("deadlock detected"))
        return real(*args, **kwargs)

    monkeypatch.setattr(change, "_reschedule", deadlock_first)
    moved = reschedule_booking(booking.id, start_time=MON_9 + timedelta(hours=3), actor=ATTENDEE, now=NOW)
    assert moved.start_at == MON_9 + timedelta(hours=3) and len(calls) == 2


def test_the_longest_name_allowed_books(db, world):
    """A 200-character name is valid; the booking's title ('PT with …') is cut to its column, not a
    database error (PostgreSQL enforces the length; SQLite does not)."""
    name = "J" * 200
    booking = book(attendee_name=name).booking
    db.session.expire_all()
    stored = db.session.get(Booking, booking.id)
    assert stored.attendee_name == name and len(stored.title) == 200 and stored.title.startswith("PT with JJJ")
