"""Reminders go out at their time, never stale; the unsubscribe link stops reminders and nothing else."""
from __future__ import annotations

import re
from datetime import timedelta

from notification_helpers import START
from sqlalchemy import select

from app.models import NotificationOptOut
from app.services import notifications
from app.services.bookings import Actor, cancel_booking, reschedule_booking
from app.services.notifications.claims import claim_due
from app.services.notifications.delivery import deliver_claimed

DAY_BEFORE = START - timedelta(hours=24)
TWO_HOURS = START - timedelta(hours=2)


def test_a_reminder_goes_at_its_time_not_before(book, smtp, rows):
    result = book()
    notifications.process_due()
    assert notifications.process_due(now=DAY_BEFORE - timedelta(minutes=1)).claimed == 0
    assert notifications.process_due(now=DAY_BEFORE).sent == 1
    reminder = smtp.inbox.to("ann@example.com")[-1]
    assert reminder["Subject"] == "Reminder: PT Session with Terry Trainer tomorrow, Mon 6 Jan at 05:00 EST"
    text = reminder.get_body(("plain",)).get_content()
    assert "Monday 6 January 2031, 05:00\u201306:00 New York time (EST)" in text
    assert f"http://localhost/booking/manage/{result.manage_token}" in text
    # One-click unsubscribe (RFC 8058) for reminders.
    assert re.fullmatch(r"<http://localhost/api/notifications/unsubscribe/\S+>", reminder["List-Unsubscribe"])
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not list(reminder.iter_attachments())
    assert notifications.process_due(now=TWO_HOURS).sent == 1
    assert smtp.inbox.to("ann@example.com")[-1]["Subject"].startswith("Reminder: PT Session with Terry Trainer in 2 hours")
    assert [r.status for r in rows(template="booking_reminder")] == ["sent", "sent"]


def test_a_reminder_claimed_before_a_move_is_not_sent_stale(book, smtp, rows):
    result = book()
    notifications.process_due()
    claimed = claim_due(10, now=DAY_BEFORE)  # a sender picked up the 24-hour reminder…
    assert len(claimed) == 1
    new_start = START + timedelta(days=2)
    reschedule_booking(result.booking.id, start_time=new_start, actor=Actor("staff"))  # …then the booking moved
    outcome = deliver_claimed(claimed, now=DAY_BEFORE)
    assert outcome.skipped == 1 and outcome.sent == 0
    stale = [r for r in rows(template="booking_reminder") if r.id == claimed[0][0]][0]
    assert stale.status == "skipped" and "changed after this reminder was scheduled (version 0 → 1)" in stale.last_error
    assert not [m for m in smtp.inbox.to("ann@example.com") if m["Subject"].startswith("Reminder")]
    # The moved reminders go out at the new times, with the new time in them.
    notifications.process_due()
    assert notifications.process_due(now=new_start - timedelta(hours=24)).sent == 1
    assert "Wednesday 8 January 2031" in smtp.inbox.to("ann@example.com")[-1].get_body(("plain",)).get_content()


def test_a_cancelled_booking_sends_no_reminder_even_one_already_claimed(book, smtp, rows):
    result = book()
    notifications.process_due()
    claimed = claim_due(10, now=TWO_HOURS)
    assert len(claimed) == 2  # both reminders are due by then
    cancel_booking(result.booking.id, actor=Actor("staff"))
    outcome = deliver_claimed(claimed, now=TWO_HOURS)
    assert outcome.skipped == 2
    assert all("cancelled" in r.last_error for r in rows(template="booking_reminder"))
    notifications.process_due()
    subjects = [m["Subject"] for m in smtp.inbox.to("ann@example.com")]
    assert [s.split(":")[0] for s in subjects] == ["Confirmed", "Cancelled"]


def test_a_reminder_delivered_after_the_start_is_skipped(book, rows):
    book()
    notifications.process_due()
    outcome = notifications.process_due(now=START + timedelta(minutes=5))  # the dispatcher was down for a day
    assert outcome.skipped == 2
    assert {r.last_error for r in rows(template="booking_reminder")} == {"the booking has already started"}


