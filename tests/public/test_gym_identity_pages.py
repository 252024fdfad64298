"""The gym's identity on its public pages: its postal address, phone and contact email on the booking
page and the confirmation, its uploaded logo in the header, its address as the .ics LOCATION.
Issue 17, item 5."""
from __future__ import annotations

import re
import struct
import zlib

from app.services import team


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


def identify(org, **changes):
    team.update_settings(org.id, name=org.name, timezone_name=org.timezone,
                         cancellation_cutoff_minutes=org.cancellation_cutoff_minutes,
                         reminder_offsets_minutes=list(org.reminder_offsets_minutes), **changes)


def footer(page: str) -> str:
    return re.search(r'<footer class="site-footer[^"]*">(.*?)</footer>', page, re.S).group(1)


def test_the_booking_page_says_where_the_gym_is_and_how_to_reach_it(client, org, link, pages):
    identify(org, postal_address="12 High Street\nLondon N1 1AA", phone="020 7946 0018")
    page = pages.text(client.get(f"/book/{link.slug}"))
    contact = footer(page)
    assert "<address" in contact and "12 High Street, London N1 1AA" in contact
    assert '<a class="gym-contact__item" href="tel:+442079460018">+44 20 7946 0018</a>' in contact
    assert 'href="mailto:hello@atlas.example"' in contact


def test_the_confirmation_page_has_the_address_and_uses_it_as_where_when_nothing_else_is_named(
        client, org, link, pt_type, booked, pages, db):
    pt_type.location = None
    db.session.commit()
    identify(org, postal_address="12 High Street\nLondon N1 1AA")
    _, token = booked()
    page = pages.text(client.get(f"/booking/manage/{token}?created=1"))
    assert "You're booked!" in page
    assert "12 High Street, London N1 1AA" in footer(page)
    assert re.search(r"<dt>Where</dt><dd>12 High Street, London N1 1AA</dd>", page)
    ics = client.get(f"/booking/manage/{token}/booking.ics").get_data(as_text=True)
    assert "LOCATION:12 High Street\\, London N1 1AA" in ics
    google = pages.hrefs(client.get(f"/booking/manage/{token}"), r"calendar\.google\.com")[0]
    assert "location=12+High+Street%2C+London+N1+1AA" in google


def test_without_an_address_the_footer_names_only_the_portal(client, make_org, make_trainer, make_appointment_type,
                                                             make_link, pages):
    bare = make_org(name="Bare Gym")
    trainer = make_trainer(org=bare)
    page_link = make_link([trainer], [make_appointment_type(org=bare)])
    page = pages.text(client.get(f"/book/{page_link.slug}"))
    assert "<address" not in footer(page) and "Bookings by Atlas Booking" in footer(page)


def test_the_uploaded_logo_is_in_the_header_unless_the_page_has_its_own(client, org, link, booked, pages, db):
    link.branding.logo_url = None
    db.session.commit()
    identify(org, logo=png())
    path = f"/logo/{org.id}/{org.logo_digest}.png"
    _, token = booked()
    for url in (f"/book/{link.slug}", f"/booking/manage/{token}?created=1"):
        assert f'<img class="brand__logo" src="{path}" alt="">' in pages.text(client.get(url)), url
    assert client.get(path).data == png()
    link.branding.logo_url = "https://cdn.example/page-logo.png"
    db.session.commit()
    assert 'src="https://cdn.example/page-logo.png"' in pages.text(client.get(f"/book/{link.slug}"))
