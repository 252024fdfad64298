"""Forms of the dashboard (Flask-WTF: every POST form carries a CSRF token; GET filters do not)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    ColorField,
    DateField,
    DecimalField,
    EmailField,
    HiddenField,
    IntegerField,
    SearchField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import AttendeeChecks
from app.services.phones import region_choices
from app.services.scheduling.schedules import DAY_NAMES, DISPLAY_DAY_ORDER


class FiniteDecimalField(DecimalField):
    """A DecimalField that refuses what is not a number people write: nan, inf, sNaN, 1e400."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


DAY_CHOICES = choices((day, DAY_NAMES[day]) for day in DISPLAY_DAY_ORDER)
OVERRIDE_CHOICES = choices([("day_off", "Whole day off"), ("time_off", "Time off (part of the day)"),
                    ("extra", "Extra hours"), ("replace", "Different hours that day")])
STATUS_CHOICES = choices([("", "Any status"), ("pending", "Pending"), ("confirmed", "Confirmed"), ("completed", "Completed"),
                  ("no_show", "No-show"), ("cancelled", "Cancelled")])
WHEN_CHOICES = choices([("upcoming", "Upcoming"), ("past", "Past"), ("all", "All dates")])
ROLE_CHOICES = choices([("staff", "Staff (trainer)"), ("admin", "Admin"), ("owner", "Owner")])
LINK_TYPE_CHOICES = choices([("individual", "One trainer"), ("round_robin", "Team: whoever is free (round robin)"),
                     ("collective", "Team: everyone together (collective)")])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- availability --------------------------------------------------------------------------------

class RuleForm(FlaskForm):
    day_of_week = SelectField("Day", choices=DAY_CHOICES, coerce=int)
    start_time = TimeField("From", validators=[InputRequired("Give a start time.")])
    end_time = TimeField("Until", validators=[InputRequired("Give an end time.")])
    trainer = HiddenField()


class OverrideForm(FlaskForm):
    date = DateField("Date", validators=[InputRequired("Choose a date.")])
    kind = SelectField("Change", choices=OVERRIDE_CHOICES)
    start_time = TimeField("From", validators=[Optional()])
    end_time = TimeField("Until", validators=[Optional()])
    reason = StringField("Note (optional)", validators=[Optional(), Length(max=200)])
    trainer = HiddenField()


class HolidayForm(FlaskForm):
    name = StringField("Holiday", validators=[DataRequired("Name the holiday."), Length(max=200)])
    date = DateField("Date", validators=[InputRequired("Choose a date.")])
    trainer = HiddenField()


# --- bookings ------------------------------------------------------------------------------------

class BookingFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search: nothing changes

    q = SearchField("Attendee", validators=[Optional(), Length(max=100)],
                    render_kw={"placeholder": "Name or email", "autocomplete": "off"})
    status = SelectField("Status", choices=STATUS_CHOICES, validators=[Optional()])
    trainer = SelectField("Trainer", choices=choices([("", "All trainers")]), validators=[Optional()], validate_choice=False)
    when = SelectField("When", choices=WHEN_CHOICES, default="upcoming", validators=[Optional()])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])


class CancelForm(FlaskForm):
    reason = TextAreaField("Reason (optional)", validators=[Optional(), Length(max=500)],
                           description="Kept in the audit trail.", render_kw={"rows": 2})
    # "yes" only from the confirmation (page or dialog): a POST without it asks instead of acting.
    confirm = HiddenField()


class StatusForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])


class RescheduleForm(FlaskForm):
    start = HiddenField(validators=[DataRequired("Choose a new time.")])
    staff_id = HiddenField()
    confirm = HiddenField()  # as CancelForm's


# --- services and booking pages -------------------------------------------------------------------

class AppointmentTypeForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Name the service."), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})
    duration_minutes = IntegerField("Length (minutes)", validators=[InputRequired("How long does it last?"),
                                                                    NumberRange(5, 1440)])
    price = FiniteDecimalField("Price", places=2, validators=[Optional(), NumberRange(0, 100000)],
                         description="Leave empty or 0 for free.")
    currency = SelectField("Currency", choices=choices([("GBP", "GBP (£)"), ("EUR", "EUR (€)"), ("USD", "USD ($)")]))
    buffer_before_minutes = IntegerField("Buffer before (minutes)", default=0, validators=[Optional(), NumberRange(0, 720)])
    buffer_after_minutes = IntegerField("Buffer after (minutes)", default=0, validators=[Optional(), NumberRange(0, 720)],
                                        description="Time kept free after each session (cleaning, notes).")
    min_notice_minutes = IntegerField("Minimum notice (minutes)", default=60, validators=[Optional(), NumberRange(0, 129600)])
    booking_window_days = IntegerField("Bookable up to (days ahead)", validators=[Optional(), NumberRange(1, 730)],
                                       description="Empty: no limit.")
    slot_interval_minutes = IntegerField("Start times every (minutes)", validators=[Optional(), NumberRange(5, 1440)],
                                         description="Empty: every session length.")
    max_per_day = IntegerField("At most per trainer per day", validators=[Optional(), NumberRange(1, 100)],
                               description="Empty: no limit.")
    location = StringField("Location", validators=[Optional(), Length(max=300)])
    color = ColorField("Calendar colour", default="#1f4fd1", validators=[Optional()])


