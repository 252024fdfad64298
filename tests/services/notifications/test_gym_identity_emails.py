"""The gym's identity in its emails, as they arrive at a real SMTP server (aiosmtpd): the gym's name
as the From display name (the address stays SMTP_FROM's), Reply-To its contact email as set in the
settings, its address and phone in the footer, its uploaded logo by absolute address with alt text,
and its address as the calendar file's LOCATION. Issue 17, item 5."""
from __future__ import annotations

import struct
import zlib
from email.headerregistry import Address

import pytest
from icalendar import Calendar

from app.services import notifications, team
from app.services.bookings import booking_ics


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


def set_identity(world, **changes):
    """Through the settings service, as the dashboard's form does."""
    org = world.org
    team.update_settings(org.id, name=changes.pop("name", org.name), timezone_name=org.timezone,
                         cancellation_cutoff_minutes=org.cancellation_cutoff_minutes,
                         reminder_offsets_minutes=list(org.reminder_offsets_minutes), **changes)


def plain(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html(message) -> str:
    return message.get_body(("html",)).get_content()


def location_of(message) -> str | None:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar" and p.get_filename()]
    event = next(c for c in Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT"))
    return str(event["LOCATION"]) if "LOCATION" in event else None


def test_emails_come_from_the_gym_by_name_and_replies_go_to_its_contact_email(book, smtp, world):
    set_identity(world, name="Iron Works Gym", contact_email="Desk@IronWorks.example")
    book()
    notifications.process_due()
    [confirmation] = smtp.inbox.to("ann@example.com")
    sender = confirmation["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Iron Works Gym", "hello@atlas.example")
    assert confirmation["Reply-To"] == "Desk@ironworks.example"
    # A trainer's notice about the booking comes from the gym too (without a Reply-To to its own desk).
    [notice] = smtp.inbox.to(world.trainer.email)
    assert notice["From"].addresses[0].display_name == "Iron Works Gym" and notice["Reply-To"] is None


@pytest.mark.parametrize("name", ["Bücher & Söhne Fitness", 'Gym "The Forge", Leeds', "健身房 Tokyo"],
                         ids=["non-ascii", "quotes-and-comma", "cjk"])
def test_a_name_that_needs_quoting_or_encoding_arrives_as_written(name, book, smtp, world):
    set_identity(world, name=name)
    book()
    notifications.process_due()
    [confirmation] = smtp.inbox.to("ann@example.com")
    assert confirmation["From"].addresses == (Address(display_name=name, addr_spec="hello@atlas.example"),)


def test_a_line_break_in_the_name_never_becomes_a_header(book, smtp, world, db, rows):
    world.org.name = "Atlas\r\nBcc: spy@attacker.example"  # written straight to the row: the form folds it
    db.session.commit()
    book()
    outcome = notifications.process_due()
    assert outcome.sent == 2 and outcome.failed == 0
    [confirmation] = smtp.inbox.to("ann@example.com")
    assert confirmation["Bcc"] is None and not smtp.inbox.to("spy@attacker.example")
    assert confirmation["From"].addresses[0].display_name == "Atlas Bcc: spy@attacker.example"
    assert confirmation["From"].addresses[0].addr_spec == "hello@atlas.example"


def test_the_footer_has_the_gyms_address_and_phone(book, smtp, world):
    set_identity(world, postal_address="12 High Street\nLondon N1 1AA", phone="020 7946 0018")
    book()
    notifications.process_due()
    [confirmation] = smtp.inbox.to("ann@example.com")
    footer = plain(confirmation).split("\n-- \n", 1)[1]
    assert "12 High Street\nLondon N1 1AA" in footer and "+44 20 7946 0018" in footer
    assert "Atlas Fitness, 12 High Street, London N1 1AA" in html(confirmation)
    assert "+44 20 7946 0018" in html(confirmation)


def test_the_uploaded_logo_is_linked_by_its_absolute_address_with_alt_text(book, smtp, world, db, app):
    world.link.branding.logo_url = None  # the page has no logo of its own: the gym's is used
    db.session.commit()
    set_identity(world, logo=png())
    book()
    notifications.process_due()
    [confirmation] = smtp.inbox.to("ann@example.com")
    org = world.org
    address = f"{app.config['APP_URL']}/logo/{org.id}/{org.logo_digest}.png"
    assert f'<img src="{address}" alt="Atlas Fitness logo"' in html(confirmation)


def test_a_pages_own_logo_comes_before_the_gyms(book, smtp, world, db):
    world.link.branding.logo_url = "https://cdn.example/page-logo.png"
    db.session.commit()
    set_identity(world, logo=png())
    book()
    notifications.process_due()
    [confirmation] = smtp.inbox.to("ann@example.com")
    assert '<img src="https://cdn.example/page-logo.png"' in html(confirmation)


def test_the_calendar_files_location_is_the_gyms_address(book, smtp, world, db):
    world.atype.location = None
    db.session.commit()
    set_identity(world, postal_address="12 High Street\nLondon N1 1AA")
    result = book()
    notifications.process_due()
    [confirmation] = smtp.inbox.to("ann@example.com")
    assert location_of(confirmation) == "12 High Street, London N1 1AA"
    assert "Where: 12 High Street, London N1 1AA" in plain(confirmation)
    # The file the manage page offers says the same.
    assert b"LOCATION:12 High Street\\, London N1 1AA" in booking_ics(result.booking, result.manage_token)


def test_a_place_the_booking_names_comes_before_the_address(book, smtp, world, db):
    set_identity(world, postal_address="12 High Street\nLondon N1 1AA")  # the service is in "Studio 2"
    first = book()
    notifications.process_due()
    [confirmation] = smtp.inbox.to("ann@example.com")
    assert location_of(confirmation) == "Studio 2"
    first.booking.location_details = "The park by the river"
    db.session.commit()
    assert b"LOCATION:The park by the river" in booking_ics(first.booking)
