"""Notifications: the outbox of emails and SMS (the `notifications` table), and everything that
empties it.

What the package promises (docs/notifications.md has the long form):

* Rows are written in the booking's own transaction: a booking and its messages exist together or
  not at all, and making a booking never talks to Redis or a provider.
* Each row is sent by whoever claims it, and handed to a provider at most once per claim; a row is
  claimed again only when the previous claim provably never handed it over, or the provider
  (Twilio, the file outbox) provably does not have it, or Twilio reports the carrier could not
  deliver it (for a passing reason, at most twice), or a person presses Retry.
* Failures retry with backoff while the message is useful, or fail for good with a reason a person
  can read; a number that cannot take SMS is not texted again.
* Messages are rendered at send time and never stale: reminders follow the booking, and never
  reach a phone inside the organization's quiet hours (app/services/quiet_hours.py).
* Opt-outs are honoured: SMS STOP for every organization, the unsubscribe link for reminder emails.

What it exports (code outside the package imports these names from here, and nothing else):

* scheduling, called by the booking service inside its transaction: `schedule_booking_created`,
  `schedule_booking_rescheduled`, `schedule_booking_cancelled`; and `schedule_staff_message`, an
  email to a member of staff about no booking (calendar sync trouble);
* delivery, for the dispatcher, the RQ jobs and the cron endpoint: `process_due`, `deliver`,
  `recover_expired`, `purge_expired`, `take_due_for_queue`, `release_queued`;
* the outbox page and health: `outbox_page`, `failed_for_booking`, `get_notification`,
  `retry_notification`, `outbox_file`, `queue_health`, `check_limit`;
* opt-outs: `unsubscribe_email`, `read_unsubscribe_token`, `record_sms_opt_out`,
  `record_sms_opt_in`, `record_sms_status`.

Inside, one module per concern (each imports the others directly, never through this file):
scheduling (rows a booking change writes), claims (claiming, and writes fenced by a claim),
class_messages (rows a change of a spot in a class writes), reminder_settings (every reminder
following a change of the settings), delivery (passes over due rows: check, render, send), sending
(one row to its provider),
recovery (rows whose sender died), messages (kinds, rendering, time text, an SMS fitted into one
segment), gsm (the GSM-7 alphabet: SMS length, transliteration), opt_outs (opt-outs,
unsubscribe tokens, the sealed manage token), sms_status (Twilio's status callbacks: delivered,
undelivered), outbox (the page and health queries), retention (purging old rows), clock (utcnow).
"""
from app.services.notifications.claims import release_queued, take_due_for_queue
from app.services.notifications.delivery import deliver, process_due
from app.services.notifications.opt_outs import (
    read_unsubscribe_token,
    record_sms_opt_in,
    record_sms_opt_out,
    unsubscribe_email,
)
from app.services.notifications.outbox import (
    MAX_PROCESS_LIMIT,
    check_limit,
    failed_for_booking,
    get_notification,
    outbox_file,
    outbox_page,
    queue_health,
    retry_notification,
)
from app.services.notifications.recovery import recover_expired
from app.services.notifications.reminder_settings import reminder_settings_changed
from app.services.notifications.retention import purge_expired
from app.services.notifications.scheduling import (
    schedule_booking_cancelled,
    schedule_booking_created,
    schedule_booking_rescheduled,
    schedule_staff_message,
)
from app.services.notifications.sms_status import record_sms_status

__all__ = [
    "MAX_PROCESS_LIMIT", "check_limit", "deliver", "failed_for_booking", "get_notification", "outbox_file",
    "outbox_page", "process_due", "purge_expired", "queue_health",
    "read_unsubscribe_token", "record_sms_opt_in", "record_sms_opt_out", "record_sms_status", "recover_expired",
    "release_queued", "reminder_settings_changed", "retry_notification", "schedule_booking_cancelled",
    "schedule_booking_created", "schedule_booking_rescheduled", "schedule_staff_message", "take_due_for_queue", "unsubscribe_email",
]
