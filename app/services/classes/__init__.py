"""Group classes: class types, the weekly timetable and its sessions, spots, the waitlist.

What the package promises:

* A session never holds more place-holding spots than its capacity, under any concurrency: every
  change of its spots locks its row first (spots.lock_session) and the database refuses a count
  beyond the capacity (a CHECK). One live spot per person (normalised email) per session.
* The waitlist is first come, first served; a freed place goes to the first person waiting in the
  transaction that freed it, until the organization's waitlist cutoff; a periodic pass
  (promote_waitlists) is the backstop and closes waitlists at the start. Nobody is promoted twice.
* Sessions are real rows over a rolling horizon, at the organization's local wall time across DST;
  a session is busy time for its instructor (the availability loader reads it), and scheduling one
  over the instructor's bookings, classes or time off is refused with the clashes listed.
* Every change is audited (class_audit) and notifies through the outbox in its own transaction.

Modules: spots (booking, waitlist, cancelling, attendance), timetable (types, series, sessions,
clashes, rosters), audit.
"""
from app.services.classes.spots import (
    SpotResult,
    book_class,
    cancel_spot,
    get_spot,
    get_spot_by_token,
    promote_waitlists,
    promotion_deadline,
    set_attendance,
    waitlist_open,
    waitlist_position,
)
from app.services.classes.timetable import (
    HORIZON_WEEKS,
    Clash,
    Roster,
    SessionRow,
    cancel_session,
    change_session,
    class_types,
    create_series,
    create_session,
    end_series,
    extend_timetables,
    get_class_type,
    get_series,
    get_session,
    instructor_clashes,
    local_week,
    roster,
    save_class_type,
    series_list,
    sessions_between,
    update_series,
    week_stamp,
)

__all__ = [
    "HORIZON_WEEKS", "Clash", "Roster", "SessionRow", "SpotResult", "book_class", "cancel_session", "cancel_spot",
    "change_session", "class_types", "create_series", "create_session", "end_series", "extend_timetables",
    "get_class_type", "get_series", "get_session", "get_spot", "get_spot_by_token", "instructor_clashes",
    "local_week", "promote_waitlists", "promotion_deadline", "roster", "save_class_type", "series_list",
    "sessions_between", "set_attendance", "update_series", "waitlist_open", "waitlist_position", "week_stamp",
]
