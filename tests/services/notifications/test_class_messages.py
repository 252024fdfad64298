"""Messages about spots in group classes: each kind rendered (email text, HTML, calendar file, one
SMS segment), sent exactly once through the real delivery path (SMTP server, Twilio stand-in), never
stale, placed around quiet hours like appointment reminders, and shown on the outbox page."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from notification_helpers import sign_in
from sqlalchemy import select

from app.models import ClassBooking, Notification
from app.services import classes, notifications
from app.services.bookings import Actor
from app.services.notifications.claims import claim_due
from app.services.notifications.delivery import deliver_claimed
from app.services.notifications.gsm import sms_length
from app.services.notifications.opt_outs import unsubscribe_link

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
# A Monday, 18:00 UTC = 13:00 New York time (EST).
CLASS_START = datetime(2031, 1, 6, 18, 0, tzinfo=UTC)
BOOKED_AT = datetime(2031, 1, 1, 12, 0, tzinfo=UTC)
ANN, BEN = "+447700900123", "+447700900456"
STAFF = Actor("staff", id="staff-1")


@pytest.fixture
def gym(db, world, make_class_type, make_class_session, make_user):
    """The notification tests' gym (quiet hours off) with a Spin class of one place in Studio 2."""
    world.org.postal_address = "1 High Street\nLondon"
    db.session.commit()
    ctype = make_class_type(org=world.org, name="Spin", capacity=1, location="Studio 2", duration_minutes=45)
    instructor = make_user(org=world.org, name="Sam Instructor", email=f"sam-{uuid.uuid4().hex[:6]}@atlas.example")
    session = make_class_session(ctype=ctype, instructor=instructor, start=CLASS_START)
    world.ctype, world.session, world.instructor = ctype, session, instructor
    return world


def book(gym, email="ann@example.com", phone=ANN, name="Ann Attendee", **extra):
    return classes.book_class(session_id=gym.session.id, attendee_name=name, attendee_email=email,
                              attendee_phone=phone, attendee_timezone="America/New_York", actor=Actor("attendee"),
                              now=BOOKED_AT, **extra)


def message_to(smtp, address, subject_start):
    found = [m for m in smtp.inbox.to(address) if str(m["Subject"]).startswith(subject_start)]
    assert len(found) == 1, [str(m["Subject"]) for m in smtp.inbox.to(address)]
    return found[0]


def invitation(message):
    [part] = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    calendar = Calendar.from_ical(part.get_content())
    [event] = calendar.walk("VEVENT")
    return part.get_param("method"), event


def texts(twilio, number):
    return [m["body"] for m in twilio.to(number)]


def one_segment(text):
    length = sms_length(text)
    return length.encoding == "GSM-7" and length.units <= 160


def test_booked_waitlisted_cancelled_and_promoted_each_go_once_with_what_they_must_say(gym, smtp, twilio, rows):
    ann = book(gym)
    ben = book(gym, email="ben@example.com", phone=BEN, name="Ben Waiting", join_waitlist=True)
    assert ben.waitlist_position == 1
    outcome = notifications.process_due(now=BOOKED_AT)
    assert outcome.sent == 4 and outcome.failed == 0 and outcome.skipped == 0

    booked = message_to(smtp, "ann@example.com", "Booked: Spin with Sam Instructor, Mon 6 Jan at 13:00 EST")
    text = booked.get_body(("plain",)).get_content()
    assert "Monday 6 January 2031, 13:00\u201313:45 New York time (EST)" in text
    assert "Where: Studio 2" in text and "With:  Sam Instructor" in text
    assert f"http://localhost/booking/manage/{ann.manage_token}" in text
    html = booked.get_body(("html",)).get_content()
    assert "Sam Instructor" in html and f"/booking/manage/{ann.manage_token}" in html
    assert booked["Reply-To"] == "desk@atlas.example"
    method, event = invitation(booked)
    assert method == "PUBLISH" and str(event["status"]) == "CONFIRMED"
    assert str(event["uid"]) == f"class-spot-{ann.spot.id}@atlas-booking"
    assert event.decoded("dtstart") == CLASS_START and str(event["location"]) == "Studio 2"

    waitlisted = message_to(smtp, "ben@example.com", "Waitlist #1: Spin")
    assert "on its waitlist at number 1" in waitlisted.get_body(("plain",)).get_content()
    assert not list(waitlisted.iter_attachments())  # nothing to put in a calendar yet
    [ann_text] = texts(twilio, ANN)
    [ben_text] = texts(twilio, BEN)
    assert ann.manage_token in ann_text and "Spin" in ann_text and one_segment(ann_text)
    assert "#1" in ben_text and one_segment(ben_text)

    # Ann cancels: she is told (the event cancelled), Ben is promoted in the same transaction.
    classes.cancel_spot(ann.spot.id, actor=Actor("attendee"), now=BOOKED_AT + timedelta(hours=1))
    outcome = notifications.process_due(now=BOOKED_AT + timedelta(hours=1))
    assert outcome.sent == 4 and outcome.failed == 0
    cancelled = message_to(smtp, "ann@example.com", "Cancelled: Spin")
    method, event = invitation(cancelled)
    assert str(event["status"]) == "CANCELLED" and str(event["uid"]) == f"class-spot-{ann.spot.id}@atlas-booking"
    promoted = message_to(smtp, "ben@example.com", "You're in: Spin, Mon 6 Jan at 13:00 EST")
    assert f"http://localhost/booking/manage/{ben.manage_token}" in promoted.get_body(("plain",)).get_content()
    method, event = invitation(promoted)
    assert str(event["status"]) == "CONFIRMED" and f"/booking/manage/{ben.manage_token}" in str(event["description"])
    promoted_text = texts(twilio, BEN)[-1]
    assert f"/m/{ben.manage_token}" in promoted_text and one_segment(promoted_text)
    assert one_segment(texts(twilio, ANN)[-1]) and "cancelled" in texts(twilio, ANN)[-1]

    # Exactly once: nothing more goes, however often the outbox is emptied.
    assert notifications.process_due(now=BOOKED_AT + timedelta(hours=2)).claimed == 0
    for template in ("class_booked", "class_waitlisted", "class_promoted", "class_spot_cancelled"):
        assert {r.status for r in rows(template=template)} == {"sent"}, template
    assert len(smtp.inbox.to("ann@example.com")) == 2 and len(smtp.inbox.to("ben@example.com")) == 2


