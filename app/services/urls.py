"""Absolute addresses of the portal's pages, for what leaves a request: emails, SMS, calendar files,
API answers and OAuth callbacks. Every link is built from APP_URL here, and only here."""
from __future__ import annotations

from flask import current_app


def app_url() -> str:
    """The portal's public address (NEXT_PUBLIC_APP_URL / APP_URL), without a trailing slash."""
    return current_app.config["APP_URL"]


def manage_url(token: str) -> str:
    """The customer's page to see, move or cancel a booking (the token is its only key)."""
    return f"{app_url()}/booking/manage/{token}"


def short_manage_url(token: str) -> str:
    """The same page by its short address (/m/<token>, which redirects to it), for SMS: a link
    25 characters shorter keeps a confirmation or a reminder in one segment."""
    return f"{app_url()}/m/{token}"


def book_url(slug: str) -> str:
    """A public booking page."""
    return f"{app_url()}/book/{slug}"


def unsubscribe_url(token: str) -> str:
    """One-click unsubscribe from reminder emails (signed token)."""
    return f"{app_url()}/api/notifications/unsubscribe/{token}"


def dashboard_booking_url(booking_id) -> str:
    """A booking in the staff dashboard."""
    return f"{app_url()}/dashboard/bookings/{booking_id}"


def calendar_sync_url() -> str:
    """The staff dashboard's Calendar sync page (connect, reconnect, choose calendars)."""
    return f"{app_url()}/dashboard/calendar-sync"


def password_reset_url(token: str) -> str:
    """A signed password-reset (or invitation) link."""
    return f"{app_url()}/auth/reset/{token}"


def google_callback_url() -> str:
    """Where Google sends the person back after the consent screen."""
    return f"{app_url()}/api/calendar/google/callback"


def twilio_status_callback_url(config) -> str:
    """Where Twilio reports delivery statuses (read from a config mapping: no app context needed)."""
    return f"{config['APP_URL']}/api/twilio/status"
