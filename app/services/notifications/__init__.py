"""Notifications: the outbox of emails and SMS, and everything that empties it.

Promises (docs/notifications.md has the long form): messages are written in the booking's own
transaction; each is sent by whoever claims it, at most once after it was handed to a provider;
failures retry with backoff or fail for good with a reason; reminders follow the booking.

Exported for the rest of the portal (other modules of this package are its own business):
scheduling (`schedule_booking_*`, called by the booking service inside its transaction), delivery
(`process_due`, `deliver`, `recover_expired`, `take_due_for_queue`, `release_queued`), the outbox
page (`outbox_page`, `get_notification`, `retry_notification`, `outbox_file`, `queue_health`,
`check_limit`) and opt-outs (`unsubscribe_email`, `read_unsubscribe_token`, `record_sms_*`).
"""
from app.services.notifications.outbox import (
    check_limit,
    deliver,
    get_notification,
    outbox_file,
    outbox_page,
    process_due,
    queue_health,
    read_unsubscribe_token,
    record_sms_opt_in,
    record_sms_opt_out,
    record_sms_status,
    recover_expired,
    release_queued,
    retry_notification,
    schedule_booking_cancelled,
    schedule_booking_created,
    schedule_booking_rescheduled,
    take_due_for_queue,
    unsubscribe_email,
)

__all__ = [
    "check_limit", "deliver", "get_notification", "outbox_file", "outbox_page", "process_due", "queue_health",
    "read_unsubscribe_token", "record_sms_opt_in", "record_sms_opt_out", "record_sms_status", "recover_expired",
    "release_queued", "retry_notification", "schedule_booking_cancelled", "schedule_booking_created",
    "schedule_booking_rescheduled", "take_due_for_queue", "unsubscribe_email",
]