class LinkForm(FlaskForm):
    name = StringField("Page title", validators=[DataRequired("Give the page a title."), Length(max=200)])
    slug = StringField("Address", validators=[DataRequired("Choose the page's address."), Length(max=80)],
                       description="Lower-case letters, digits and hyphens: /book/<address>.",
                       render_kw={"spellcheck": "false", "autocapitalize": "off"})
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    type = SelectField("Who takes the bookings", choices=LINK_TYPE_CHOICES)
    is_public = BooleanField("Public", default=True,
                             description="Customers can open and book this page. Unticked, the page is private: its address shows \"not found\" and it takes no bookings.")
    staff_ids = MultiCheckboxField("Trainers", choices=[], validate_choice=False)
    appointment_type_ids = MultiCheckboxField("Services", choices=[], validate_choice=False)


class BrandingForm(FlaskForm):
    logo_url = URLField("Logo address", validators=[Optional(), Length(max=500)],
                        description="An https:// image address. Empty: the gym's initial.")
    primary_color = ColorField("Main colour", validators=[Optional()])
    accent_color = ColorField("Accent colour", validators=[Optional()])
    welcome_text = TextAreaField("Welcome text", validators=[Optional(), Length(max=1000)], render_kw={"rows": 3})


class ActiveForm(FlaskForm):
    active = HiddenField(validators=[DataRequired()])


# --- team and settings ---------------------------------------------------------------------------

class TeamAddForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter their name."), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired("Enter their email."), Length(max=254)],
                       description="They get an email with a link to choose a password.")
    role = SelectField("Role", choices=ROLE_CHOICES, default="staff")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


QUIET_MODES = choices([("sms", "Hold text reminders"), ("all", "Hold text and email reminders"), ("off", "No quiet hours")])


class SettingsForm(FlaskForm):
    name = StringField("Gym name", validators=[DataRequired("Enter the gym's name."), Length(max=200)])
    # A list of the canonical zones (app/services/zones.py), grouped by area; with JavaScript it
    # becomes a text input searching the same list (<datalist id="zones">). Checked by the service,
    # which suggests a zone for a name that is none ("London": Europe/London).
    timezone = SelectField("Time zone", choices=[], validate_choice=False,
                           validators=[DataRequired("Choose a time zone.")],
                           description="Calendars and booking pages use it. Type a city or a country to find it.",
                           render_kw={"data-zone-search": "zones"})
    # The gym's identity (app/services/identity.py), each checked by the service so that every
    # problem is reported at once. A POST without one of them leaves it as it is.
    contact_email = EmailField("Contact email", description="Customers' replies to emails come here; "
                                                            "it is shown on your booking pages.")
    phone = StringField("Phone", description="Shown on your booking pages and in emails.",
                        render_kw={"autocomplete": "tel"})
    postal_address = TextAreaField("Postal address", render_kw={"rows": 3, "autocomplete": "street-address"},
                                   description="Shown on your booking pages and in emails, and used as the "
                                               "location of bookings that name no other place.")
    logo = FileField("Logo", description="A PNG, JPEG or WebP image of at most 512 KB. Shown on your booking "
                                         "pages, in the dashboard and in emails.",
                     render_kw={"accept": "image/png,image/jpeg,image/webp"})
    remove_logo = BooleanField("Remove the logo")
    cancellation_cutoff_hours = FiniteDecimalField("Cancellation cutoff (hours)", places=2,
                                             validators=[InputRequired("Enter a number of hours."), NumberRange(0, 336)],
                                             description="Customers can't cancel or move a booking online this close to its start.")
    # Classes (app/services/classes/views.py checks them too). A POST without them leaves them as they are.
    class_waitlist_cutoff_hours = FiniteDecimalField(
        "Class waitlist cutoff (hours)", places=2, validators=[Optional(), NumberRange(0, 168)],
        description="Nobody is moved up from a class's waitlist this close to its start; the place stays open.")
    class_late_cancel_hours = FiniteDecimalField(
        "Class late-cancel window (hours)", places=2, validators=[Optional(), NumberRange(0, 168)],
        description="A class spot given up this close to the start is recorded as a late cancellation.")
    # Checked by the service (a value that is not a country gets its message there); a POST without it
    # leaves the setting as it is.
    phone_region = SelectField("Country of customers' phone numbers", choices=region_choices, validate_choice=False,
                               description="A number typed without its country code is read as this country's. "
                                           "The booking form starts with it; customers can choose another.")
    reminder_offsets = StringField("Reminders before the start", validators=[Optional(), Length(max=100)],
                                   description="Comma-separated, e.g. 24h, 2h (m = minutes, h = hours, d = days).")
    # Quiet hours (app/services/quiet_hours.py). A POST without `quiet_mode` leaves them as they are.
    quiet_mode = SelectField("Reminders held", choices=QUIET_MODES, validate_choice=False,
                             description="No reminder reaches a customer in these hours, in their own time "
                                         "zone: it goes just before or just after them. Confirmations are never held.")
    quiet_start = TimeField("Quiet from", validators=[Optional()])
    quiet_end = TimeField("Quiet until", validators=[Optional()])
    frame_origins = TextAreaField("Websites that may embed your booking pages", validators=[Optional(), Length(max=1000)],
                                  description="One per line, e.g. https://www.yourgym.com. Leave empty if you "
                                              "link to the booking pages rather than embed them.")


