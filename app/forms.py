"""Form pieces the blueprints share: a customer's details checked by the booking service's own rules.

The public booking form and the dashboard's New booking both ask for a name, an email and a phone
number with its country. Each field is checked by the rule create_booking applies (normalise_name,
normalise_email, normalise_phone, require_region) as a WTForms inline validator, so every field's
mistake is reported in the same pass and the form never accepts what the service would refuse.
"""
from __future__ import annotations

from wtforms.validators import ValidationError

from app.services.bookings import normalise_email, normalise_name, normalise_phone
from app.services.errors import InvalidRequest
from app.services.phones import require_region


def service_check(rule, *args, **kwargs) -> None:
    """Run one of the booking service's rules; its refusal becomes the field's error."""
    try:
        rule(*args, **kwargs)
    except InvalidRequest as exc:
        raise ValidationError(exc.message) from None


class AttendeeChecks:
    """Inline validators for a form's `name`, `email`, `phone` and `phone_country` fields; the form
    sets `phone_region` (the gym's country, for a number written without its code)."""

    phone_region: str

    def validate_name(self, field):
        service_check(normalise_name, field.data)

    def validate_email(self, field):
        service_check(normalise_email, field.data)

    def validate_phone(self, field):
        try:
            normalise_phone(field.data, self.phone_country.data or self.phone_region)
        except InvalidRequest as exc:
            if "attendee_phone_country" not in (exc.fields or {}):  # the country's own field says that
                raise ValidationError(exc.message) from None

    def validate_phone_country(self, field):
        # normalise_phone's first check, reported on this field even when no number was given.
        service_check(require_region, field.data or self.phone_region, field="attendee_phone_country")
