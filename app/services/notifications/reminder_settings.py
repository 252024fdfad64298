"""The organization's reminder settings changed: every reminder still to come follows them."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.services.notifications.class_messages import class_reminders_follow_settings
from app.services.notifications.scheduling import booking_reminders_follow_settings
from app.services.quiet_hours import QuietHours


def reminder_settings_changed(organization_id, offsets: Sequence[int] | None, quiet_hours: QuietHours | None, *,
                              now: datetime | None = None) -> int:
    """The organization's reminder offsets or quiet hours changed: the reminders of every upcoming
    booking and of every booked spot in a class still ahead follow (no commit). A reminder no longer
    wanted (its offset removed, or quiet hours leave it no time) is cancelled; one newly wanted is
    written (or, if it was cancelled before, pending again); a pending one moves to its new time.
    Reminders already sent stay sent. Returns how many bookings and spots were looked at."""
    return (booking_reminders_follow_settings(organization_id, offsets, quiet_hours, now=now)
            + class_reminders_follow_settings(organization_id, offsets, quiet_hours, now=now))
