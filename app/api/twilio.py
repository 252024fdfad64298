"""Twilio webhooks: delivery status callbacks and inbound messages (STOP / START / HELP, and the rest).

Every request must carry a valid X-Twilio-Signature (HMAC of the URL Twilio called and the form
fields, keyed by TWILIO_AUTH_TOKEN); anything else is refused with 403 before it is read.
"""
from __future__ import annotations

from flask import Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from app.api.blueprint import bp
from app.services import notifications

# Twilio's keywords (its defaults, and Advanced Opt-Out's). A keyword counts only when it is the whole
# message, as Twilio counts it: "Cancel my 10am please" is a person writing to us, not an opt-out.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

# Replies, each one GSM-7 segment (<= 160 GSM characters). Ours to STOP/START/HELP go only when Twilio
# does not answer them itself (TWILIO_ADVANCED_OPT_OUT); the pointer answers any other text, the same
# whoever sent it: an inbound number proves nothing, so it is never told about a booking.
HELP_TEXT = ("Atlas Booking: texts about bookings at your gym. Reply STOP to stop texts, START to get them "
             "again. To change a booking use the link in your confirmation.")
STOP_TEXT = "Atlas Booking: you will get no more texts from this number. Reply START to get them again."
START_TEXT = "Atlas Booking: texts from this number are back on. Reply STOP to stop them, HELP for help."
POINTER_TEXT = ("Atlas Booking: replies to this number are not read. To change or cancel a booking, use the "
                "link in your booking confirmation. Reply STOP to stop texts.")


def sms_keyword(body: str) -> str | None:
    """The keyword the message is ("stop", "start" or "help"): only when the whole body is one of
    Twilio's keywords, in any case, with any surrounding space or a trailing "." or "!". Else None."""
    word = body.strip().rstrip(".!").strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


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
    """An SMS sent to our number. A message that is exactly STOP (or another opt-out keyword) opts the
    sender out, START back in; Twilio answers those and HELP itself unless TWILIO_ADVANCED_OPT_OUT says
    we do. Any other text gets the one fixed pointer to the manage link."""
    if not _signature_ok():
        abort(403, description="The request signature is not valid.")
    number = (request.form.get("From") or "").strip()
    if not number:
        abort(400, description="From is required.")
    keyword = sms_keyword(request.form.get("Body") or "")
    if keyword == "stop":
        notifications.record_sms_opt_out(number, "sms_stop")
    elif keyword == "start":
        notifications.record_sms_opt_in(number)
    if keyword is None:
        text = POINTER_TEXT
    elif current_app.config["TWILIO_ADVANCED_OPT_OUT"]:
        text = {"stop": STOP_TEXT, "start": START_TEXT, "help": HELP_TEXT}[keyword]
    else:
        return _twiml()  # Twilio has answered the keyword already: a second reply would be a duplicate
    reply = MessagingResponse()
    reply.message(text)
    return _twiml(reply)
