"""The API's contract, fuzzed: schemathesis runs every operation of /api/openapi.json against the app.

For every generated request, valid by the document (positive) or not (negative): no 5xx, the status is
one the document lists for the operation, and the body and headers conform to the documented answer.
Requests are made with the credentials each operation needs (an API key, the admin key, a signed
Twilio form) and, for some of the examples, with the seeded gym's real slugs, ids and tokens, so
the fuzzer gets past "not found" into booking, rescheduling and cancelling.

The number of examples per operation and the seed are fixed (CONTRACT_EXAMPLES overrides the number):
a run is repeatable and bounded for CI.
"""
from __future__ import annotations

import os
from collections.abc import MutableMapping
from datetime import datetime, timedelta, timezone

import pytest
import schemathesis
import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from twilio.request_validator import RequestValidator

from app.services import api_keys
from app.services.bookings import Actor, create_booking
from app.services.calendar.access import digest
from app.services.demo import seed_demo
from app.services.notifications.opt_outs import unsubscribe_link
from app.services.scheduling import search_slots

ADMIN_KEY = "contract-admin-key-0123456789abcdef"
TWILIO_TOKEN = "contract-twilio-auth-token"
CHANNEL_ID, CHANNEL_TOKEN = "contract-channel", "contract-channel-token"
NOW = datetime(2030, 1, 8, 9, 30, tzinfo=timezone.utc)  # a Tuesday: the demo gym is open
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "30"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection, missing_required_header]
STATS: dict = {"operations": set(), "examples": 0, "statuses": {}, "by_operation": {}}


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def app_config(app_config):
    return dict(app_config, ADMIN_API_KEY=ADMIN_KEY, TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_ACCOUNT_SID="AC" + "0" * 32)


@pytest.fixture
def gym(app, db):
    """The demo gym, an API key with every scope, and a booking with a known manage token."""
    seed_demo(today=NOW.date())
    from sqlalchemy import select

    from app.models import BookingLink, Calendar, CalendarConnection, Organization, User

    org = db.session.scalars(select(Organization).filter_by(slug="atlas-fitness")).one()
    key = api_keys.create_api_key(org.id, name="contract", scopes=list(api_keys.API_KEY_SCOPES)).token
    # The demo's two team pages (a free consultation, personal training with any coach) and their
    # services: real values drawn from them fit together often enough to book, move and cancel.
    # (links[0], the consultation, takes the booking the manage operations act on.)
    links = [db.session.scalars(select(BookingLink).filter_by(slug=slug)).one()
             for slug in ("gym-consultation", "personal-training-any-coach")]
    types = [atype for link in links for atype in link.appointment_types]
    staff = db.session.scalars(select(User).filter_by(organization_id=org.id)).all()
    unsubscribe = unsubscribe_link(org.id, "contract@example.com").rsplit("/", 1)[-1]
    # A trainer's Google calendar with an open push channel, for the webhook.
    connection = CalendarConnection(organization_id=org.id, user_id=staff[0].id, account_email="t@example.com")
    db.session.add(Calendar(connection=connection, organization_id=org.id, user_id=staff[0].id,
                            external_id="primary", name="Trainer", channel_id=CHANNEL_ID,
                            channel_token_hash=digest(CHANNEL_TOKEN), channel_resource_id="contract-resource"))
    db.session.commit()
    booked = create_booking(link_slug=links[0].slug, start_time=NOW + timedelta(days=1, hours=1, minutes=30),
                            attendee_name="Contract Test", attendee_email="contract@example.com",
                            actor=Actor(type="system"), source="api")
    days = [(NOW.date() + timedelta(days=n)).isoformat() for n in range(0, 8)]
    # Times really free over the coming week (the gym keeps a gym's hours, not nine to five): those the
    # booked trainer could move the booking to, which the consultation page also books.
    offered = search_slots(link_slug=links[0].slug, staff_id=str(booked.booking.staff_id),
                           start_date=NOW.date() + timedelta(days=1), end_date=NOW.date() + timedelta(days=7),
                           exclude_booking_id=booked.booking.id, now=NOW, use_cache=False).slots
    starts = [slot.start.strftime("%Y-%m-%dT%H:%M:%SZ") for slot in offered]
    REAL.clear()
    REAL.update({
        "link": [link.slug for link in links], "org": [org.slug], "type": [str(t.id) for t in types],
        "staff": [str(u.id) for u in staff], "token": [booked.manage_token], "date": days, "start": starts,
        "unsubscribe": [unsubscribe], "booking": [str(booked.booking.id)],
        "channel": [CHANNEL_ID], "resource": ["contract-resource", OMIT],
        "email": ["member@example.com", "Jo.Smith+gym@example.org"], "phone": ["+44 7700 900123", "+1 212 555 0100"],
        "zone": ["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"],
    })
    return {"key": key}


def _document() -> dict:
    """The document, built by an app of the same code (building it needs no database); the test below
    checks that it is the one the app serves."""
    from app import create_app
    from app.api.openapi import build_document

    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "REDIS_URL": None, "APP_URL": "http://localhost"})
    return build_document(app)


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)