def unsubscribe_path(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://localhost(/api/notifications/unsubscribe/\S+)", text).group(1)


def test_the_unsubscribe_link_stops_reminders_but_not_confirmations_or_cancellations(book, smtp, rows, client, db):
    result = book()
    notifications.process_due()
    path = unsubscribe_path(smtp.inbox.to("ann@example.com")[0])
    page = client.get(path)  # a mail scanner opening the link unsubscribes nobody
    assert page.status_code == 200 and "Unsubscribe from reminders" in page.get_data(as_text=True)
    assert db.session.scalars(select(NotificationOptOut)).all() == []
    done = client.post(path)
    assert done.status_code == 200 and "You're unsubscribed" in done.get_data(as_text=True)
    assert client.post(path).status_code == 200  # twice is fine
    [opt_out] = db.session.scalars(select(NotificationOptOut)).all()
    assert (opt_out.channel, opt_out.address, opt_out.source) == ("email", "ann@example.com", "unsubscribe_link")

    assert notifications.process_due(now=DAY_BEFORE).skipped == 1
    assert notifications.process_due(now=TWO_HOURS).skipped == 1
    assert {r.last_error for r in rows(template="booking_reminder")} == {
        "the recipient unsubscribed from reminder emails"}
    cancel_booking(result.booking.id, actor=Actor("staff"))
    notifications.process_due(now=TWO_HOURS)
    assert [m["Subject"].split(":")[0] for m in smtp.inbox.to("ann@example.com")] == ["Confirmed", "Cancelled"]


def test_unsubscribing_from_one_gym_leaves_other_gyms_alone(book, smtp, client, db, make_org, make_trainer,
                                                            make_appointment_type, make_link):
    from app.services.bookings import create_booking

    book()
    notifications.process_due()
    client.post(unsubscribe_path(smtp.inbox.to("ann@example.com")[0]))
    other = make_org(name="Other Gym", slug="other-gym")
    trainer = make_trainer(org=other, name="Olga")
    link = make_link([trainer], [make_appointment_type(org=other, name="Yoga")])
    create_booking(link_slug=link.slug, start_time=START, attendee_name="Ann", attendee_email="ann@example.com",
                   actor=Actor("attendee"))
    outcome = notifications.process_due(now=TWO_HOURS)
    assert outcome.sent >= 2  # the other gym's confirmation and reminders
    assert any(m["Subject"].startswith("Reminder: Yoga") for m in smtp.inbox.to("ann@example.com"))
    assert not any(m["Subject"].startswith("Reminder: PT") for m in smtp.inbox.to("ann@example.com"))


def test_a_forged_unsubscribe_link_is_refused(client, book, smtp):
    book()
    notifications.process_due()
    path = unsubscribe_path(smtp.inbox.to("ann@example.com")[0])
    forged = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    for response in (client.get(forged), client.post(forged)):
        assert response.status_code == 404
        assert "This link doesn't work" in response.get_data(as_text=True)


def test_rfc8058_one_click_post_unsubscribes(client, book, smtp, db):
    book()
    notifications.process_due(now=DAY_BEFORE)
    reminder = smtp.inbox.to("ann@example.com")[-1]
    url = reminder["List-Unsubscribe"].strip("<>").removeprefix("http://localhost")
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert db.session.scalars(select(NotificationOptOut.address)).all() == ["ann@example.com"]


def test_after_a_long_outage_only_the_reminder_that_still_fits_goes_and_says_the_real_time(book, smtp, rows):
    """Issue 15, defect 2: with the worker down from the day before until 90 minutes before, the
    'tomorrow' reminder and the 2-hour one went out together. Now the day-before one is superseded,
    and the 2-hour one says how long is really left."""
    book()
    notifications.process_due(now=DAY_BEFORE - timedelta(hours=1))  # the confirmation
    outcome = notifications.process_due(now=START - timedelta(minutes=90))
    assert outcome.sent == 1 and outcome.skipped == 1
    [reminder] = [m for m in smtp.inbox.to("ann@example.com") if m["Subject"].startswith("Reminder")]
    assert reminder["Subject"].startswith("Reminder: PT Session with Terry Trainer in 90 minutes")
    assert "tomorrow" not in reminder.get_body(("plain",)).get_content()
    skipped = [r for r in rows(template="booking_reminder") if r.status == "skipped"]
    assert [r.context["offset_minutes"] for r in skipped] == [24 * 60]
    assert "a later reminder of this booking is due" in skipped[0].last_error


def test_a_reminder_with_less_than_half_its_notice_left_is_dropped(book, smtp, rows):
    book()
    notifications.process_due(now=DAY_BEFORE - timedelta(hours=1))
    outcome = notifications.process_due(now=START - timedelta(minutes=40))  # the worker was down until now
    assert outcome.sent == 0 and outcome.skipped == 2
    assert not [m for m in smtp.inbox.to("ann@example.com") if m["Subject"].startswith("Reminder")]
    assert {r.last_error.split(":")[0] for r in rows(template="booking_reminder")} == {"late"}


def test_a_day_before_reminder_a_few_hours_late_still_says_tomorrow_or_the_hours_left(book, smtp, rows):
    book()
    notifications.process_due(now=DAY_BEFORE - timedelta(hours=1))
    assert notifications.process_due(now=DAY_BEFORE + timedelta(hours=3)).sent == 1  # 21 hours left: still fits
    subject = smtp.inbox.to("ann@example.com")[-1]["Subject"]
    assert subject.startswith("Reminder: PT Session with Terry Trainer tomorrow")  # 05:00 EST tomorrow
