"""Google Calendar: the portal's mirror of each trainer's calendar.

What it promises (docs/calendar.md has the long form):

* **Connections** (connections.py): OAuth with PKCE; tokens encrypted at rest (vault.py), refreshed
  ones stored again (access.py); `invalid_grant` marks the connection `needs_reconnect`, and no
  write-back is lost meanwhile. After a connection changes, what must sync runs in the background.
* **Busy times** (busy.py): the calendars that block availability are read with freeBusy and cached;
  availability reads the cache, and a trainer whose busy times are unknown is withheld (or ignored,
  by GOOGLE_UNREACHABLE_POLICY).
* **Write-back** (writeback.py): every booking becomes one event in its trainer's destination
  calendar (a deterministic event id), retried with backoff, never written twice; every class
  session likewise in its instructor's (class_events.py: moved with a new instructor, deleted when
  the session is cancelled, no attendee's details in it).
* **Push and incremental sync** (channels.py, changes.py): a channel per selected calendar, renewed
  before it expires; notifications checked by channel id and token; changes read from the stored
  sync token. What a trainer's change does to a booking is decided by the booking service
  (services/bookings/calendar_changes.py): this package never changes a booking's time or status.
* **Status** (status.py): plain-language problems and failed write-backs for the dashboard.
* **Upkeep** (upkeep.py): calendar lists read again periodically (calendars come and go in Google);
  a trainer emailed once when their connection needs reconnecting or write-backs keep failing.

Exported below for the rest of the portal; the modules import each other directly.
"""
from app.services.calendar.access import (
    CalendarUnavailable,
    GoogleNotConfigured,
    settings,
    utcnow,
)
from app.services.calendar.busy import (
    BusyState,
    busy_for_staff,
    is_current,
    needs_refresh,
    own_events,
    refresh_busy,
)
from app.services.calendar.changes import (
    Changes,
    calendars_to_maintain,
    changes_applied,
    read_changes,
    refresh_stale_busy,
    renew_channel_if_due,
    start_channels,
    sync_is_due,
)
from app.services.calendar.channels import (
    ChannelRejected,
    ensure_channel,
    receive_push,
    verify_push,
)
from app.services.calendar.class_events import (
    class_event_id_for,
    mark_sessions_changed,
    sync_session_event,
    write_class_events_soon,
    write_due_events,
)
from app.services.calendar.connections import (
    connections_by_user,
    connections_for,
    disconnect,
    finish_connect,
    get_connection,
    start_connect,
    sync_now,
    update_selection,
)
from app.services.calendar.status import (
    calendar_problems,
    failed_write_counts,
    failed_writes,
)
from app.services.calendar.upkeep import Upkeep, look_after_connections
from app.services.calendar.writeback import (
    after_commit,
    due_bookings,
    event_id_for,
    mark_bookings_changed,
    sync_booking_event,
)

__all__ = [
    "BusyState", "CalendarUnavailable", "ChannelRejected", "Changes", "GoogleNotConfigured", "Upkeep", "after_commit",
    "busy_for_staff", "class_event_id_for", "mark_sessions_changed", "sync_session_event", "write_class_events_soon", "calendar_problems", "calendars_to_maintain", "changes_applied", "connections_by_user",
    "connections_for", "disconnect", "due_bookings", "ensure_channel", "event_id_for", "failed_write_counts",
    "failed_writes", "finish_connect", "get_connection", "is_current", "mark_bookings_changed", "needs_refresh",
    "look_after_connections", "own_events", "read_changes", "receive_push", "refresh_busy",
    "refresh_stale_busy", "renew_channel_if_due", "settings", "start_channels", "start_connect",
    "sync_booking_event", "sync_is_due", "sync_now", "update_selection", "utcnow", "verify_push",
    "write_due_events",
]