# The seeded gym's real values (filled by the `gym` fixture), by the names requests give them.
REAL: dict[str, list[str]] = {}
OMIT = object()
REAL_FIELDS = {
    "link": "link", "link_slug": "link", "bookingLinkSlug": "link", "org": "org", "organizationSlug": "org",
    "appointment_type_id": "type", "appointmentTypeId": "type", "staff_id": "staff", "staffId": "staff",
    "token": "token", "manageToken": "token", "bookingId": "booking", "date": "date", "start_date": "date",
    "startDate": "date", "start_time": "start", "startTime": "start", "attendee_email": "email",
    "attendeeEmail": "email", "timezone": "zone", "attendee_timezone": "zone", "attendeeTimezone": "zone",
    "attendee_phone": "phone", "attendeePhone": "phone",
    "X-Goog-Channel-ID": "channel", "X-Goog-Resource-ID": "resource",
}
FREE_TEXT = {"email", "zone", "phone"}


@schema.hook
def flatmap_case(context, case):
    """A third of the valid examples as generated; the others with some of their names, ids, tokens, dates
    and times replaced by the gym's real ones, so requests get past "not found" and book, move and cancel."""
    if not REAL or (case.meta is not None and case.meta.generation.mode.is_negative):
        return st.just(case)  # a request the document refuses stays refused: no real values patched in
    return st.sampled_from([True, True, False]).flatmap(
        lambda real: _with_real_values(case) if real else st.just(case))


def _with_real_values(case):
    containers = [part for part in (case.query, case.body, case.path_parameters, case.headers)
                  if isinstance(part, MutableMapping)]
    if case.path_parameters and "token" in case.path_parameters:
        case.path_parameters["token"] = REAL["unsubscribe"][0]
    if case.operation.path == "/api/booking/availability" and isinstance(case.query, dict):
        case.query.setdefault("link", REAL["link"][0])
    choices = {}
    for index, part in enumerate(containers):
        for name in part:
            if name in REAL_FIELDS and part is not case.path_parameters:
                real = REAL[REAL_FIELDS[name]]
                if REAL_FIELDS[name] in ("type", "staff", "phone"):
                    real = [*real, OMIT]  # let the booking page choose; no phone
                if REAL_FIELDS[name] in FREE_TEXT:  # the generated value is as good a test as ours
                    choices[(index, name)] = st.one_of(st.just(part[name]), st.sampled_from(real))
                else:
                    choices[(index, name)] = st.sampled_from(real)
        for name in ("end_time", "endTime"):
            part.pop(name, None)

    def apply(chosen):
        for (index, name), value in chosen.items():
            if value is OMIT:
                containers[index].pop(name, None)
            else:
                containers[index][name] = value
        return case

    return st.fixed_dictionaries(choices).map(apply)


def test_the_fuzzed_document_is_the_served_one(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.get_json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case, app, gym):
    checks = CHECKS
    if "session" in _security(case):
        # A browser without a session is sent to sign in (302, documented), not refused with a 4xx.
        checks = [check for check in CHECKS if check is not negative_data_rejection]
    response = case.call_and_validate(app=app, headers=_credentials(case, gym), checks=checks)
    STATS["examples"] += 1
    if case.method.upper() != case.operation.method.upper():
        return  # schemathesis also tries methods the route does not take (405 expected)
    STATS["operations"].add(case.operation.label)
    STATS["statuses"][response.status_code] = STATS["statuses"].get(response.status_code, 0) + 1
    answers = STATS["by_operation"].setdefault(case.operation.label, {})
    answers[response.status_code] = answers.get(response.status_code, 0) + 1


def _security(case) -> set[str]:
    return {name for requirement in (case.operation.definition.raw.get("security") or []) for name in requirement}


def _credentials(case, gym) -> dict:
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
        return {}  # the request is meant to come without (or with broken) credentials
    security = _security(case)
    if "apiKey" in security:
        return {"Authorization": f"Bearer {gym['key']}"}
    if "adminKey" in security:
        return {"Authorization": f"Bearer {ADMIN_KEY}"}
    if "googleChannelToken" in security:
        return {"X-Goog-Channel-Token": CHANNEL_TOKEN}
    if "twilioSignature" in security and isinstance(case.body, dict):
        params = {str(k): str(v) for k, v in case.body.items()}
        url = "http://localhost" + case.formatted_path
        return {"X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(url, params)}
    return {}


# Operations whose success the real-value examples must reach (not only their refusals). Twilio's are
# left out: a generated form rarely signs to the same bytes the app checks, so most answers are 403.
MUST_SUCCEED = {"GET /api/booking/availability", "POST /api/booking/create", "GET /api/booking/manage",
                "PUT /api/booking/manage", "DELETE /api/booking/manage", "POST /api/ai/booking",
                "POST /api/notifications/process", "POST /api/test/booking-system",
                "POST /api/notifications/unsubscribe/{token}", "POST /api/calendar/webhooks/google"}


def test_zz_every_operation_was_fuzzed_and_reached_success():
    """Runs after the fuzzing above (file order): every documented operation was exercised, and the
    real-value examples got past validation to a success on the main ones. Prints the figures."""
    if not STATS["examples"]:
        pytest.skip("run with the fuzzing tests above")
    documented = {f"{method.upper()} {path}" for path, item in DOCUMENT["paths"].items() for method in item}
    print(f"\ncontract: {len(STATS['operations'])} operations, {STATS['examples']} examples, "
          f"statuses {dict(sorted(STATS['statuses'].items()))}")
    for label, answers in sorted(STATS["by_operation"].items()):
        print(f"  {label}: {dict(sorted(answers.items()))}")
    assert STATS["operations"] == documented
    assert not any(status >= 500 for status in STATS["statuses"])
    succeeded = {label for label, answers in STATS["by_operation"].items()
                 if any(200 <= status < 400 for status in answers)}
    assert MUST_SUCCEED - succeeded == set()
