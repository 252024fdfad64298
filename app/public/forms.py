"""Forms of the public pages (Flask-WTF: every one carries a CSRF token).

The booking form checks the customer's details with the booking service's own rules (normalise_name,
normalise_email, normalise_phone: one home for each), as validators of their fields, so every
mistake is reported at once on the form instead of one after another as they are put right.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.forms import AttendeeChecks
from app.services.bookings import normalise_email
from app.services.errors import InvalidRequest
from app.services.phones import DEFAULT_REGION, region_choices


class AttendeeDetailsForm(AttendeeChecks, FlaskForm):
    """Who is coming: name, email, and an optional phone number with its country — asked the same way
    on the appointment form and a class's booking form, and checked by the same rules."""

    name = StringField("Your name", validators=[DataRequired("Please tell us your name.")],
                       render_kw={"autocomplete": "name"})
    email = EmailField("Email", validators=[DataRequired("We need an email address to send your confirmation.")],
                       render_kw={"autocomplete": "email", "spellcheck": "false"})
    # The number and the country it is read in (the gym's, until the visitor chooses): a number without
    # its country code is never read as another country's (normalise_phone refuses it instead).
    phone = TelField("Number", validators=[Optional()],
                     description="For a text reminder. Choose the number's country, or start with + and the "
                                 "country code.",
                     render_kw={"autocomplete": "tel"})
    phone_country = SelectField("Country", choices=region_choices, validate_choice=False)

    def __init__(self, *args, phone_region: str = DEFAULT_REGION, **kwargs):
        super().__init__(*args, **kwargs)
        # The country a number without its code is read in when the visitor chose none: the gym's.
        self.phone_region = phone_region

    # Name, phone and country: AttendeeChecks (the service's own rules, every field in one pass). The
    # email's refusal is worded for a visitor.
    def validate_email(self, field):
        try:
            normalise_email(field.data)
        except InvalidRequest as exc:
            detail = (exc.fields or {}).get("attendee_email", "")
            raise ValidationError(f"That doesn't look like an email address. {detail}".strip()) from None


class BookingDetailsForm(AttendeeDetailsForm):
    """Who is coming to an appointment. The chosen slot travels in hidden fields so the POST stands on its own."""

    notes = TextAreaField("Anything we should know? (optional)", validators=[Optional(), Length(max=2000)],
                          description="Injuries, goals, or questions for your trainer.", render_kw={"rows": 3})
    # "<start ISO UTC>|<staff id>": the alternatives offered after a lost race are radios of the same name.
    slot = HiddenField(validators=[DataRequired("Please choose a time.")])
    appointment_type = HiddenField()
    timezone = HiddenField()
    # One per rendering of the form: a double submit books once (the service's idempotency key).
    idempotency_key = HiddenField(validators=[Length(max=64)])

    # Field names of the booking service → fields of this form, for errors it reports.
    SERVICE_FIELDS = {"attendee_name": "name", "attendee_email": "email", "attendee_phone": "phone",
                      "attendee_phone_country": "phone_country",
                      "description": "notes", "start_time": "slot", "end_time": "slot"}


class ClassSpotForm(AttendeeDetailsForm):
    """Who is taking a spot in a class. `join_waitlist` is set ("1") by the form offered when the class
    is full, so nobody lands on a waitlist without having been told the class is full."""

    join_waitlist = HiddenField()

    SERVICE_FIELDS = {"attendee_name": "name", "attendee_email": "email", "attendee_phone": "phone",
                      "attendee_phone_country": "phone_country"}

    @property
    def wants_waitlist(self) -> bool:
        return self.join_waitlist.data == "1"


class RescheduleForm(FlaskForm):
    slot = HiddenField(validators=[DataRequired("Please choose a time.")])


class CancelForm(FlaskForm):
    reason = TextAreaField("Reason (optional)", validators=[Optional(), Length(max=500)],
                           description="It helps the gym, but you don't have to say.", render_kw={"rows": 3})
