"""Headers and subjects of the emails as they arrive at a real SMTP server (aiosmtpd): every email
says it was sent automatically (RFC 3834), customers' replies go to the gym's contact address, and a
time in a subject always names its zone."""
from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

import pytest
from notification_helpers import START

from app.integrations.email import build_message, send_email
from app.services import notifications, team
from app.services.bookings import Actor, cancel_booking, reschedule_booking


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


# --- Auto-Submitted --------------------------------------------------------------------------------

def test_every_email_of_the_outbox_says_it_was_sent_automatically(book, smtp, world, db):
    result = book()
    notifications.process_due()
    notifications.process_due(now=START - timedelta(hours=24))  # the reminder
    reschedule_booking(result.booking.id, start_time=START + timedelta(days=1), actor=Actor("attendee"))
    notifications.process_due()
    cancel_booking(result.booking.id, actor=Actor("attendee"))
    notifications.process_due()
    attendee = smtp.inbox.to("ann@example.com")
    trainer = smtp.inbox.to(world.trainer.email)
    assert [m["Subject"].split(":")[0] for m in attendee] == ["Confirmed", "Reminder", "Moved", "Cancelled"]
    assert [m["Subject"].split(":")[0] for m in trainer] == ["New booking", "Booking moved", "Booking cancelled"]
    assert [m["Auto-Submitted"] for m in attendee + trainer] == ["auto-generated"] * 7


def test_a_staff_message_about_no_booking_says_it_was_sent_automatically(smtp, world, db):
    notifications.schedule_staff_message(world.trainer, "staff_calendar_reconnect", key="headers-test",
                                         context={"account_email": "terry@gmail.example"})
    db.session.commit()
    assert notifications.process_due().sent == 1
    [message] = smtp.inbox.to(world.trainer.email)
    assert message["Subject"] == "Your Google Calendar needs reconnecting"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Reply-To"] is None


def test_a_password_reset_email_says_it_was_sent_automatically(smtp, make_user, world):
    user = make_user(org=world.org, email="olivia@atlas.example", name="Olivia Owner")
    assert team.send_password_reset(user.email)
    [message] = smtp.inbox.to("olivia@atlas.example")
    assert message["Subject"] == "Reset your Atlas Booking password"
    assert message["Auto-Submitted"] == "auto-generated"


def test_a_direct_email_written_to_the_file_outbox_says_it_was_sent_automatically(make_app, app_config, tmp_path):
    with make_app(dict(app_config, SMTP_HOST=None, OUTBOX_DIR=str(tmp_path / "out"))).app_context():
        path = send_email("kim@example.com", "Hello", "Plain text")
    message = message_from_bytes(Path(path).read_bytes(), policy=email_policy)
    assert message["Subject"] == "Hello" and message["Auto-Submitted"] == "auto-generated"


# --- Reply-To --------------------------------------------------------------------------------------

def test_customer_emails_reply_to_the_gym_and_trainer_notices_do_not(book, smtp, world):
    book()
    notifications.process_due()
    notifications.process_due(now=START - timedelta(hours=24))
    confirmation, reminder = smtp.inbox.to("ann@example.com")
    assert confirmation["Reply-To"] == "desk@atlas.example"
    assert reminder["Reply-To"] == "desk@atlas.example"
    # The reply goes to the gym; the message still comes from the portal's sender.
    assert confirmation["From"] == "Atlas Fitness <hello@atlas.example>"
    # A trainer replying to a notice of a booking would write to the gym's own desk.
    [notice] = smtp.inbox.to(world.trainer.email)
    assert notice["Reply-To"] is None


@pytest.mark.parametrize("contact", [
    None,
    "",
    "desk@atlas.example\r\nBcc: spy@attacker.example",
    "desk@atlas.example\nBcc: spy@attacker.example",
    "desk@atlas.example\r\n",
    "not an address",
    "Desk <desk@atlas.example>",
    "desk@atlas.example, spy@attacker.example",
    "d\u00e9sk@atlas.example",  # needs SMTPUTF8, which the portal does not ask for
], ids=["none", "empty", "crlf-bcc", "lf-bcc", "trailing-crlf", "not-an-address", "display-name",
        "two-addresses", "non-ascii-local-part"])
def test_without_a_valid_contact_address_there_is_no_reply_to(contact, book, smtp, world, db, rows):
    world.org.contact_email = contact
    db.session.commit()
    book()
    outcome = notifications.process_due()
    assert outcome.sent == 2 and outcome.failed == 0  # the messages still go, without the header
    [message] = smtp.inbox.to("ann@example.com")
    assert message["Reply-To"] is None and message["Bcc"] is None
    assert not [name for name, value in message.items() if "spy@attacker.example" in str(value)]
    assert not smtp.inbox.to("spy@attacker.example")
    assert [r.status for r in rows(template="booking_confirmation")] == ["sent"]


