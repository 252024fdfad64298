"""Emails as they arrive at a real SMTP server (aiosmtpd), parsed back: subject, recipients, both
bodies, branding, local times, the manage link, and the calendar invitation read with icalendar."""
from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

from icalendar import Calendar
from notification_helpers import START, sign_in

from app.services import notifications
from app.services.bookings import Actor, cancel_booking, reschedule_booking


def bodies(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def invitation(message):
    """The invitation attached as invite.ics (text/calendar with a method parameter), parsed."""
    [part] = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    assert part.get_content_type() == "text/calendar"
    calendar = Calendar.from_ical(part.get_content())
    [event] = calendar.walk("VEVENT")
    return part.get_param("method"), calendar, event


def test_the_confirmation_arrives_complete(book, smtp, world, client):
    result = book()
    outcome = notifications.process_due()
    assert outcome.sent == 2 and outcome.failed == 0  # attendee confirmation + trainer notice
    [message] = smtp.inbox.to("ann@example.com")
    assert message["Subject"] == "Confirmed: PT Session with Terry Trainer, Mon 6 Jan at 05:00 EST"
    assert message["To"] == "ann@example.com"
    assert message["From"] == "Atlas Fitness <hello@atlas.example>"
    text, html = bodies(message)
    # Times in the attendee's zone (New York), with the zone named.
    when = "Monday 6 January 2031, 05:00\u201306:00 New York time (EST)"
    assert when in text and when in html
    manage = f"http://localhost/booking/manage/{result.manage_token}"
    assert f"Change or cancel: {manage}" in text
    assert f'href="{manage}"' in html
    # Branded like the booking page: the link's colours, the gym's name.
    assert "background:#0a7d4f" in html and "#ffcc00" in html and "Atlas Fitness" in html
    assert "Studio 2" in text
    # The link in the email opens the booking's manage page.
    assert client.get(manage.removeprefix("http://localhost")).status_code == 200
    # A reminder opt-out link, signed per recipient; no List-Unsubscribe (confirmations cannot be stopped).
    assert re.search(r"http://localhost/api/notifications/unsubscribe/\S+", text)
    assert message["List-Unsubscribe"] is None


def test_the_calendar_file_is_published_by_the_gym_with_nothing_to_answer(book, smtp, world):
    """METHOD:PUBLISH with the gym as ORGANIZER and no ATTENDEE: Gmail, Outlook and Apple Mail offer
    "Add to calendar", not Yes/No/Maybe whose replies nobody would read (docs/notifications.md)."""
    result = book()
    notifications.process_due()
    [message] = smtp.inbox.to("ann@example.com")
    method, calendar, event = invitation(message)
    assert method == "PUBLISH" and calendar["METHOD"] == "PUBLISH"
    assert str(event["UID"]) == f"booking-{result.booking.id}@atlas-booking"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == START and event.decoded("DTEND") == START + timedelta(hours=1)
    assert str(event["ORGANIZER"]) == "mailto:desk@atlas.example"
    assert str(event["ORGANIZER"].params["CN"]) == "Atlas Fitness"
    assert "ATTENDEE" not in event and "RSVP" not in calendar.to_ical().decode()
    assert str(event["STATUS"]) == "CONFIRMED"
    assert f"/booking/manage/{result.manage_token}" in str(event["DESCRIPTION"])  # how to change it instead
    # Also offered among the alternatives, which is where mail clients look for calendar parts.
    inline = [p for p in message.walk() if p.get_content_type() == "text/calendar" and not p.get_filename()]
    assert inline and inline[0].get_param("method") == "PUBLISH"


def test_without_a_contact_address_the_organizer_is_the_sending_address(book, smtp, world, db):
    world.org.contact_email = None
    db.session.commit()
    book()
    notifications.process_due()
    [message] = smtp.inbox.to("ann@example.com")
    _, _, event = invitation(message)
    assert str(event["ORGANIZER"]) == "mailto:hello@atlas.example" and "ATTENDEE" not in event


def test_a_move_sends_the_same_uid_with_a_higher_sequence_and_a_cancel_cancels_it(book, smtp):
    result = book()
    notifications.process_due()
    new_start = START + timedelta(days=1)
    reschedule_booking(result.booking.id, start_time=new_start, actor=Actor("attendee"))
    notifications.process_due()
    cancel_booking(result.booking.id, actor=Actor("attendee"), reason="Away that week")
    notifications.process_due()
    confirmation, update, cancellation = smtp.inbox.to("ann@example.com")
    assert update["Subject"] == "Moved: PT Session with Terry Trainer is now Tue 7 Jan at 05:00 EST"
    method, _, moved = invitation(update)
    assert method == "PUBLISH" and int(moved["SEQUENCE"]) == 1 and str(moved["STATUS"]) == "CONFIRMED"
    assert moved.decoded("DTSTART") == new_start
    assert str(moved["UID"]) == str(invitation(confirmation)[2]["UID"])
    text, html = bodies(update)
    assert "Tuesday 7 January 2031, 05:00\u201306:00 New York time (EST)" in text
    assert "Was:      Monday 6 January 2031, 05:00\u201306:00 New York time (EST)" in text
    assert f"/booking/manage/{result.manage_token}" in text  # later messages keep the manage link
    method, calendar, cancelled = invitation(cancellation)
    assert method == "PUBLISH" and calendar["METHOD"] == "PUBLISH"
    assert "DESCRIPTION" not in cancelled or "/booking/manage/" not in str(cancelled["DESCRIPTION"])
    assert int(cancelled["SEQUENCE"]) == 2 and str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["UID"]) == str(moved["UID"])
    assert cancellation["Subject"] == "Cancelled: PT Session with Terry Trainer, Tue 7 Jan at 05:00 EST"
    text, _ = bodies(cancellation)
    assert "Reason: Away that week" in text and "Book another time: http://localhost/book/" in text