def test_a_waitlisted_message_not_yet_sent_is_skipped_once_the_person_is_promoted(gym, smtp, rows):
    ann = book(gym, phone=None)
    book(gym, email="ben@example.com", phone=None, join_waitlist=True)
    classes.cancel_spot(ann.spot.id, actor=Actor("attendee"), now=BOOKED_AT)  # before any message went
    notifications.process_due(now=BOOKED_AT)
    [waitlisted] = rows(template="class_waitlisted")
    assert waitlisted.status == "skipped" and waitlisted.last_error == "the spot is booked now"
    [booked] = rows(template="class_booked")
    assert booked.status == "skipped"  # Ann gave the spot up before "you're booked" went
    assert [str(m["Subject"]).split(":")[0] for m in smtp.inbox.to("ben@example.com")] == ["You're in"]


def test_a_moved_class_tells_the_old_time_and_its_reminders_follow(gym, smtp, twilio, rows, db):
    ann = book(gym)
    notifications.process_due(now=BOOKED_AT)
    day_before = CLASS_START - timedelta(hours=24)
    claimed = claim_due(10, now=day_before)  # a sender picked up the 24-hour reminders…
    assert {r.template for r in db.session.scalars(select(Notification).where(
        Notification.id.in_([i for i, _ in claimed])))} == {"class_reminder"}
    new_day = CLASS_START.date() + timedelta(days=1)
    classes.change_session(gym.org.id, gym.session.id, actor=STAFF, day=new_day, now=BOOKED_AT)  # …then it moved
    outcome = deliver_claimed(claimed, now=day_before)
    assert outcome.skipped == len(claimed) and outcome.sent == 0
    stale = [r for r in rows(template="class_reminder") if r.id == claimed[0][0]][0]
    assert stale.status == "skipped" and "the class changed after this reminder was scheduled (version 0 → 1)" \
        in stale.last_error

    notifications.process_due(now=BOOKED_AT)
    changed = message_to(smtp, "ann@example.com", "Class moved: Spin, Tue 7 Jan at 13:00 EST")
    text = changed.get_body(("plain",)).get_content()
    assert "Was:   Monday 6 January 2031, 13:00\u201313:45 New York time (EST)" in text
    assert "Tuesday 7 January 2031, 13:00" in text and ann.manage_token in text
    method, event = invitation(changed)
    assert event.decoded("dtstart") == CLASS_START + timedelta(days=1) and int(event["sequence"]) == 1
    assert one_segment(texts(twilio, ANN)[-1]) and "Tue 7 Jan" in texts(twilio, ANN)[-1]
    # The new reminders go at the new time, and say it.
    new_start = CLASS_START + timedelta(days=1)
    assert notifications.process_due(now=new_start - timedelta(hours=24)).sent == 2
    reminder = message_to(smtp, "ann@example.com", "Reminder: Spin with Sam Instructor tomorrow, Tue 7 Jan")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Tuesday 7 January 2031" in reminder.get_body(("plain",)).get_content()
    reminder_text = texts(twilio, ANN)[-1]
    assert "tomorrow" in reminder_text and one_segment(reminder_text)


