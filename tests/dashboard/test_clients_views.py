"""The Clients pages: the list with its search (page and fragment), a client's page with bookings,
no-shows, cancellations and notes (CSRF), CSV downloads of clients and bookings filtered as on screen
and safe in a spreadsheet — each only ever showing the signed-in person's organization, and a
trainer only the clients they have bookings with."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from dashboard_helpers import MONDAY, NOW, at, is_fragment, text

from app.models import Client
from app.services import clients
from app.services.bookings import Actor, create_booking


def attach(db, *bookings):
    """Link bookings made by the factory (past the booking service) to their clients, as the service
    and the migration do."""
    for booking in bookings:
        booking.client_id = clients.attach_client(booking.organization_id, email=booking.attendee_email,
                                                  name=booking.attendee_name, phone=booking.attendee_phone, now=NOW)
    db.session.commit()
    return bookings[0].client_id


@pytest.fixture
def people(db, gym, other, make_booking):
    """Acme's Ann (Alex's client: one booking to come, a no-show, a cancellation) and Bob (Sam's), and
    Rival's own Ann — at the same address as a client of Acme would be."""
    ann = attach(db, gym.booking,
                 make_booking(staff=gym.alex, start=at(MONDAY - timedelta(days=7), 10), status="no_show",
                              attendee_name="Ann of Acme", attendee_email="ann@acme.example"),
                 make_booking(staff=gym.alex, start=at(MONDAY + timedelta(days=2), 10), status="cancelled",
                              attendee_name="Ann of Acme", attendee_email="ann@acme.example",
                              cancellation_reason="Away"))
    bob = attach(db, gym.sam_booking)
    rival = attach(db, other.booking, make_booking(staff=other.alex, start=at(MONDAY, 15), attendee_name="Ann Elsewhere",
                                                   attendee_email="ann@acme.example"))
    return type("People", (), dict(ann=ann, bob=bob, rival=rival))


def rows(response) -> list[list[str]]:
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_the_list_and_its_search_render_as_a_page_or_a_fragment(owner, people):
    page = owner.get("/dashboard/clients")
    body = text(page)
    assert page.status_code == 200 and not is_fragment(page)
    assert ">Clients</a>" in body and 'aria-current="page"' in body.split(">Clients</a>")[0].rsplit("<a", 1)[1]
    assert "Ann of Acme" in body and "Bob of Acme" in body and "Ann Elsewhere" not in body
    assert "2</strong> clients" in body
    found = owner.get("/dashboard/clients?q=BOB", target="client-list")
    assert found.status_code == 200 and is_fragment(found)
    assert "Bob of Acme" in text(found) and "Ann of Acme" not in text(found)
    assert "HX-Request" in found.headers.get("Vary", "")
    by_email = text(owner.get("/dashboard/clients?q=ann%40acme"))
    assert "Ann of Acme" in by_email and "Bob of Acme" not in by_email and "Ann Elsewhere" not in by_email
    too_long = owner.get("/dashboard/clients?q=" + "x" * 101)
    assert too_long.status_code == 422


def test_a_search_by_phone(owner, db, gym, make_booking):
    attach(db, make_booking(staff=gym.alex, start=at(MONDAY, 15), attendee_name="Phoebe Phone",
                            attendee_email="phoebe@example.com", attendee_phone="+447700900123"))
    for q in ("07700 900123", "+44 7700 900123", "900123"):
        assert "Phoebe Phone" in text(owner.get(f"/dashboard/clients?q={q}", target="client-list")), q


def test_a_clients_page_shows_upcoming_past_no_shows_cancellations_and_notes(owner, people, db, gym):
    assert f'href="/dashboard/clients/{people.ann}"' in text(owner.get(f"/dashboard/bookings/{gym.booking.id}"))
    db.session.get(Client, people.ann).notes = "Left knee: no deep squats."
    db.session.commit()
    body = text(owner.get(f"/dashboard/clients/{people.ann}"))
    upcoming, past = body.split('id="upcoming-title"')[1].split('id="past-title"')
    assert "Mon 07 Jan 2030" in upcoming and "No-show" not in upcoming
    assert "No-show" in past and "Cancelled" in past and "Away" in past
    assert "<dt>No-shows</dt><dd>1</dd>" in body and "<dt>Cancellations</dt><dd>1</dd>" in body
    assert "Left knee: no deep squats." in body and "ann@acme.example" in body


def test_a_clients_page_says_when_booking_messages_do_not_reach_them(owner, people, db, gym, other):
    """The desk sees why a client gets no reminders or texts: their unsubscribe (this gym's only) and a
    STOP or an unreachable number (any gym's: every gym texts from one number)."""
    from app.models import NotificationOptOut

    ann = db.session.get(Client, people.ann)
    assert "Sent as usual" in text(owner.get(f"/dashboard/clients/{ann.id}"))
    ann.phone = "+447700900123"
    db.session.add_all([
        NotificationOptOut(organization_id=gym.org.id, channel="email", address="ann@acme.example",
                           source="unsubscribe_link"),
        NotificationOptOut(organization_id=other.org.id, channel="sms", address="+447700900123", source="sms_stop"),
    ])
    db.session.commit()
    body = text(owner.get(f"/dashboard/clients/{ann.id}")).split("<dt>Booking messages</dt>")[1].split("</dd>")[0]
    assert "No reminder emails: they unsubscribed" in body and "replied STOP" in body
    # Another gym's unsubscribe is theirs alone.
    db.session.query(NotificationOptOut).filter_by(channel="email").update({"organization_id": other.org.id})
    db.session.commit()
    body = text(owner.get(f"/dashboard/clients/{ann.id}")).split("<dt>Booking messages</dt>")[1].split("</dd>")[0]
    assert "unsubscribed" not in body and "replied STOP" in body


def test_another_organizations_client_is_not_found(owner, people):
    for client_id in (people.rival, "not-a-uuid"):
        assert owner.get(f"/dashboard/clients/{client_id}").status_code == 404
        assert owner.post(f"/dashboard/clients/{client_id}", {"notes": "x"}).status_code == 404


def test_notes_are_saved_with_csrf_for_a_browser_and_for_htmx(owner, people, db):
    url = f"/dashboard/clients/{people.ann}"
    assert owner.post(url, {"notes": "no token"}, csrf=False).status_code == 400
    saved = owner.post(url, {"notes": "Prefers mornings.", "marketing_sms_opt_out": "y"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith(url)
    db.session.expire_all()
    client = db.session.get(Client, people.ann)
    assert (client.notes, client.marketing_email_opt_out, client.marketing_sms_opt_out) == \
        ("Prefers mornings.", False, True)
    assert "Client saved." in text(owner.get(url))
    fragment = owner.post(url, {"notes": "Evenings now."}, target="client-notes")
    assert fragment.status_code == 200 and is_fragment(fragment) and "Saved." in text(fragment)
    assert "Evenings now." in text(fragment)
    refused = owner.post(url, {"notes": "x" * 5001}, target="client-notes")
    assert refused.status_code == 422 and is_fragment(refused) and "There&#39;s a problem" in text(refused)
    db.session.expire_all()
    assert db.session.get(Client, people.ann).notes == "Evenings now."


def test_a_trainer_sees_and_notes_only_their_own_clients(trainer, people, db, gym, make_booking):
    # Sam's session with Ann: Alex (the trainer signed in) sees Ann, but not that booking.
    attach(db, make_booking(staff=gym.sam, start=at(MONDAY + timedelta(days=3), 11), attendee_name="Ann of Acme",
                            attendee_email="ann@acme.example"))
    listing = text(trainer.get("/dashboard/clients"))
    assert "Ann of Acme" in listing and "Bob of Acme" not in listing and "1</strong> client" in listing
    page = text(trainer.get(f"/dashboard/clients/{people.ann}"))
    assert "Thu 10 Jan" not in page and "<dt>Bookings</dt><dd>3 <span" in page  # their three, not Sam's
    assert trainer.get(f"/dashboard/clients/{people.bob}").status_code == 403
    assert trainer.post(f"/dashboard/clients/{people.bob}", {"notes": "x"}).status_code == 403
    assert trainer.post(f"/dashboard/clients/{people.ann}", {"notes": "Good form."}).status_code == 303
    exported = rows(trainer.get("/dashboard/clients/export.csv"))
    assert [row[0] for row in exported[1:]] == ["Ann of Acme"]


def test_the_clients_csv_is_the_search_on_screen_and_never_a_formula(owner, people, db, gym, make_booking):
    attach(db, make_booking(staff=gym.alex, start=at(MONDAY, 16), attendee_name="=HYPERLINK(\"http://x\")",
                            attendee_email="eve@example.com", attendee_phone="+447700900999"))
    db.session.get(Client, people.ann).notes = "@SUM(A1)"
    db.session.commit()
    everyone = owner.get("/dashboard/clients/export.csv")
    assert everyone.status_code == 200 and everyone.mimetype == "text/csv"
    assert everyone.headers["Content-Disposition"].startswith('attachment; filename="clients-2030-01-06.csv"')
    table = rows(everyone)
    assert table[0][:3] == ["Name", "Email", "Phone"]
    by_name = {row[0]: row for row in table[1:]}
    assert set(by_name) == {"'=HYPERLINK(\"http://x\")", "Ann of Acme", "Bob of Acme"}  # never Rival's
    ann = by_name["Ann of Acme"]
    assert ann[1:7] == ["ann@acme.example", "", "3", "1", "1", "1"]  # bookings, upcoming, no-shows, cancellations
    assert ann[11] == "'@SUM(A1)"
    assert by_name["'=HYPERLINK(\"http://x\")"][2] == "'+447700900999"
    searched = rows(owner.get("/dashboard/clients/export.csv?q=bob"))
    assert [row[0] for row in searched[1:]] == ["Bob of Acme"]
    assert "/dashboard/clients/export.csv?q=bob" in text(owner.get("/dashboard/clients?q=bob"))


def test_the_bookings_csv_is_the_list_as_filtered_on_screen(owner, trainer, people, db, gym, make_booking):
    make_booking(staff=gym.alex, start=at(MONDAY, 14), attendee_name="-cmd|' /C calc'!A0",
                 attendee_email="mal@example.com")
    page = text(owner.get("/dashboard/bookings?status=confirmed"))
    assert "/dashboard/bookings/export.csv?status=confirmed" in page
    table = rows(owner.get("/dashboard/bookings/export.csv?status=confirmed"))
    assert table[0][:4] == ["Date", "Start", "End", "Attendee"]
    assert [(row[0], row[1], row[3]) for row in table[1:]] == [
        ("2030-01-07", "10:00", "Ann of Acme"), ("2030-01-07", "11:00", "Bob of Acme"),
        ("2030-01-07", "14:00", "'-cmd|' /C calc'!A0")]  # upcoming by default, as on screen; Rival's never
    assert table[1][6:9] == ["Acme Personal Training", "Alex of Acme", "confirmed"]
    cancelled = rows(owner.get("/dashboard/bookings/export.csv?status=cancelled&when=all"))
    assert [(row[3], row[11]) for row in cancelled[1:]] == [("Ann of Acme", "Away")]
    searched = rows(owner.get("/dashboard/bookings/export.csv?q=bob"))
    assert [row[3] for row in searched[1:]] == ["Bob of Acme"]
    assert [row[3] for row in rows(trainer.get("/dashboard/bookings/export.csv"))[1:]] == \
        ["Ann of Acme", "'-cmd|' /C calc'!A0", "Ann of Acme"]  # a trainer's own (the cancelled too), as their list
    assert trainer.get(f"/dashboard/bookings/export.csv?trainer={gym.sam.id}").status_code == 403
    assert owner.get("/dashboard/bookings/export.csv?date_from=2030-02-01&date_to=2030-01-01").status_code == 400


def test_a_public_booking_appears_under_its_client_at_once(owner, gym):
    create_booking(link_slug="acme-pt", start_time=at(MONDAY, 15), attendee_name="Walk In",
                   attendee_email="Walk.In@Example.com", actor=Actor("attendee"), now=NOW)
    body = text(owner.get("/dashboard/clients?q=walk", target="client-list"))
    assert "Walk In" in body and "walk.in@example.com" in body


def test_signed_out_and_the_rival_gym_see_nothing(client, browser, people, other):
    for url in ("/dashboard/clients", f"/dashboard/clients/{people.ann}", "/dashboard/clients/export.csv",
                "/dashboard/bookings/export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    rival = browser(other.owner)
    assert rival.get(f"/dashboard/clients/{people.ann}").status_code == 404
    for url in ("/dashboard/clients", "/dashboard/clients/export.csv", "/dashboard/bookings/export.csv?when=all"):
        body = text(rival.get(url))
        assert "Ann Elsewhere" in body and "Acme" not in body and "ann@acme.example" in body  # theirs, same address