# --- clients -------------------------------------------------------------------------------------

class ClientSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search: nothing changes

    q = SearchField("Search clients", validators=[Optional(), Length(max=100)],
                    render_kw={"placeholder": "Name, email or phone", "autocomplete": "off"})


class ClientForm(FlaskForm):
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)], render_kw={"rows": 6},
                          description="For the gym's staff only: the client never sees them.")
    marketing_email_opt_out = BooleanField("No marketing emails")
    marketing_sms_opt_out = BooleanField("No marketing texts",
                                         description="Booking confirmations and reminders are not marketing: they "
                                                     "follow the client's own unsubscribe and STOP replies.")


# --- a new booking (staff) -------------------------------------------------------------------------

class NewBookingForm(AttendeeChecks, FlaskForm):
    """Staff booking a client: who, what, with whom, when. The submit button's `action` says whether
    the POST books or only shows the free times of the chosen service, trainer and day (the page
    without JavaScript)."""

    client_id = HiddenField()  # the client picked from the list (display only: clients are found by email)
    name = StringField("Client's name", validators=[InputRequired("Enter the client's name.")],
                       render_kw={"autocomplete": "off"})
    email = EmailField("Email", validators=[InputRequired("Enter the client's email address.")],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})
    phone = StringField("Phone (optional)", validators=[Optional()], render_kw={"autocomplete": "off"},
                        description="For text confirmations and reminders.")
    phone_country = SelectField("Phone's country", choices=region_choices, validate_choice=False)
    service = SelectField("Service", validate_choice=True)
    trainer = SelectField("Trainer", validate_choice=True)
    date = DateField("Day", validators=[InputRequired("Choose a day.")])
    start = HiddenField()  # the chosen free time (radios of the same name), ISO with offset
    outside_hours = BooleanField("Book outside the trainer's working hours",
                                 description="Owners and admins only: the time must still be clear of the trainer's "
                                             "other bookings. Recorded in the booking's history.")
    at_time = TimeField("At", validators=[Optional()])
    notes = TextAreaField("Notes for the trainer (optional)", validators=[Optional(), Length(max=2000)],
                          render_kw={"rows": 2})
    notify = BooleanField("Send the client a confirmation and reminders", default=True)
    idempotency_key = HiddenField(validators=[Length(max=64)])

    # Field names of the booking service → fields of this form, for errors it reports.
    SERVICE_FIELDS = {"attendee_name": "name", "attendee_email": "email", "attendee_phone": "phone",
                      "attendee_phone_country": "phone_country", "description": "notes", "start_time": "start",
                      "end_time": "start", "appointment_type_id": "service", "staff_id": "trainer",
                      "outside_hours": "outside_hours"}

    def __init__(self, *args, phone_region: str = "GB", **kwargs):
        super().__init__(*args, **kwargs)
        self.phone_region = phone_region


# --- group classes -------------------------------------------------------------------------------

WEEKDAY_CHOICES = choices((str(day), DAY_NAMES[day]) for day in DISPLAY_DAY_ORDER)
BOOKED_CHOICES = choices([("keep", "Keep them as they are"), ("change", "Change them too (everyone in them is told)")])
ATTENDANCE_CHOICES = choices([("attended", "Checked in"), ("no_show", "No-show"), ("confirmed", "Booked")])


class ClassTypeForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Name the class."), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)], render_kw={"rows": 3})
    duration_minutes = IntegerField("Length (minutes)", default=45,
                                    validators=[InputRequired("How long does it last?"), NumberRange(5, 1440)])
    capacity = IntegerField("Places", default=20, validators=[InputRequired("How many people fit?"),
                                                               NumberRange(1, 1000)])
    price = FiniteDecimalField("Price", places=2, validators=[Optional(), NumberRange(0, 100000)],
                               description="Leave empty or 0 for free.")
    color = ColorField("Timetable colour", default="#2563eb", validators=[Optional()])
    default_instructor_id = SelectField("Usual instructor", choices=[], validate_choice=False, validators=[Optional()])
    location = StringField("Location", validators=[Optional(), Length(max=200)], description="A studio or a room.")
    is_active = BooleanField("Active", default=True, description="Inactive classes can't be added to the timetable.")


class SeriesForm(FlaskForm):
    """A weekly timetable entry. `skip_clashes` and `booked` are set by the answers to the questions
    a first POST may raise (the instructor's clashes; sessions people have booked)."""

    class_type_id = SelectField("Class", choices=[], validate_choice=False,
                                validators=[DataRequired("Choose a class.")])
    instructor_id = SelectField("Instructor", choices=[], validate_choice=False,
                                validators=[DataRequired("Choose an instructor.")])
    weekdays = MultiCheckboxField("Days", choices=WEEKDAY_CHOICES, validators=[DataRequired("Choose at least one day.")])
    start_time = TimeField("Starts at", validators=[InputRequired("Give a start time.")])
    capacity = IntegerField("Places", validators=[Optional(), NumberRange(1, 1000)],
                            description="Empty: the class's usual number.")
    first_date = DateField("From", validators=[InputRequired("Choose the first date.")])
    last_date = DateField("Until", validators=[Optional()], description="Empty: until it is ended.")
    skip_clashes = HiddenField()
    booked = HiddenField()


class EndSeriesForm(FlaskForm):
    booked = HiddenField()
    confirm = HiddenField()


class SessionForm(FlaskForm):
    """A one-off session."""

    class_type_id = SelectField("Class", choices=[], validate_choice=False,
                                validators=[DataRequired("Choose a class.")])
    instructor_id = SelectField("Instructor", choices=[], validate_choice=False,
                                validators=[DataRequired("Choose an instructor.")])
    day = DateField("Date", validators=[InputRequired("Choose a date.")])
    start_time = TimeField("Starts at", validators=[InputRequired("Give a start time.")])
    capacity = IntegerField("Places", validators=[Optional(), NumberRange(1, 1000)],
                            description="Empty: the class's usual number.")


class SessionChangeForm(FlaskForm):
    """One session on its own: a substitute instructor, another date or time, places, place."""

    instructor_id = SelectField("Instructor", choices=[], validate_choice=False,
                                validators=[DataRequired("Choose an instructor.")])
    day = DateField("Date", validators=[InputRequired("Choose a date.")])
    start_time = TimeField("Starts at", validators=[InputRequired("Give a start time.")])
    capacity = IntegerField("Places", validators=[InputRequired("How many places?"), NumberRange(1, 1000)])
    location = StringField("Location", validators=[Optional(), Length(max=200)])


class SessionCancelForm(FlaskForm):
    reason = TextAreaField("Reason (optional)", validators=[Optional(), Length(max=500)], render_kw={"rows": 2},
                           description="Included in the message to everyone booked or waiting.")
    confirm = HiddenField()


class RosterAddForm(AttendeeChecks, FlaskForm):
    """Staff adding someone to a session: a client picked from the list fills these fields."""

    name = StringField("Name", validators=[InputRequired("Enter the person's name.")],
                       render_kw={"autocomplete": "off"})
    email = EmailField("Email", validators=[InputRequired("Enter their email.")], render_kw={"autocomplete": "off"})
    phone = StringField("Phone", validators=[Optional()], render_kw={"autocomplete": "off"})
    phone_country = HiddenField()
    join_waitlist = BooleanField("Put them on the waitlist if the class is full")

    def __init__(self, *args, phone_region: str = "GB", **kwargs):
        super().__init__(*args, **kwargs)
        self.phone_region = phone_region


class AttendanceForm(FlaskForm):
    status = SelectField("Attendance", choices=ATTENDANCE_CHOICES)


class RemoveSpotForm(FlaskForm):
    reason = TextAreaField("Reason (optional)", validators=[Optional(), Length(max=500)], render_kw={"rows": 2})
    confirm = HiddenField()
