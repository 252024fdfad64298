"""Inbound SMS (issue 15, defects 4 and 12): only a message that *is* a keyword opts out or in, as
Twilio counts it; any other text gets one fixed pointer to the manage link, the same for every
number; STOP/START/HELP are answered by Twilio, and by us only under TWILIO_ADVANCED_OPT_OUT."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from notification_helpers import START, TWILIO_FROM, TWILIO_TOKEN
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app.api import twilio as webhook
from app.config import Config
from app.models import Booking, NotificationOptOut
from app.services import notifications

NUMBER = "+447700900123"
STRANGER = "+447700900999"  # has never been texted by any gym
# GSM 03.38's basic character set: a text of these, at most 160 long, is one SMS segment.
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


def inbound(client, body: str, number: str = NUMBER):
    """Twilio's "a message comes in" request, signed as Twilio signs it."""
    form = {"From": number, "To": TWILIO_FROM, "Body": body, "MessageSid": "SM" + "1" * 32}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature("http://localhost/api/twilio/inbound", form)
    response = client.post("/api/twilio/inbound", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and response.mimetype == "application/xml"
    return response


def replies(response) -> list[str]:
    """The texts of the TwiML <Message>s: what Twilio would send back to the number."""
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return [message.text for message in root.iter("Message")]


def opt_outs(db, number: str = NUMBER) -> list[str]:
    db.session.commit()
    return db.session.scalars(select(NotificationOptOut.source).where(NotificationOptOut.address == number)).all()


def test_a_sentence_that_starts_with_cancel_is_not_an_opt_out(book, twilio, client, db, rows):
    result = book(phone=NUMBER)
    notifications.process_due()
    response = inbound(client, "Cancel my 10am please, I'm ill")
    assert opt_outs(db) == []
    assert len(replies(response)) == 1 and replies(response) == [webhook.POINTER_TEXT]
    assert "link in your booking confirmation" in webhook.POINTER_TEXT
    db.session.expire_all()
    assert db.session.get(Booking, result.booking.id).status == "confirmed"  # nothing was cancelled either
    # The number still gets its texts: both SMS reminders go when due.
    notifications.process_due(now=START - timedelta(hours=24))
    notifications.process_due(now=START - timedelta(hours=2))
    assert {r.status for r in rows(template="booking_reminder", channel="sms")} == {"sent"}
    assert len(twilio.to(NUMBER)) == 3


@pytest.mark.parametrize("body", ["Stop please", "please stop", "END", "Quit it", "help me move my booking",
                                  "STOP STOP", "", "   "])
def test_only_a_whole_message_keyword_counts(book, client, db, body):
    book(phone=NUMBER)
    response = inbound(client, body)
    if body == "END":  # the one real keyword here: an opt-out, answered by Twilio
        assert opt_outs(db) == ["sms_stop"] and replies(response) == []
    else:
        assert opt_outs(db) == []
        assert len(replies(response)) == 1 and replies(response) == [webhook.POINTER_TEXT]


def test_yes_in_a_sentence_does_not_undo_an_earlier_stop(book, client, db):
    book(phone=NUMBER)
    assert replies(inbound(client, "STOP")) == []
    assert opt_outs(db) == ["sms_stop"]
    response = inbound(client, "Yes see you then")
    assert opt_outs(db) == ["sms_stop"]
    assert len(replies(response)) == 1 and replies(response) == [webhook.POINTER_TEXT]
    assert replies(inbound(client, " yes ")) == []  # the keyword alone does opt back in
    assert opt_outs(db) == []


@pytest.mark.parametrize("body", [" stop ", "Stop", "STOP.", "stop!", "\tUnsubscribe\n", "stopall", "Revoke"])
def test_a_keyword_in_any_case_and_spacing_opts_out(book, client, db, body):
    book(phone=NUMBER)
    response = inbound(client, body)
    assert replies(response) == []  # Twilio confirms the STOP itself
    assert opt_outs(db) == ["sms_stop"]


@pytest.mark.parametrize("body", ["HELP", " help ", "Info"])
def test_help_gets_no_reply_from_us_by_default(client, body):
    assert replies(inbound(client, body)) == []


def test_with_advanced_opt_out_we_answer_help_stop_and_start(book, client, db, app):
    app.config["TWILIO_ADVANCED_OPT_OUT"] = True
    book(phone=NUMBER)
    assert replies(inbound(client, "help")) == [webhook.HELP_TEXT]
    assert "Reply STOP to stop texts" in webhook.HELP_TEXT
    assert opt_outs(db) == []
    stop = replies(inbound(client, "Stop"))
    assert opt_outs(db) == ["sms_stop"]
    assert len(stop) == 1 and stop == [webhook.STOP_TEXT]
    start = replies(inbound(client, "START"))
    assert opt_outs(db) == []
    assert len(start) == 1 and start == [webhook.START_TEXT]
    other = replies(inbound(client, "Cancel my 10am please"))
    assert opt_outs(db) == []
    assert len(other) == 1 and other == [webhook.POINTER_TEXT]


def test_free_text_gets_the_same_reply_from_a_known_and_an_unknown_number(book, client):
    result = book(phone=NUMBER)
    known = inbound(client, "Can I move to 11?", NUMBER)
    unknown = inbound(client, "Can I move to 11?", STRANGER)
    assert len(replies(known)) == 1 and replies(known) == replies(unknown) == [webhook.POINTER_TEXT]
    assert known.get_data() == unknown.get_data()
    for secret in (result.manage_token, "Ann", "PT Session", "Terry", "Atlas Fitness", "10:00", "05:00"):
        assert secret not in known.get_data(as_text=True)


@pytest.mark.parametrize("name", ["HELP_TEXT", "STOP_TEXT", "START_TEXT", "POINTER_TEXT"])
def test_each_reply_is_one_gsm7_segment(name):
    text = getattr(webhook, name)
    assert len(text) <= 160 and set(text) <= GSM7


def test_advanced_opt_out_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("TWILIO_ADVANCED_OPT_OUT", raising=False)
    assert Config().TWILIO_ADVANCED_OPT_OUT is False
    monkeypatch.setenv("TWILIO_ADVANCED_OPT_OUT", "true")
    assert Config().TWILIO_ADVANCED_OPT_OUT is True
