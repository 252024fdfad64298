"""Manage links: the secret that lets a customer see, move or cancel their own booking.

The token is random (128 bits: 22 characters, short enough for a one-segment SMS), shown once (in
the confirmation and the answer that made the booking) and stored only as its SHA-256. Tokens made
before were 192 bits (32 characters); they are looked up the same way and keep working. A lookup compares in constant time and answers the same
NotFound for any wrong token, so a link reveals nothing about other bookings.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select

from app.extensions import db
from app.models import Booking, Organization
from app.services import calendar_files
from app.services.calendar_files import google_calendar_url  # never carries the manage link (Google reads it)
from app.services.errors import NotFound
from app.services.urls import manage_url

TOKEN_BYTES = 16  # 128 bits: beyond guessing, even at millions of tries a second
TOKEN_MAX_LENGTH = 128

__all__ = ["booking_ics", "get_booking_by_token", "google_calendar_url", "hash_token", "manage_url",
           "new_manage_token"]


def new_manage_token() -> tuple[str, str]:
    """A fresh manage token and the hash stored in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_booking_by_token(token: str) -> Booking:
    """The booking whose manage token this is, or NotFound (the same answer for any wrong token)."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise NotFound("This booking link is not valid.")
    digest = hash_token(token)
    booking = db.session.scalars(select(Booking).where(Booking.manage_token_hash == digest)).first()
    # The lookup is by hash; the constant-time comparison keeps the final check free of timing leaks.
    if booking is None or not hmac.compare_digest(booking.manage_token_hash or "", digest):
        raise NotFound("This booking link is not valid.")
    return booking


def booking_ics(booking: Booking, token: str | None = None) -> bytes:
    """The booking as a calendar file, with its manage link when the token is known, and the gym's
    postal address as its location when the booking names no place of its own."""
    org = db.session.get(Organization, booking.organization_id)
    return calendar_files.booking_ics(booking, manage_link=manage_url(token) if token else None,
                                      address=org.postal_address if org is not None else None)

