"""Twilio's status callbacks, as Twilio sends them (signed, in any order): a late status never
overwrites a later one; an SMS the carrier could not deliver is failed where staff see it, sent
again when the trouble passes, and a number that cannot take SMS is not texted again."""
from __future__ import annotations

from datetime import timedelta

import pytest
from notification_helpers import START, sign_in
from sqlalchemy import select

from app.models import NotificationOptOut
from app.services import notifications
from app.services.notifications.clock import utcnow
from app.services.notifications.sms_status import MAX_REDELIVERIES

NUMBER = "+447700900123"
PASSWORD = "correct horse battery"


@pytest.fixture
def texted(book, twilio, rows):
    """Ann's booking, with its confirmation SMS handed to Twilio: (the Twilio message, the booking)."""
    result = book(phone=NUMBER)
    notifications.process_due()
    [message] = twilio.to(NUMBER)
    return message, result


def sms_row(rows):
    [row] = rows(template="booking_confirmation", channel="sms")
    return row


def test_callbacks_are_applied_by_status_order_not_arrival_order(texted, twilio, client, rows):
    message, _ = texted
    assert sms_row(rows).delivery_status == "queued"
    for status in ("delivered", "sent", "sending", "queued"):  # the last three arrive late
        assert twilio.report(client, message["sid"], status).status_code == 204
        assert sms_row(rows).delivery_status == "delivered"
    row = sms_row(rows)
    assert row.status == "sent" and row.last_error is None


def test_a_status_twilio_does_not_document_changes_nothing(texted, twilio, client, rows):
    message, _ = texted
    twilio.report(client, message["sid"], "sent")
    assert twilio.report(client, message["sid"], "teleported").status_code == 204
    assert sms_row(rows).delivery_status == "sent"


def test_a_landline_fails_the_sms_and_is_never_texted_again(texted, twilio, client, rows, db, smtp):
    message, _ = texted
    twilio.report(client, message["sid"], "sent")
    assert twilio.report(client, message["sid"], "undelivered", error_code=30006).status_code == 204
    row = sms_row(rows)
    assert row.status == "failed" and row.delivery_status == "undelivered"
    assert "30006" in row.last_error and "landline" in row.last_error
    assert db.session.scalars(select(NotificationOptOut.source).where(
        NotificationOptOut.channel == "sms", NotificationOptOut.address == NUMBER)).all() == ["twilio_30006"]
    # A late "delivered" for the same message cannot make it look delivered again.
    twilio.report(client, message["sid"], "delivered")
    assert sms_row(rows).status == "failed"

    # The reminders come due: the SMS ones are skipped (and say why), the email ones go.
    for before in (timedelta(hours=24), timedelta(hours=2)):
        notifications.process_due(now=START - before)
    skipped = rows(template="booking_reminder", channel="sms")
    assert skipped and {r.status for r in skipped} == {"skipped"}
    assert all("cannot receive SMS" in r.last_error and "landline" in r.last_error for r in skipped)
    assert len(twilio.to(NUMBER)) == 1
    assert {r.status for r in rows(template="booking_reminder", channel="email")} == {"sent"}


def test_a_later_booking_with_the_same_unreachable_number_sends_no_sms(texted, twilio, client, book, rows):
    message, _ = texted
    twilio.report(client, message["sid"], "failed", error_code=30005)
    book(start=START + timedelta(days=1), email="ann@example.com", phone=NUMBER)
    notifications.process_due()
    later = [r for r in rows(template="booking_confirmation", channel="sms") if r.provider_message_id != message["sid"]]
    assert [r.status for r in later] == ["skipped"] and "unknown handset" in later[0].last_error
    assert len(twilio.to(NUMBER)) == 1


def test_a_phone_that_was_off_gets_the_sms_again_a_bounded_number_of_times(texted, twilio, client, rows):
    message, _ = texted
    sids = [message["sid"]]
    for attempt in range(1, MAX_REDELIVERIES + 1):
        assert twilio.report(client, sids[-1], "undelivered", error_code=30003).status_code == 204
        row = sms_row(rows)
        assert row.status == "pending" and row.provider_message_id is None and row.send_at > utcnow()
        assert "30003" in row.last_error and "switched off" in row.last_error
        notifications.process_due(now=row.send_at + timedelta(seconds=1))
        assert len(twilio.to(NUMBER)) == attempt + 1
        sids.append(twilio.to(NUMBER)[-1]["sid"])
        row = sms_row(rows)
        assert row.status == "sent" and row.provider_message_id == sids[-1]
        # A late callback about an earlier, lost copy changes nothing.
        twilio.report(client, sids[-2], "delivered")
        assert sms_row(rows).delivery_status == "queued"
    twilio.report(client, sids[-1], "undelivered", error_code=30003)
    row = sms_row(rows)
    assert row.status == "failed" and "30003" in row.last_error
    assert len(twilio.to(NUMBER)) == MAX_REDELIVERIES + 1
    # The phone being off says nothing about the number: it is not blocked.
    assert rows(template="booking_reminder", channel="sms")[0].status == "pending"


def test_a_message_the_carrier_filtered_fails_without_blocking_the_number(texted, twilio, client, rows, db):
    message, _ = texted
    twilio.report(client, message["sid"], "undelivered", error_code=30007)
    row = sms_row(rows)
    assert row.status == "failed" and "30007" in row.last_error and "filtered" in row.last_error
    assert db.session.scalar(select(NotificationOptOut.id).where(NotificationOptOut.address == NUMBER)) is None


def test_an_undelivered_sms_is_shown_on_the_booking_and_in_the_failed_list(app, client, texted, twilio, make_user,
                                                                          world):
    message, result = texted
    twilio.report(client, message["sid"], "undelivered", error_code=30006)
    make_user(org=world.org, role="owner", email="olive@atlas.example", password=PASSWORD)
    owner, _ = sign_in(app, "olive@atlas.example", PASSWORD)
    page = owner.get(f"/dashboard/bookings/{result.booking.id}").get_data(as_text=True)
    assert "Not delivered" in page and f"SMS to {NUMBER}" in page and "landline" in page
    failed = owner.get("/dashboard/outbox?status=failed").get_data(as_text=True)
    assert NUMBER in failed and "30006" in failed