def test_a_cancelled_class_cancels_its_reminders_even_one_already_claimed(gym, smtp, twilio, rows):
    book(gym)
    notifications.process_due(now=BOOKED_AT)
    two_hours = CLASS_START - timedelta(hours=2)
    claimed = claim_due(10, now=two_hours - timedelta(hours=22))  # the 24-hour reminders
    classes.cancel_session(gym.org.id, gym.session.id, actor=STAFF, reason="The studio is flooded",
                           now=BOOKED_AT + timedelta(days=1))
    assert deliver_claimed(claimed, now=CLASS_START - timedelta(hours=24)).skipped == 2
    assert {r.status for r in rows(template="class_reminder")} <= {"cancelled", "skipped"}
    assert {r.status for r in rows(template="class_reminder") if r.id not in {i for i, _ in claimed}} == {"cancelled"}
    notifications.process_due(now=BOOKED_AT + timedelta(days=1))
    notice = message_to(smtp, "ann@example.com", "Class cancelled: Spin, Mon 6 Jan at 13:00 EST")
    assert "Reason: The studio is flooded" in notice.get_body(("plain",)).get_content()
    method, event = invitation(notice)
    assert str(event["status"]) == "CANCELLED"
    assert "cancelled" in texts(twilio, ANN)[-1] and one_segment(texts(twilio, ANN)[-1])
    assert notifications.process_due(now=two_hours).claimed == 0


def test_reminder_unsubscribe_and_sms_stop_apply_to_class_reminders(gym, smtp, twilio, rows, client, db):
    book(gym)
    notifications.process_due(now=BOOKED_AT)
    link = unsubscribe_link(gym.org.id, "ann@example.com")
    assert client.post(link.replace("http://localhost", "")).status_code in (200, 204)
    notifications.record_sms_opt_out(ANN, "sms_stop")
    db.session.commit()
    outcome = notifications.process_due(now=CLASS_START - timedelta(hours=24))
    assert outcome.sent == 0 and outcome.skipped == 2
    reasons = {r.channel: r.last_error for r in rows(template="class_reminder") if r.status == "skipped"}
    assert reasons["email"] == "the recipient unsubscribed from reminder emails"
    assert reasons["sms"] == "the number has opted out of SMS (replied STOP)"


def test_class_text_reminders_are_placed_around_quiet_hours_like_appointment_ones(gym, db, rows):
    """A 07:00 New York class: the 2-hour text would go at 05:00, inside the default quiet hours
    (21:00–08:00): it goes the evening before instead, as an appointment's does
    (scheduling.place_reminders places both)."""
    gym.org.settings = {}
    db.session.commit()
    early = gym.session
    early.start_at = datetime(2031, 1, 6, 7, 0, tzinfo=NY).astimezone(UTC)
    early.end_at = early.start_at + timedelta(minutes=45)
    db.session.commit()
    book(gym)
    sms = rows(template="class_reminder", channel="sms")
    email = rows(template="class_reminder", channel="email")
    assert [r.send_at for r in email] == [early.start_at - timedelta(hours=24), early.start_at - timedelta(hours=2)]
    assert len(sms) == 2
    for row in sms:
        assert time(8) <= row.send_at.astimezone(NY).time() < time(21)


def test_the_outbox_page_lists_class_messages_and_retries_one(gym, smtp, rows, db, app, make_user):
    book(gym, phone=None)
    smtp.inbox.refuse["ann@example.com"] = "550 No such user"
    notifications.process_due(now=BOOKED_AT)
    failed = [r for r in rows(template="class_booked") if r.status == "failed"]
    assert len(failed) == 1
    owner = make_user(org=gym.org, role="owner", email=f"olive-{uuid.uuid4().hex[:6]}@atlas.example",
                      password="correct horse battery")
    client, _ = sign_in(app, owner.email, "correct horse battery")
    page = client.get("/dashboard/outbox")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "ann@example.com" in body and "550 No such user" in body
    assert f'action="/dashboard/outbox/{failed[0].id}/retry"' in body
    detail = client.get(f"/dashboard/outbox/{failed[0].id}")
    assert detail.status_code == 200 and "550 No such user" in detail.get_data(as_text=True)
    del smtp.inbox.refuse["ann@example.com"]
    row = notifications.retry_notification(gym.org.id, failed[0].id)
    assert row.status == "pending"
    assert notifications.process_due().sent == 1
    assert re.match(r"Booked: Spin", str(smtp.inbox.to("ann@example.com")[-1]["Subject"]))
    health = notifications.queue_health()
    assert health["counts"]["failed"] == 0
    assert db.session.get(ClassBooking, failed[0].class_booking_id).status == "confirmed"


