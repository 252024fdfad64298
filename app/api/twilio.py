"""Twilio webhooks: delivery status callbacks and inbound messages (STOP / START / HELP).

Every request must carry a valid X-Twilio-Signature (HMAC of the URL Twilio called and the form
fields, keyed by TWILIO_AUTH_TOKEN); anything else is refused with 403 before it is read.
"""
from __future__ import annotations

from flask import Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from app.api.blueprint import bp
from app.services import notifications

# Twilio's own opt-out keywords (Advanced Opt-Out defaults), upper-cased, first word of the message.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
START_WORDS = {"START", "YES", "UNSTOP", "OPTIN"}
HELP_WORDS = {"HELP", "INFO"}
HELP_TEXT = ("Atlas Booking: booking confirmations and reminders from your gym. Reply STOP to stop texts, "
             "START to get them again. To change a booking use the link in your confirmation email.")


def _signature_ok() -> bool:
    token = current_app.config["TWILIO_AUTH_TOKEN"]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    validator = RequestValidator(token)
    params = request.form.to_dict(flat=True)
    # Twilio signs the URL it called: the public address (APP_URL) behind a proxy, or the URL this
    # server saw when it is reached directly.
    query = request.query_string.decode()
    public = current_app.config["APP_URL"] + request.path + (f"?{query}" if query else "")
    return any(validator.validate(url, params, signature) for url in dict.fromkeys((public, request.url)))


def _twiml(response: MessagingResponse | None = None) -> Response:
    return Response(str(response or MessagingResponse()), mimetype="application/xml")


@bp.post("/twilio/status")
def twilio_status():
    """Status callback of a message we sent: remember queued/sent/delivered/undelivered/failed."""
    if not _signature_ok():
        abort(403, description="The request signature is not valid.")
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    status = request.form.get("MessageStatus") or request.form.get("SmsStatus") or ""
    if not sid or not status:
        abort(400, description="MessageSid and MessageStatus are required.")
    notifications.record_sms_status(sid, status, request.form.get("ErrorCode") or None)
    return "", 204


@bp.post("/twilio/inbound")
def twilio_inbound():
    """An SMS sent to our number: STOP opts the sender out, START back in, HELP gets the help text."""
    if not _signature_ok():
        abort(403, description="The request signature is not valid.")
    number = (request.form.get("From") or "").strip()
    words = (request.form.get("Body") or "").strip().upper().split()
    keyword = words[0].strip(".!") if words else ""
    if not number:
        abort(400, description="From is required.")
    if keyword in STOP_WORDS:
        # Twilio sends its own STOP confirmation; answering too would text someone who said stop.
        notifications.record_sms_opt_out(number, "sms_stop")
        return _twiml()
    if keyword in START_WORDS:
        notifications.record_sms_opt_in(number)
        return _twiml()
    if keyword in HELP_WORDS:
        reply = MessagingResponse()
        reply.message(HELP_TEXT)
        return _twiml(reply)
    return _twiml()
