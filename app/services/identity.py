"""The gym's identity as its customers see it: contact email, phone, postal address and logo.

Promises:
* `clean_contact_email` and `clean_postal_address` read the settings form's contact fields and
  record a problem in the caller's `fields` (so the form reports every problem at once): an email
  address email-validator accepts, an address of at most ADDRESS_MAX characters and ADDRESS_LINES
  lines without control characters. (The phone is read by the booking's own rule, normalise_phone,
  in app/services/team.py: this module stays below the bookings package, which sends emails.)
* `check_logo` takes uploaded bytes only when they are a PNG, JPEG or WebP image (by their content,
  never by the name or type the browser claimed) of at most LOGO_MAX_BYTES. SVG is refused: it is a
  document that can carry scripts and links, and sanitising it is a project of its own.
* The logo is stored in the database (on `organizations`), so every web node serves it with no
  shared disk, and named by its digest (`logo_path`), so its address changes with it and can be
  cached for good; `get_logo` reads it back for its route.
* `sender_name` is the gym's name fit for an email's From display name: one line, no control
  characters (a line break in a header would start a header of its own).
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from app.extensions import db
from app.models import Organization
from app.services.errors import NotFound

LOGO_MAX_BYTES = 512 * 1024
ADDRESS_MAX = 300
ADDRESS_LINES = 6
EMAIL_MAX = 254
LOGO_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP"}
LOGO_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class Logo:
    data: bytes
    content_type: str
    digest: str


def _printable_lines(text: str) -> bool:
    return all(line.isprintable() for line in text.split("\n"))


def clean_contact_email(value: str | None, fields: dict) -> str | None:
    """The address as email-validator normalises it (None when empty); a problem goes in `fields`.
    Only a single plain address: it becomes the Reply-To of customers' emails."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > EMAIL_MAX or not text.isprintable():
        fields["contact_email"] = "not a valid email address"
        return None
    try:
        return validate_email(text, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as exc:
        fields["contact_email"] = f"not a valid email address: {exc}"
        return None


def clean_postal_address(value: str | None, fields: dict) -> str | None:
    """The address with each line's white space folded and empty lines dropped (None when empty)."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return None
    address = "\n".join(lines)
    if len(address) > ADDRESS_MAX:
        fields["postal_address"] = f"at most {ADDRESS_MAX} characters"
    elif len(lines) > ADDRESS_LINES:
        fields["postal_address"] = f"at most {ADDRESS_LINES} lines"
    elif not _printable_lines(address):
        fields["postal_address"] = "letters, numbers and punctuation only"
    else:
        return address
    return None


def logo_type(data: bytes) -> str | None:
    """The media type of an image we accept as a logo, read from its first bytes; else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:16] in (b"VP8 ", b"VP8L", b"VP8X"):
        return "image/webp"
    return None


def check_logo(data: bytes | None, fields: dict) -> Logo | None:
    """An uploaded logo as it will be stored, or None with the problem in `fields["logo"]`."""
    if not data:
        fields["logo"] = "the file is empty"
        return None
    if len(data) > LOGO_MAX_BYTES:
        fields["logo"] = f"the file is {len(data) // 1024} KB: at most {LOGO_MAX_BYTES // 1024} KB"
        return None
    content_type = logo_type(data)
    if content_type is None:
        head = data[:512].lstrip().lower()
        svg = head.startswith(b"<?xml") or b"<svg" in head
        fields["logo"] = ("SVG can't be used (it can carry scripts): upload a PNG, JPEG or WebP image"
                          if svg else "not a PNG, JPEG or WebP image")
        return None
    return Logo(data=data, content_type=content_type, digest=hashlib.sha256(data).hexdigest())


def apply_logo(org: Organization, logo: Logo | None) -> None:
    """Store `logo` on `org` (None removes it). The caller commits."""
    org.logo_image = logo.data if logo else None
    org.logo_content_type = logo.content_type if logo else None
    org.logo_digest = logo.digest if logo else None


def logo_path(org: Organization) -> str | None:
    """The address of the organization's logo on this site (None: it has none). The digest in it
    changes with the image, so the answer may be cached for good."""
    if not org.logo_digest or org.logo_content_type not in LOGO_EXTENSIONS:
        return None
    return f"/logo/{org.id}/{org.logo_digest}.{LOGO_EXTENSIONS[org.logo_content_type]}"


def get_logo(org_id, digest: str) -> Logo:
    """The logo of `org_id` whose digest is `digest`, or NotFound (also for an older digest: its
    address named another image)."""
    try:
        key = uuid.UUID(str(org_id))
    except ValueError:
        raise NotFound("No such logo.") from None
    row = db.session.execute(
        select(Organization.logo_image, Organization.logo_content_type, Organization.logo_digest)
        .where(Organization.id == key)).first()
    if row is None or not row.logo_image or row.logo_digest != digest or row.logo_content_type not in LOGO_TYPES:
        raise NotFound("No such logo.")
    return Logo(data=bytes(row.logo_image), content_type=row.logo_content_type, digest=row.logo_digest)


def sender_name(name: str | None) -> str | None:
    """The gym's name as an email's From display name: control characters (CR, LF, tab…) become
    spaces, white space is folded; None when nothing is left."""
    text = "".join(c if c.isprintable() else " " for c in (name or ""))
    text = " ".join(text.split())
    return text[:200] or None


def one_line_address(address: str | None) -> str | None:
    """The postal address on one line ("12 High Street, London N1 1AA"), for a calendar's LOCATION."""
    lines = [line.strip() for line in (address or "").splitlines() if line.strip()]
    return ", ".join(lines) or None