def test_class_reminders_follow_a_change_of_the_reminder_settings(gym, db, rows):
    book(gym, phone=None)
    assert sorted(r.context["offset_minutes"] for r in rows(template="class_reminder")) == [120, 24 * 60]
    looked_at = notifications.reminder_settings_changed(gym.org.id, [60], None, now=BOOKED_AT)
    db.session.commit()
    assert looked_at == 1
    reminders = {r.context["offset_minutes"]: r for r in rows(template="class_reminder")}
    assert {offset: r.status for offset, r in reminders.items()} == {
        24 * 60: "cancelled", 120: "cancelled", 60: "pending"}
    assert reminders[60].send_at == CLASS_START - timedelta(hours=1)
    assert reminders[60].context.get("manage")  # the link of the spot's first message
    # Back to the defaults: the cancelled ones are pending again, not written twice.
    notifications.reminder_settings_changed(gym.org.id, [24 * 60, 120], None, now=BOOKED_AT)
    db.session.commit()
    statuses = sorted((r.context["offset_minutes"], r.status) for r in rows(template="class_reminder"))
    assert statuses == [(60, "cancelled"), (120, "pending"), (24 * 60, "pending")]


def test_every_class_text_fits_one_segment_even_with_long_names(gym, db):
    from app.models import Organization
    from app.services.notifications.class_messages import CLASS_TEMPLATES
    from app.services.notifications.messages import render
    from app.services.notifications.opt_outs import seal

    gym.org.name = "The Extremely Long Named Community Fitness and Wellbeing Centre of Greater Manchester"
    gym.ctype.name = "Advanced High Intensity Interval Training with Kettlebells and Rowing Machines"
    gym.instructor.name = "Maximiliana Bartholomew-Featherstonehaugh"
    db.session.commit()
    spot = book(gym).spot
    org = db.session.get(Organization, gym.org.id)
    for template in CLASS_TEMPLATES:
        context = {"manage": seal("t" * 43), "position": 12, "offset_minutes": 120,
                   "reason": "The studio is closed for repairs after a burst pipe flooded the floor overnight",
                   "previous_start_at": (CLASS_START - timedelta(days=1)).isoformat()}
        row = Notification(id=uuid.uuid4(), organization_id=org.id, class_booking_id=spot.id, channel="sms",
                           template=template, recipient=ANN, context=context, booking_sequence=0)
        text = render(row, None, org, {}, now=CLASS_START - timedelta(hours=2), spot=spot).sms
        assert one_segment(text), (template, text, sms_length(text))
        assert "Mon 6 Jan" in text, (template, text)
        if template not in ("class_spot_cancelled", "class_session_cancelled"):
            assert "/m/" + "t" * 43 in text, (template, text)
        email_row = Notification(id=uuid.uuid4(), organization_id=org.id, class_booking_id=spot.id, channel="email",
                                 template=template, recipient="ann@example.com", context=context, booking_sequence=0)
        email = render(email_row, None, org, {}, now=CLASS_START - timedelta(hours=2), spot=spot)
        assert gym.ctype.name in email.subject or gym.ctype.name in email.text, template
        assert "Monday 6 January 2031, 13:00" in email.text and "<html" in email.html.lower()
        assert (email.calendar is not None) == (template not in ("class_waitlisted", "class_reminder")), template
    db.session.rollback()


def test_a_new_instructor_keeps_the_reminders_and_they_name_the_substitute(gym, smtp, make_user, rows):
    book(gym, phone=None)
    notifications.process_due(now=BOOKED_AT)
    substitute = make_user(org=gym.org, name="Nia Newcomer", email=f"nia-{uuid.uuid4().hex[:6]}@atlas.example")
    classes.change_session(gym.org.id, gym.session.id, actor=STAFF, instructor_id=substitute.id, now=BOOKED_AT)
    notifications.process_due(now=BOOKED_AT)
    changed = message_to(smtp, "ann@example.com", "Class changed: Spin")
    assert "Instead of: Sam Instructor" in changed.get_body(("plain",)).get_content()
    # Same time: the reminders written for it still go, with the new instructor in them.
    assert notifications.process_due(now=CLASS_START - timedelta(hours=24)).sent == 1
    reminder = message_to(smtp, "ann@example.com", "Reminder: Spin with Nia Newcomer tomorrow")
    assert "With:  Nia Newcomer" in reminder.get_body(("plain",)).get_content()
    assert [r.status for r in rows(template="class_reminder")].count("sent") == 1
