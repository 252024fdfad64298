"""SMS through the real twilio client against a local stand-in of the Messages API; the status and
inbound webhooks with X-Twilio-Signature; STOP / START / HELP; Twilio's error codes."""
from __future__ import annotations

from datetime import timedelta

from notification_helpers import START, TWILIO_FROM, TWILIO_TOKEN
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app.models import NotificationOptOut
from app.services import notifications
from app.services.notifications.claims import claim_due
from app.services.notifications.clock import utcnow

NUMBER = "+447700900123"


def signed_post(client, path: str, form: dict, *, token: str = TWILIO_TOKEN):
    signature = RequestValidator(token).compute_signature(f"http://localhost{path}", form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def test_the_confirmation_sms_goes_through_the_twilio_client(book, twilio, rows):
    result = book(phone="07700 900123")  # normalised to E.164 when booked
    outcome = notifications.process_due()
    assert outcome.sent == 3
    [message] = twilio.to(NUMBER)
    assert message["from"] == TWILIO_FROM
    # One GSM-7 segment (test_sms_length.py): the short link, and the opt-out in its short form.
    assert message["body"] == (
        "Atlas Fitness: PT Session with Terry Trainer is booked for Mon 6 Jan, 05:00 EST. "
        f"Change or cancel: http://localhost/m/{result.manage_token} STOP to opt out.")
    assert message["status_callback"] == "http://localhost/api/twilio/status"
    [row] = rows(template="booking_confirmation", channel="sms")
    assert row.status == "sent" and row.provider_message_id == message["sid"] and row.delivery_status == "queued"


def test_the_status_callback_records_delivery_when_signed(book, twilio, client, rows):
    book(phone=NUMBER)
    notifications.process_due()
    [message] = twilio.to(NUMBER)
    form = {"MessageSid": message["sid"], "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    forged = client.post("/api/twilio/status", data=form, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert forged.status_code == 403
    assert client.post("/api/twilio/status", data=form).status_code == 403  # no signature at all
    assert signed_post(client, "/api/twilio/status", form, token="another-token").status_code == 403
    assert rows(template="booking_confirmation", channel="sms")[0].delivery_status == "queued"
    assert signed_post(client, "/api/twilio/status", form).status_code == 204
    assert rows(template="booking_confirmation", channel="sms")[0].delivery_status == "delivered"


def test_stop_opts_the_number_out_and_start_back_in(book, twilio, client, rows, db):
    result = book(phone=NUMBER)
    notifications.process_due()
    stop = signed_post(client, "/api/twilio/inbound", {"From": NUMBER, "To": TWILIO_FROM, "Body": " stop "})
    assert stop.status_code == 200 and stop.mimetype == "application/xml"
    assert "<Message>" not in stop.get_data(as_text=True)  # Twilio itself confirms a STOP
    assert db.session.scalars(select(NotificationOptOut.source).where(
        NotificationOptOut.address == NUMBER)).all() == ["sms_stop"]
    # The reminders come due: the SMS one is skipped, the email one still goes.
    day_before = notifications.process_due(now=START - timedelta(hours=24))
    two_hours = notifications.process_due(now=START - timedelta(hours=2))
    assert day_before.sent + two_hours.sent == 2 and day_before.skipped + two_hours.skipped == 2
    assert {r.status for r in rows(template="booking_reminder", channel="sms")} == {"skipped"}
    assert "opted out" in rows(template="booking_reminder", channel="sms")[0].last_error
    assert len(twilio.to(NUMBER)) == 1  # only the confirmation, from before the STOP

    start = signed_post(client, "/api/twilio/inbound", {"From": NUMBER, "To": TWILIO_FROM, "Body": "START"})
    assert start.status_code == 200
    from app.services.bookings import Actor, cancel_booking

    cancel_booking(result.booking.id, actor=Actor("staff"))
    notifications.process_due()
    assert [m["body"].split(":")[0] for m in twilio.to(NUMBER)] == ["Atlas Fitness", "Atlas Fitness"]
    assert "is cancelled" in twilio.to(NUMBER)[-1]["body"]


def test_help_is_left_to_twilio_and_unsigned_inbound_is_refused(client):
    response = signed_post(client, "/api/twilio/inbound", {"From": NUMBER, "To": TWILIO_FROM, "Body": "help"})
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert "<Message>" not in response.get_data(as_text=True)  # Twilio answers HELP itself (issue 15, 12)
    unsigned = client.post("/api/twilio/inbound", data={"From": NUMBER, "Body": "STOP"})
    assert unsigned.status_code == 403


def test_error_21610_marks_the_number_opted_out(book, twilio, rows, db):
    twilio.errors[NUMBER] = (400, 21610, "Attempt to send to unsubscribed recipient")
    book(phone=NUMBER)
    outcome = notifications.process_due()
    [row] = rows(template="booking_confirmation", channel="sms")
    assert row.status == "skipped" and "21610" in row.last_error
    assert outcome.sent == 2  # the emails went
    assert db.session.scalars(select(NotificationOptOut.source)).all() == ["twilio_21610"]
    posts = twilio.posts
    notifications.process_due(now=START - timedelta(hours=2))
    assert twilio.posts == posts  # no further attempt at that number
    assert {r.status for r in rows(template="booking_reminder", channel="sms")} == {"skipped"}


def test_an_invalid_number_fails_that_message_only(book, twilio, rows):
    twilio.errors["+15005550001"] = (400, 21211, "The 'To' number +15005550001 is not a valid phone number.")
    book(phone="+15005550001", email="ann@example.com")
    book(start=START + timedelta(hours=2), phone="+447700900456", email="bob@example.com", name="Bob Booker")
    outcome = notifications.process_due()
    failed = [r for r in rows() if r.status == "failed"]
    assert [(r.recipient, r.template) for r in failed] == [("+15005550001", "booking_confirmation")]
    assert "21211" in failed[0].last_error and "not a valid phone number" in failed[0].last_error
    assert failed[0].attempts == 1  # permanent: no retries
    assert outcome.sent == 5  # 2 attendee emails, 2 trainer notices, Bob's SMS
    assert len(twilio.to("+447700900456")) == 1


def test_twilio_trouble_is_retried_with_backoff(book, twilio, rows):
    twilio.errors[NUMBER] = (503, 20503, "Service unavailable")
    book(phone=NUMBER)
    notifications.process_due()
    [row] = rows(template="booking_confirmation", channel="sms")
    assert row.status == "pending" and row.attempts == 1 and "503" in row.last_error
    assert 27 <= (row.send_at - row.updated_at).total_seconds() <= 33  # 30 s ± 10 %
    del twilio.errors[NUMBER]
    notifications.process_due(now=row.send_at + timedelta(seconds=1))
    [row] = rows(template="booking_confirmation", channel="sms")
    assert row.status == "sent" and row.attempts == 2
    assert len(twilio.to(NUMBER)) == 1


def test_an_unanswered_post_is_settled_by_asking_twilio_not_by_sending_again(book, twilio, rows, app):
    """Twilio accepted the message but the answer never came: the row stays `sending`; once its lease
    expires, recovery finds the message in Twilio's list and marks it sent — no second POST."""
    app.config["TWILIO_TIMEOUT"] = 0.5
    twilio.stall[NUMBER] = 1.5
    book(phone=NUMBER)
    outcome = notifications.process_due()
    assert outcome.unsettled == 1
    [row] = rows(template="booking_confirmation", channel="sms")
    assert row.status == "sending" and row.handed_off_at is not None
    del twilio.stall[NUMBER]
    assert notifications.recover_expired() == 0  # lease not expired yet: nothing touched
    later = row.handed_off_at + timedelta(seconds=app.config["NOTIFICATIONS_LEASE_SECONDS"] + 1)
    assert notifications.recover_expired(now=later) == 1
    [row] = rows(template="booking_confirmation", channel="sms")
    [message] = twilio.to(NUMBER)
    assert row.status == "sent" and row.provider_message_id == message["sid"] and row.delivery_status == "recovered"
    assert twilio.posts == 1


def test_a_handed_off_sms_twilio_never_got_is_sent_again_once(book, twilio, rows, app, db):
    from sqlalchemy import update

    from app.models import Notification

    book(phone=NUMBER)
    sms_id = rows(channel="sms", template="booking_confirmation")[0].id
    assert sms_id in [row_id for row_id, _ in claim_due(10)]
    # The sender wrote its hand-off mark, then died before the POST left the machine.
    db.session.execute(update(Notification).where(Notification.id == sms_id).values(
        handed_off_at=utcnow(), context={"via": "twilio", "digest": "0" * 64}))
    db.session.commit()
    later = utcnow() + timedelta(seconds=app.config["NOTIFICATIONS_LEASE_SECONDS"] + 1)
    notifications.recover_expired(now=later)
    [row] = rows(channel="sms", template="booking_confirmation")
    assert row.status == "pending" and "provider has no such message" in row.last_error
    notifications.process_due(now=later)
    assert len(twilio.to(NUMBER)) == 1
    assert rows(channel="sms", template="booking_confirmation")[0].status == "sent"


def test_a_full_twilio_queue_is_retried_not_failed(book, twilio, rows):
    """Issue 15, defect 11: 21611 (the number's queue is full) passes; it was taken as permanent."""
    twilio.errors[NUMBER] = (400, 21611, "This 'From' number has exceeded the maximum number of queued messages")
    book(phone=NUMBER)
    notifications.process_due()
    [row] = rows(template="booking_confirmation", channel="sms")
    assert row.status == "pending" and "21611" in row.last_error
    del twilio.errors[NUMBER]
    notifications.process_due(now=row.send_at + timedelta(seconds=1))
    [row] = rows(template="booking_confirmation", channel="sms")
    assert row.status == "sent" and len(twilio.to(NUMBER)) == 1


def test_every_sms_says_how_long_it_is_worth_delivering(book, twilio, rows):
    """Issue 15, defect 11: a validity period matching the message's use, so Twilio drops a reminder
    still queued when the class starts instead of delivering it late."""
    book(phone=NUMBER)
    notifications.process_due()
    [confirmation] = twilio.to(NUMBER)
    assert confirmation["validity_period"] == 36_000  # days ahead: Twilio's longest, 10 hours
    two_hours_before = START - timedelta(hours=2)
    notifications.process_due(now=two_hours_before)
    reminder = twilio.to(NUMBER)[-1]
    assert "reminder" in rows(template="booking_reminder", channel="sms", status="sent")[0].template
    assert 2 * 3600 - 120 <= reminder["validity_period"] <= 2 * 3600  # until the session starts
