"""The models, one module per domain. Importing this package registers every table."""
from app.models.api_keys import API_KEY_SCOPES, AiActionLog, ApiKey, AssistantTurn
from app.models.bookings import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    HOLDING_STATUSES,
    Booking,
    BookingAudit,
)
from app.models.calendars import Calendar, CalendarConnection, CalendarOAuthState
from app.models.catalog import (
    AppointmentType,
    BookingLink,
    LinkBranding,
    booking_link_appointment_types,
    booking_link_staff,
)
from app.models.classes import ClassAudit, ClassBooking, ClassSeries, ClassSession, ClassType
from app.models.clients import Client
from app.models.notifications import Notification, NotificationOptOut
from app.models.organizations import Organization
from app.models.scheduling import (
    AvailabilityOverride,
    AvailabilityRule,
    Holiday,
    holiday_staff,
)
from app.models.staff import User

__all__ = [
    "ACTIVE_STATUSES",
    "API_KEY_SCOPES",
    "AiActionLog",
    "ApiKey",
    "AssistantTurn",
    "AppointmentType",
    "AvailabilityOverride",
    "AvailabilityRule",
    "Booking",
    "BookingAudit",
    "BookingLink",
    "Calendar",
    "CalendarConnection",
    "CalendarOAuthState",
    "ClassAudit",
    "ClassBooking",
    "ClassSeries",
    "ClassSession",
    "ClassType",
    "Client",
    "FINISHED_STATUSES",
    "HOLDING_STATUSES",
    "Holiday",
    "LinkBranding",
    "Notification",
    "NotificationOptOut",
    "Organization",
    "User",
    "booking_link_appointment_types",
    "booking_link_staff",
    "holiday_staff",
]
