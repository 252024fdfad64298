"""Settings → the gym's identity: contact email, phone, postal address, logo, and a time zone chosen
from the canonical zones (with a suggestion for a name that is none). Issue 17, item 5."""
from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from dashboard_helpers import is_fragment, text
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.models import Organization

BASE = {"name": "Acme", "timezone": "Europe/London", "cancellation_cutoff_hours": "12", "reminder_offsets": "24h"}


def png(width: int = 2, height: int = 2, padding: int = 0) -> bytes:
    """A real PNG (white pixels); `padding` bytes of an ancillary chunk make it as large as wanted."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    extra = chunk(b"tEXt", b"Comment\x00" + b"x" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + extra
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
WEBP = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8L" + struct.pack("<I", 10) + b"\x2f" + b"\x00" * 9
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def upload(data: bytes, name: str = "logo.png", mimetype: str = "image/png") -> FileStorage:
    return FileStorage(io.BytesIO(data), name, content_type=mimetype)


def post_form(browser, data: dict, target: str | None = None):
    """POST `data` as multipart/form-data, as the settings form sends it. Encoded here, as bytes: the
    test client spools a body over 500 KB to a temporary file that nothing closes once the app has
    refused to read all of it."""
    boundary, body = encode_multipart({"csrf_token": browser.token, **data})
    headers = {"HX-Request": "true", "HX-Target": target} if target else {}
    return browser.client.post("/dashboard/settings", data=body, headers=headers,
                               content_type=f"multipart/form-data; boundary={boundary}")


def saved(db, gym) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, gym.org.id)


# --- contact fields ----------------------------------------------------------------------------------

def test_contact_email_phone_and_address_are_saved_and_shown(owner, gym, db):
    response = owner.post("/dashboard/settings", {
        **BASE, "contact_email": "  Desk@Acme.example ", "phone": "020 7946 0018",
        "postal_address": "  12 High Street \r\n\r\nLondon   N1 1AA\r\n"})
    assert response.status_code == 303, text(response)[:2000]
    org = saved(db, gym)
    assert (org.contact_email, org.phone, org.postal_address) == (
        "Desk@acme.example", "+442079460018", "12 High Street\nLondon N1 1AA")
    page = text(owner.get("/dashboard/settings"))
    assert 'value="Desk@acme.example"' in page and 'value="+44 20 7946 0018"' in page
    assert "12 High Street\nLondon N1 1AA</textarea>" in page


def test_a_freephone_number_is_fine_for_the_gym(owner, gym, db):
    assert owner.post("/dashboard/settings", {**BASE, "phone": "0800 123 4567"}).status_code == 303
    assert saved(db, gym).phone == "+448001234567"


def test_emptying_a_field_clears_it_and_a_post_without_it_leaves_it(owner, gym, db):
    gym.org.contact_email, gym.org.postal_address = "desk@acme.example", "1 Road"
    db.session.commit()
    assert owner.post("/dashboard/settings", BASE).status_code == 303  # an older form: no such fields
    assert (saved(db, gym).contact_email, saved(db, gym).postal_address) == ("desk@acme.example", "1 Road")
    assert owner.post("/dashboard/settings", {**BASE, "contact_email": "", "postal_address": " "}).status_code == 303
    assert (saved(db, gym).contact_email, saved(db, gym).postal_address) == (None, None)


def test_every_problem_is_reported_at_once_and_nothing_is_saved(owner, gym, db):
    response = owner.post("/dashboard/settings", {
        **BASE, "timezone": "London", "contact_email": "desk at acme", "phone": "+44 7700 900",
        "postal_address": "x" * 301}, target="settings-form")
    assert response.status_code == 422 and is_fragment(response)
    body = text(response)
    for field in ("timezone", "contact_email", "phone", "postal_address"):
        assert f'id="{field}-error"' in body, field
    assert "did you mean Europe/London?" in body
    assert "not a valid email address" in body and "not a valid phone number" in body
    assert "at most 300 characters" in body
    org = saved(db, gym)
    assert (org.timezone, org.contact_email, org.phone, org.postal_address) == ("Europe/London", None, None, None)


@pytest.mark.parametrize("field, value", [
    ("contact_email", "desk@acme.example\r\nBcc: spy@attacker.example"),
    ("contact_email", "a" * 5000 + "@acme.example"),
    ("contact_email", "Desk <desk@acme.example>"),
    ("phone", "9" * 5000),
    ("postal_address", "12 High Street\x07"),
    ("postal_address", "\n".join(["line"] * 7)),
    ("postal_address", "y" * 200_000),
    ("timezone", "Z" * 5000),
    ("timezone", "../../etc/passwd"),
], ids=["crlf-email", "huge-email", "display-name", "huge-phone", "bell-in-address", "seven-lines",
        "huge-address", "huge-zone", "path-zone"])
def test_hostile_values_get_a_field_error_never_a_server_error(owner, gym, db, field, value):
    response = owner.post("/dashboard/settings", {**BASE, field: value})
    assert response.status_code == 422, text(response)[:500]
    assert f'id="{field}-error"' in text(response)


def test_a_nul_byte_is_refused_at_the_door(owner, gym):
    response = owner.post("/dashboard/settings", {**BASE, "postal_address": "12 High\x00Street"})
    assert response.status_code == 400


def test_the_form_needs_its_csrf_token(owner, gym, db):
    response = owner.post("/dashboard/settings", {**BASE, "contact_email": "desk@acme.example"}, csrf=False)
    assert response.status_code in (400, 422)
    assert saved(db, gym).contact_email is None


def test_staff_cannot_change_the_identity(trainer, gym, db):
    response = trainer.post("/dashboard/settings", {**BASE, "contact_email": "spy@acme.example"})
    assert response.status_code == 403
    assert saved(db, gym).contact_email is None


# --- the time zone -----------------------------------------------------------------------------------

def test_the_time_zone_is_chosen_from_grouped_canonical_zones(owner, gym):
    page = text(owner.get("/dashboard/settings"))
    select = re.search(r'<select[^>]*name="timezone"[^>]*>(.*?)</select>', page, re.S)
    assert select, "the time zone is a <select>"
    options = re.findall(r'<option[^>]*value="([^"]+)"', select.group(1))
    assert '<optgroup label="Europe">' in select.group(1) and '<optgroup label="America">' in select.group(1)
    assert "Europe/London" in options and "America/New_York" in options and "UTC" in options
    # One name per place: no aliases, no Etc/ or legacy names.
    assert not {"GB", "US/Eastern", "Europe/Belfast", "Asia/Calcutta", "Etc/GMT+5", "localtime"} & set(options)
    assert re.search(r'<option selected value="Europe/London">|<option value="Europe/London" selected', select.group(1))
    # The searchable list the select becomes with JavaScript, labelled with place and country.
    assert '<option value="Europe/London" label="London, United Kingdom">' in page
    assert "js/zone-search.js" in page and 'data-zone-search="zones"' in page


def test_a_place_typed_instead_of_a_zone_gets_a_suggestion(owner, gym, db):
    response = owner.post("/dashboard/settings", {**BASE, "timezone": "London"}, target="settings-form")
    assert response.status_code == 422
    body = text(response)
    assert '<p class="field__error" id="timezone-error"><span class="sr-only">Error: </span>unknown time zone: ' \
           'did you mean Europe/London?</p>' in body
    # What was typed stays chosen under its error: the list does not fall back to another zone.
    assert re.search(r'<option selected value="London">|<option value="London" selected', body)
    assert saved(db, gym).timezone == "Europe/London"
    assert owner.post("/dashboard/settings", {**BASE, "timezone": "Asia/Tokyo"}).status_code == 303
    assert saved(db, gym).timezone == "Asia/Tokyo"


def test_a_zone_saved_before_under_an_alias_stays_chosen(owner, gym, db):
    gym.org.timezone = "US/Eastern"
    db.session.commit()
    page = text(owner.get("/dashboard/settings"))
    assert re.search(r'<option selected value="US/Eastern">|<option value="US/Eastern" selected', page)


# --- the logo ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, name, content_type", [
    (png(), "logo.png", "image/png"), (JPEG, "logo.jpg", "image/jpeg"), (WEBP, "logo.webp", "image/webp")],
    ids=["png", "jpeg", "webp"])
def test_a_logo_is_uploaded_stored_and_served_for_good(owner, gym, db, client, data, name, content_type):
    response = post_form(owner, {**BASE, "logo": upload(data, name, "application/octet-stream")})
    assert response.status_code == 303, text(response)[:2000]
    org = saved(db, gym)
    assert org.logo_image == data and org.logo_content_type == content_type
    path = re.search(r'<img class="brand__logo" src="([^"]+)"', text(owner.get("/dashboard/settings"))).group(1)
    assert path.startswith(f"/logo/{org.id}/{org.logo_digest}.")
    served = client.get(path)
    assert served.status_code == 200 and served.data == data
    assert served.mimetype == content_type
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline")
    again = client.get(path, headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304


def test_a_logo_is_shown_in_the_booking_page_header(owner, gym, db, client):
    gym.link.branding.logo_url = None
    db.session.commit()
    post_form(owner, {**BASE, "logo": upload(png())})
    org = saved(db, gym)
    path = f"/logo/{org.id}/{org.logo_digest}.png"
    assert f'<img class="brand__logo" src="{path}"' in text(owner.get("/dashboard/"))
    assert f'<img class="brand__logo" src="{path}"' in text(client.get(f"/book/{gym.link.slug}"))


def test_an_old_or_unknown_logo_address_is_not_found(owner, gym, db, client):
    post_form(owner, {**BASE, "logo": upload(png())})
    first = saved(db, gym).logo_digest
    post_form(owner, {**BASE, "logo": upload(png(3, 3))})
    org = saved(db, gym)
    assert org.logo_digest != first
    assert client.get(f"/logo/{org.id}/{first}.png").status_code == 404
    assert client.get(f"/logo/{org.id}/{org.logo_digest}.jpg").status_code == 404  # not its type
    assert client.get(f"/logo/not-a-uuid/{org.logo_digest}.png").status_code == 404
    assert client.get(f"/logo/{org.id}/{org.logo_digest}.png").status_code == 200


@pytest.mark.parametrize("data, name, message", [
    (SVG, "logo.svg", "SVG can&#39;t be used"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.png", "SVG can&#39;t be used"),
    (GIF, "logo.gif", "not a PNG, JPEG or WebP image"),
    (b"%PDF-1.7 not an image", "logo.png", "not a PNG, JPEG or WebP image"),
    (b"\x00" * 100, "logo.png", "not a PNG, JPEG or WebP image"),
    (b"", "logo.png", "the file is empty"),
    (png(padding=600 * 1024), "big.png", "at most 512 KB"),
], ids=["svg", "svg-named-png", "gif", "pdf", "nul-bytes", "empty", "too-big"])
def test_a_file_that_is_not_an_accepted_logo_is_refused_with_a_field_error(owner, gym, db, data, name, message):
    response = post_form(owner, {**BASE, "contact_email": "desk@acme.example", "logo": upload(data, name, "image/png")},
                         target="settings-form")
    assert response.status_code == 422
    body = text(response)
    assert 'id="logo-error"' in body and message in body
    org = saved(db, gym)
    assert org.logo_digest is None and org.contact_email is None  # nothing saved


def test_a_body_over_the_request_limit_is_a_413_not_a_server_error(owner, gym, db):
    response = post_form(owner, {**BASE, "logo": upload(png(padding=2 * 1024 * 1024), "big.png")})
    assert response.status_code == 413
    assert saved(db, gym).logo_digest is None


def test_the_logo_can_be_removed(owner, gym, db, client):
    post_form(owner, {**BASE, "logo": upload(png())})
    org = saved(db, gym)
    path = f"/logo/{org.id}/{org.logo_digest}.png"
    assert "Remove the logo" in text(owner.get("/dashboard/settings"))
    assert owner.post("/dashboard/settings", {**BASE, "remove_logo": "y"}).status_code == 303
    org = saved(db, gym)
    assert (org.logo_image, org.logo_content_type, org.logo_digest) == (None, None, None)
    assert client.get(path).status_code == 404
    assert 'class="brand__mark"' in text(owner.get("/dashboard/"))


def test_saving_without_a_new_file_keeps_the_logo(owner, gym, db):
    post_form(owner, {**BASE, "logo": upload(png())})
    digest = saved(db, gym).logo_digest
    assert post_form(owner, {**BASE, "logo": upload(b"", "")}).status_code == 303  # no file chosen
    assert saved(db, gym).logo_digest == digest
