"""The system self-test (the spec's "Testing" section), behind the admin key.

* GET /api/test/booking-system — every component: database, redis_and_workers, smtp, twilio,
  google, availability_engine; each `ok`, `degraded` or `not_configured`, with details and how
  long its check took. The overall status is the worst of them (not_configured is no failure).
* POST /api/test/booking-system {"testName": "availability" | "database" | "notifications" |
  "calendar"} — one test (notifications = redis_and_workers + smtp + twilio; calendar = google).

Always 200 with the report, except 503 when the database itself cannot be reached: a load
balancer or monitor can then tell "the portal cannot work" from "something needs a look".

The checks live in app/services/ops and in each integration's `probe`.
"""
from __future__ import annotations

from typing import Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, ValidationError

from app.api.admin_key import admin_key_required
from app.api.blueprint import bp
from app.api.responses import iso_utc
from app.errors import api_error
from app.services import ops


class SelfTestBody(BaseModel):
    """POST /api/test/booking-system: which test to run."""

    model_config = ConfigDict(extra="ignore")

    testName: Literal[tuple(ops.TESTS)]  # noqa: N815  (the spec's name)


@bp.get("/test/booking-system")
@admin_key_required
def test_booking_system():
    """Check every component."""
    return _answer(ops.run_self_test())


@bp.post("/test/booking-system")
@admin_key_required
def test_booking_system_one():
    """Run the one test named by `testName`."""
    body = request.get_json(silent=True)
    try:
        name = SelfTestBody.model_validate(body).testName
    except ValidationError:
        name = body.get("testName") if isinstance(body, dict) else None
        valid = list(ops.TESTS)
        given = "testName is missing" if name is None else f"unknown testName {str(name)[:50]!r}"
        return api_error(400, "invalid_request", f"{given}; valid test names: {', '.join(valid)}.",
                         fields={"testName": f"one of {', '.join(valid)}"}, valid_tests=valid)
    return _answer(ops.run_self_test(ops.TESTS[name]), test=name)


def _answer(report: ops.SelfTestReport, **extra):
    body = {"success": True, **extra, **report.as_dict(), "checked_at": iso_utc(report.checked_at)}
    response = jsonify(body)
    response.status_code = 503 if report.database_down else 200
    response.headers["Cache-Control"] = "no-store"
    return response
