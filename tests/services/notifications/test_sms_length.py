"""Every attendee SMS is one GSM-7 segment (160 septets), whatever the names — long ones, accented
ones, emoji, CJK — with the time, the link and the opt-out always whole; the short link in it opens
the booking's manage page (issue 15, defect 10)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from app.services import notifications
from app.services.bookings import Actor, cancel_booking, create_booking, reschedule_booking
from app.services.notifications.gsm import SmsLength, shorten, sms_length, to_gsm
from app.services.notifications.messages import sms_message, sms_text, when_short

NUMBER = "+447700900123"
# A long (real-looking) address, and the zone with the longest abbreviation there is: "+1345".
APP_URL = "https://bookings.northernstrengthcollective.co.uk"
ZONE = "Pacific/Chatham"
# A Tuesday, 02:00 UTC — 15:45 in Chatham ("Tue 14 Jan, 15:45 +1345"), so no reminder falls in the
# customer's quiet hours; moved a day later, to the Wednesday.
START = datetime(2031, 1, 14, 2, 0, tzinfo=timezone.utc)
MOVED = START + timedelta(days=1)
# One reminder for every way the lead time is written; 175 minutes is its longest wording.
REMINDERS = {4320: "in 3 days", 1440: "tomorrow", 300: "in 5 hours", 175: "in 175 minutes", 90: "in 90 minutes"}


@dataclass(frozen=True)
class Names:
    org: str
    service: str
    trainer: str
    opens_with: str  # how every SMS starts: the gym's name as GSM-7 writes it (or the start of it)


NAMES = {
    "long": Names("The Northern Strength & Conditioning Collective", "Reformer Pilates Intermediate (Small Group)",
                  "Maximiliana Featherstonehaugh-Ødegård", "The North"),
    "accents": Names("Zoë’s Strength Studio – Łódź", "Hot Yoga “Flow” für Anfänger (Fortgeschrittene)",
                     "Chloë Brontë-Łukasiewicz", "Zoe's"),
    "emoji": Names("💪 Iron Temple Gym & Recovery Lounge 🔥", "HIIT Bootcamp 🏋️‍♀️ Outdoors (All Levels)",
                   "Sam ✨ Okafor-Featherstonehaugh", "Iron Templ"),
    "cjk": Names("東京 Fitness Club 渋谷 — Shibuya Flagship", "ヨガ", "山田 太郎", "Fitness"),
}


@pytest.fixture
def app_config(app_config):
    # A portal at a public address refuses a short SECRET_KEY.
    return dict(app_config, APP_URL=APP_URL, SECRET_KEY="sms-length-tests-" + "k" * 32)


@pytest.fixture
def gym(db, make_org, make_trainer, make_appointment_type, make_link):
    """A gym with these names and a reminder at each lead-time wording; returns its booking link."""
    def make(names: Names):
        org = make_org(name=names.org, reminder_offsets_minutes=list(REMINDERS))
        trainer = make_trainer(org=org, name=names.trainer, hours={day: [("01:00", "05:00")] for day in range(1, 6)})
        atype = make_appointment_type(org=org, name=names.service)
        return make_link([trainer], [atype], slug="northern-strength")

    return make


def sent_by(twilio, step) -> str:
    """The one SMS that `step` (a booking change, or a pass of the outbox) sends."""
    before = len(twilio.to(NUMBER))
    step()
    new = twilio.to(NUMBER)[before:]
    assert len(new) == 1, [m["body"] for m in new]
    return new[0]["body"]


def lifecycle(link, twilio) -> tuple[str, dict[str, str]]:
    """Book, move, be reminded at every lead time, cancel: the manage token and every SMS sent."""
    result = create_booking(link_slug=link.slug, start_time=START, attendee_name="Zoë Ødegård",
                            attendee_email="zoe@example.com", attendee_phone=NUMBER, attendee_timezone=ZONE,
                            actor=Actor("attendee"))
    sms = {"booking_confirmation": sent_by(twilio, notifications.process_due)}
    sms["booking_update"] = sent_by(twilio, lambda: (
        reschedule_booking(result.booking.id, start_time=MOVED, actor=Actor("staff")), notifications.process_due()))
    for offset, wording in REMINDERS.items():
        sms[f"booking_reminder {wording}"] = sent_by(
            twilio, lambda offset=offset: notifications.process_due(now=MOVED - timedelta(minutes=offset)))
    sms["booking_cancellation"] = sent_by(twilio, lambda: (
        cancel_booking(result.booking.id, actor=Actor("staff")), notifications.process_due()))
    return result.manage_token, sms


@pytest.mark.parametrize("names", NAMES.values(), ids=NAMES.keys())
def test_every_attendee_sms_is_one_gsm7_segment_with_the_time_the_link_and_stop(gym, twilio, names):
    link = gym(names)
    token, sms = lifecycle(link, twilio)
    assert len(sms) == 8
    for template, body in sms.items():
        length = sms_length(body)
        assert length.encoding == "GSM-7" and length.units <= 160 and length.segments == 1, (template, length, body)
        # It opens with the gym's name, whole or cut short ("The Northern...: ").
        gym_name = body.split(": ", 1)[0].removesuffix("...")
        assert body.startswith(names.opens_with) and sms_text(names.org).startswith(gym_name), (template, body)
        when = when_short(START if template == "booking_confirmation" else MOVED, ZONE)
        assert when in body and when.endswith("15:45 +1345"), (template, body)
        link_url = f"{APP_URL}/book/{link.slug}" if template == "booking_cancellation" else f"{APP_URL}/m/{token}"
        assert f" {link_url} " in body, (template, body)  # whole, and apart from the words around it
        assert body.endswith("STOP to opt out."), (template, body)
        assert "None" not in body and "  " not in body, (template, body)
        if template.startswith("booking_reminder"):
            assert template.split(" ", 1)[1] in body, (template, body)  # "in 3 days", "tomorrow"...


def test_the_short_link_in_the_sms_opens_the_bookings_manage_page_and_the_email_keeps_the_full_one(
        gym, twilio, smtp, client):
    link = gym(NAMES["long"])
    result = create_booking(link_slug=link.slug, start_time=START, attendee_name="Zoë Ødegård",
                            attendee_email="zoe@example.com", attendee_phone=NUMBER, attendee_timezone=ZONE,
                            actor=Actor("attendee"))
    body = sent_by(twilio, notifications.process_due)
    [url] = [word for word in body.split() if word.startswith(APP_URL)]
    path = url.removeprefix(APP_URL)
    assert path == f"/m/{result.manage_token}"
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == f"/booking/manage/{result.manage_token}"
    page = client.get(path, follow_redirects=True)
    assert page.status_code == 200 and page.request.path == f"/booking/manage/{result.manage_token}"
    text = page.get_data(as_text=True)
    assert "Reformer Pilates Intermediate (Small Group)" in text and "Zoë Ødegård" in text
    # Email has no length to keep to: the full address, as before.
    [email] = smtp.inbox.to("zoe@example.com")
    assert f"{APP_URL}/booking/manage/{result.manage_token}" in email.get_body(("plain",)).get_content()


# --- the fitting, step by step (sms_message) ------------------------------------------------------

TEMPLATE = "notifications/booking_confirmation.sms.txt"
LINK = "https://atlasgym.uk/m/" + "T" * 22  # a short address


def context(**overrides) -> dict:
    values = {"org_name": "Atlas Fitness", "service": "PT Session", "trainer": "Terry Trainer",
              "when_short": "Mon 6 Jan, 05:00 EST", "manage_url": LINK}
    return {**values, **overrides}


def test_a_message_that_fits_is_sent_as_written(app):
    text = sms_message(TEMPLATE, context(trainer="Terry"))
    assert text == (f"Atlas Fitness: PT Session with Terry is booked for Mon 6 Jan, 05:00 EST. "
                    f"Change or cancel: {LINK} Reply STOP to opt out.")
    assert sms_length(text) == SmsLength("GSM-7", len(text), 1)


def test_first_the_opt_out_is_shorter_then_the_trainer_goes(app):
    assert sms_message(TEMPLATE, context()) == (
        f"Atlas Fitness: PT Session with Terry Trainer is booked for Mon 6 Jan, 05:00 EST. "
        f"Change or cancel: {LINK} STOP to opt out.")
    assert sms_message(TEMPLATE, context(trainer="Maximiliana Featherstonehaugh-Ødegård")) == (
        f"Atlas Fitness: PT Session is booked for Mon 6 Jan, 05:00 EST. Change or cancel: {LINK} STOP to opt out.")


def test_then_the_names_are_cut_at_a_word_then_the_wording_is_compact(app):
    text = sms_message(TEMPLATE, context(org_name="The Northern Strength & Conditioning Collective",
                                         service="Reformer Pilates Intermediate (Small Group)"))
    assert text == (f"The Northern Strength...: Reformer Pilates... booked for Mon 6 Jan, 05:00 EST. "
                    f"Change: {LINK} STOP to opt out.")
    assert sms_length(text) == SmsLength("GSM-7", len(text), 1)


def test_an_address_too_long_for_one_segment_never_loses_the_time_the_link_or_stop(app):
    url = "https://" + "very-long-subdomain." * 5 + "example.com/m/" + "T" * 22
    text = sms_message(TEMPLATE, context(org_name="The Northern Strength & Conditioning Collective",
                                         service="Reformer Pilates Intermediate (Small Group)", manage_url=url))
    assert f"Mon 6 Jan, 05:00 EST. {url} STOP to opt out." in text
    assert sms_length(text) == SmsLength("GSM-7", len(text), 2) and len(text) > 160


def test_names_with_nothing_left_in_gsm7_are_left_out(app):
    text = sms_message(TEMPLATE, context(org_name="東京ジム", service="ヨガ 🧘", trainer="山田 太郎"))
    assert text.startswith("Appointment is booked for Mon 6 Jan, 05:00 EST.")
    reminder = sms_message("notifications/booking_reminder.sms.txt",
                           context(org_name="🔥", service="ヨガ", trainer=None, lead_time="tomorrow"))
    assert reminder.startswith("Reminder: Appointment tomorrow, Mon 6 Jan, 05:00 EST. Can't make it?")


# --- GSM-7: the alphabet, counting, transliterating ------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("", SmsLength("GSM-7", 0, 0)),
    ("a" * 160, SmsLength("GSM-7", 160, 1)),
    ("a" * 161, SmsLength("GSM-7", 161, 2)),
    ("a" * 306, SmsLength("GSM-7", 306, 2)),
    ("a" * 307, SmsLength("GSM-7", 307, 3)),
    ("Ødegård, Müller, Ñoño, ß, é è ù ì ò, Ç, Æ æ", SmsLength("GSM-7", 43, 1)),  # in the GSM-7 alphabet itself
    ("€" * 80, SmsLength("GSM-7", 160, 1)),   # the extension table: two septets each
    ("€" * 81, SmsLength("GSM-7", 162, 2)),
    ("a" * 152 + "€" + "a" * 10, SmsLength("GSM-7", 164, 2)),
    ("a" * 152 + "{" + "a" * 152, SmsLength("GSM-7", 306, 3)),  # an escape pair is never split between parts
    ("Zoë", SmsLength("UCS-2", 3, 1)),       # one "ë": the whole text is UCS-2
    ("x" * 70, SmsLength("GSM-7", 70, 1)),
    ("ë" * 70, SmsLength("UCS-2", 70, 1)),
    ("ë" * 71, SmsLength("UCS-2", 71, 2)),
    ("💪", SmsLength("UCS-2", 2, 1)),        # outside the BMP: two UTF-16 units
    ("“Flow”", SmsLength("UCS-2", 6, 1)),
])
def test_sms_length_counts_as_a_carrier_does(text, expected):
    assert sms_length(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Zoë Brontë", "Zoe Bronte"),
    ("Maximiliana Featherstonehaugh-Ødegård", "Maximiliana Featherstonehaugh-Ødegård"),  # all GSM-7 already
    ("Straße, Müller, Crème", "Straße, Müller, Crème"),
    ("Łódź, Þór, Đặng, œuvre, ẞ, İzmir, ı", "Lodz, Thor, Dang, oeuvre, SS, Izmir, i"),
    ("Zoë’s “Flow” – 6–8 pm… ", "Zoe's \"Flow\" - 6-8 pm... "),
    ("Ａｂｃ ﬁt\u00a0x", "Abc fit x"),
    ("e\u0301", "é"),  # a decomposed accent, as macOS writes it, is the GSM-7 letter
    ("💪 Iron Temple 🔥", " Iron Temple "),
    ("東京 Fitness", " Fitness"),
])
def test_to_gsm_transliterates_what_it_can_and_leaves_out_the_rest(text, expected):
    assert to_gsm(text) == expected
    assert sms_length(to_gsm(text)).encoding == "GSM-7"


def test_shorten_cuts_at_a_word_and_says_so():
    assert shorten("Reformer Pilates Intermediate (Small Group)", 24) == "Reformer Pilates..."
    assert shorten("The Northern Strength & Conditioning Collective", 24) == "The Northern Strength..."
    assert shorten("The Northern Strength & Conditioning Collective", 12) == "The North..."
    assert shorten("PT Session", 10) == "PT Session"
    assert len(shorten("a{b}c" * 10, 12)) <= 12