def test_the_contact_address_is_written_as_it_validates(book, smtp, world, db):
    world.org.contact_email = "  Desk@B\u00fccher.example "
    db.session.commit()
    book()
    notifications.process_due()
    [message] = smtp.inbox.to("ann@example.com")
    assert message["Reply-To"] == "Desk@xn--bcher-kva.example"  # trimmed, the domain in its ASCII form


def test_a_header_with_a_line_break_is_refused_when_the_message_is_built(app):
    with pytest.raises(ValueError, match="Reply-To"):
        build_message(to="ann@example.com", subject="Hello", text="Hi", html=None, message_id="<k@atlas.example>",
                      headers={"Reply-To": "desk@atlas.example\r\nBcc: spy@attacker.example"})


# --- the zone in the subject -----------------------------------------------------------------------

def test_an_attendee_in_another_zone_than_the_gym_sees_the_zone_in_the_subject(book, smtp, world):
    book(tz="America/New_York")  # the gym is in London
    notifications.process_due()
    [message] = smtp.inbox.to("ann@example.com")
    assert message["Subject"] == "Confirmed: PT Session with Terry Trainer, Mon 6 Jan at 05:00 EST"
    assert "Monday 6 January 2031, 05:00\u201306:00 New York time (EST)" in body(message)  # as the body has it


def test_a_trainer_in_another_zone_than_the_gym_sees_their_zone_in_the_subject(book, smtp, world, db):
    book()
    world.trainer.timezone = "America/Los_Angeles"  # messages are rendered at send time
    db.session.commit()
    notifications.process_due()
    [notice] = smtp.inbox.to(world.trainer.email)
    assert notice["Subject"] == "New booking: Ann Attendee, PT Session, Mon 6 Jan at 02:00 PST"
    assert "Monday 6 January 2031, 02:00\u201303:00 Los Angeles time (PST)" in body(notice)


def test_the_zone_is_named_also_when_it_is_the_gyms_own(book, smtp, world):
    # Always, not only when it differs: the reader cannot know the gym's zone from a subject, and
    # reads a bare time in the zone they are in now.
    book(tz="Europe/London")
    notifications.process_due()
    [message] = smtp.inbox.to("ann@example.com")
    [notice] = smtp.inbox.to(world.trainer.email)
    assert message["Subject"] == "Confirmed: PT Session with Terry Trainer, Mon 6 Jan at 10:00 GMT"
    assert notice["Subject"] == "New booking: Ann Attendee, PT Session, Mon 6 Jan at 10:00 GMT"


def test_summer_time_is_named_as_such(book, smtp, world):
    summer = START.replace(month=7, day=7)  # a Monday in July: British Summer Time
    book(start=summer, tz="Europe/London")
    notifications.process_due()
    [message] = smtp.inbox.to("ann@example.com")
    assert message["Subject"] == "Confirmed: PT Session with Terry Trainer, Mon 7 Jul at 11:00 BST"
    assert "Monday 7 July 2031, 11:00\u201312:00 London time (BST)" in body(message)


def test_a_zone_without_an_abbreviation_is_named_by_its_city(book, smtp, world):
    book(tz="Asia/Dubai")  # its abbreviation is only "+04"
    notifications.process_due()
    [message] = smtp.inbox.to("ann@example.com")
    assert message["Subject"] == "Confirmed: PT Session with Terry Trainer, Mon 6 Jan at 14:00 Dubai time"
    assert "Monday 6 January 2031, 14:00\u201315:00 Dubai time (+04)" in body(message)


def test_every_subject_with_a_time_names_the_zone_it_is_written_in(book, smtp, world):
    result = book(tz="America/New_York")
    notifications.process_due()
    notifications.process_due(now=START - timedelta(hours=24))
    reschedule_booking(result.booking.id, start_time=START + timedelta(days=1), actor=Actor("attendee"))
    notifications.process_due()
    cancel_booking(result.booking.id, actor=Actor("attendee"))
    notifications.process_due()
    assert [m["Subject"] for m in smtp.inbox.to("ann@example.com")] == [
        "Confirmed: PT Session with Terry Trainer, Mon 6 Jan at 05:00 EST",
        "Reminder: PT Session with Terry Trainer tomorrow, Mon 6 Jan at 05:00 EST",
        "Moved: PT Session with Terry Trainer is now Tue 7 Jan at 05:00 EST",
        "Cancelled: PT Session with Terry Trainer, Tue 7 Jan at 05:00 EST",
    ]
    assert [m["Subject"] for m in smtp.inbox.to(world.trainer.email)] == [
        "New booking: Ann Attendee, PT Session, Mon 6 Jan at 10:00 GMT",
        "Booking moved: Ann Attendee, PT Session, now Tue 7 Jan at 10:00 GMT",
        "Booking cancelled: Ann Attendee, PT Session, Tue 7 Jan at 10:00 GMT",
    ]