def test_the_trainer_gets_a_notice_in_their_own_time_zone(book, smtp, world):
    book(name="Ann <b>Attendee</b>")
    notifications.process_due()
    [notice] = smtp.inbox.to(world.trainer.email)
    assert notice["Subject"] == "New booking: Ann <b>Attendee</b>, PT Session, Mon 6 Jan at 10:00 GMT"
    text, html = bodies(notice)
    assert "Monday 6 January 2031, 10:00\u201311:00 London time (GMT)" in text
    assert "Ann &lt;b&gt;Attendee&lt;/b&gt;" in html and "<b>Attendee</b>" not in html  # escaped
    assert not list(notice.iter_attachments())


def test_each_message_keeps_one_message_id_across_attempts(book, smtp, rows):
    book()
    notifications.process_due()
    [message] = smtp.inbox.to("ann@example.com")
    row = rows(template="booking_confirmation")[0]
    assert message["Message-ID"] == f"<notification-{row.id}@atlas.example>"
    assert row.provider_message_id == message["Message-ID"] and row.status == "sent" and row.attempts == 1


def test_without_smtp_the_file_outbox_gets_each_message_once(make_app, app_config, tmp_path, world, book):
    from app.extensions import db
    from app.models import Notification

    folder = tmp_path / "file-outbox"
    config = dict(app_config, SMTP_HOST=None, OUTBOX_DIR=str(folder), TWILIO_ACCOUNT_SID=None)
    book(phone="+447700900123")
    with make_app(config).app_context():
        first = notifications.process_due()
        again = notifications.process_due()
        rows = db.session.scalars(db.select(Notification).where(Notification.status == "sent")).all()
    assert first.sent == 3 and again.claimed == 0
    emails = sorted(folder.glob("*.eml"))
    texts = sorted(folder.glob("*.sms.txt"))
    assert len(emails) == 2 and len(texts) == 1
    assert {p.name for p in emails} == {f"{r.id}.eml" for r in rows if r.channel == "email"}
    message = message_from_bytes(Path(emails[0]).read_bytes(), policy=email_policy)
    assert message["Subject"].startswith(("Confirmed:", "New booking:"))
    assert texts[0].read_text().rstrip().endswith("STOP to opt out.")  # the SMS, one segment long


def test_the_dashboard_shows_what_the_file_outbox_holds(make_app, app_config, tmp_path, world, book, make_user):
    from app.extensions import db
    from app.models import Notification

    config = dict(app_config, SMTP_HOST=None, OUTBOX_DIR=str(tmp_path / "file-outbox"))
    owner = make_user(org=world.org, role="owner", email="owner@atlas.example", password="owner password 1")
    book()
    app = make_app(config)
    with app.app_context():
        notifications.process_due()
        row = db.session.scalars(db.select(Notification).where(Notification.template == "booking_confirmation")).one()
    client, _ = sign_in(app, owner.email, "owner password 1")
    page = client.get(f"/dashboard/outbox/{row.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Confirmed: PT Session with Terry Trainer" in body
    assert 'sandbox=""' in body and "srcdoc=" in body and "invite.ics" in body
