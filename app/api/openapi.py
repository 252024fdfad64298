"""The API's contract: an OpenAPI 3.1 document of every JSON endpoint, at GET /api/openapi.json, and
a reference page for people at GET /api/docs.

Built with apispec (the OpenAPI document: paths, components, security schemes) and its Flask plugin
(each path comes from the route the view is registered on, so a path cannot be documented wrong),
from pydantic's own JSON Schema of the models that validate the requests (next to each view) and of
the answers (app/api/shapes.py). OpenAPI 3.1 schemas are JSON Schema 2020-12, the dialect pydantic
writes, so the schemas go in as pydantic makes them. Why apispec rather than spectree or
flask-openapi3: those validate requests themselves and answer errors in their own shape, where our
views validate with their models and answer in the API's one error shape; apispec only describes.

The document is built once per app (it depends only on the code and APP_URL). The contract tests
(tests/api/test_openapi_contract.py) fuzz every operation of it with schemathesis.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from apispec import APISpec
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask, current_app, render_template
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.agents import TOOLS
from app.api import ai, booking, calendar, classes, notifications, selftest, shapes, twilio
from app.api.blueprint import bp

TITLE = "Atlas Booking API"
VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

DESCRIPTION = """\
Book trainers and sessions at a gym, and manage a booking from its link.

* **Public booking API** (`/api/booking/…`): no key. Availability is in UTC with local times in the
  zone asked for; a booking answers with a manage token shown once.
* **Group classes** (`/api/classes…`): no key. The timetable with places, spots left and waitlists; a
  spot (or a place on a full class's waitlist) answers with a manage token that
  `/api/booking/manage` takes like an appointment's.
* **AI tools** (`/api/ai/…`): an API key made by an owner or admin in the dashboard, sent as
  `Authorization: Bearer atlas_sk_…`; its organization and scopes bound what it can do.
* **Operations** (`/api/notifications/process`, `/api/test/booking-system`): the admin key
  (`ADMIN_API_KEY`) as a Bearer token.
* **Webhooks** (Google Calendar push, Twilio): authenticated by the provider's channel token or
  signature.

Every error has one shape: `{"success": false, "error": {"code", "message", …}}`. A request with a NUL
character, JSON nested deeper than 32 levels or a date outside 2000–2099 is refused with 400; a body
over the size limit with 413; too many requests with 429 and `Retry-After`.
"""

SECURITY_SCHEMES = {
    "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "atlas_sk_…",
               "description": "An organization's API key, made in the dashboard under API keys."},
    "adminKey": {"type": "http", "scheme": "bearer",
                 "description": "The portal's admin key (ADMIN_API_KEY), for operators."},
    "session": {"type": "apiKey", "in": "cookie", "name": "session",
                "description": "A member of staff signed in to the dashboard."},
    "twilioSignature": {"type": "apiKey", "in": "header", "name": "X-Twilio-Signature",
                        "description": "Twilio's HMAC of the URL and form, keyed by TWILIO_AUTH_TOKEN."},
    "googleChannelToken": {"type": "apiKey", "in": "header", "name": "X-Goog-Channel-Token",
                           "description": "The random token given to Google when the channel was opened."},
}

# Answers any operation can give: refused input, a body over the limit, too many requests.
COMMON_RESPONSES = {
    "Invalid": "The request is not valid: `error.fields` says which input and why.",
    "NotFound": "No such thing (or not yours to see).",
    "Conflict": "The time is taken or the booking can no longer change; `error.alternatives` offers free times. "
                "For a class: `class_full` (without join_waitlist, or once its waitlist has closed), "
                "`already_booked`, `session_cancelled`, `session_started`, `class_not_reschedulable`.",
    "Unauthorized": "No key, or a key that is not valid (see `WWW-Authenticate`).",
    "Forbidden": "The key or signature is not allowed to do this.",
    "TooLarge": "The body is larger than the portal accepts (MAX_CONTENT_LENGTH).",
    "RateLimited": "Too many requests; try again after `Retry-After` seconds.",
}
STATUS_OF = {"Invalid": 400, "Unauthorized": 401, "Forbidden": 403, "NotFound": 404, "Conflict": 409,
             "TooLarge": 413, "RateLimited": 429}


@dataclass
class Operation:
    """One method on one route: the view, what it takes, what it answers."""

    view: object
    method: str
    tag: str
    query: type[BaseModel] | None = None
    parameters: list[dict] = field(default_factory=list)
    body: type[BaseModel] | dict | None = None
    body_required: bool = True
    body_type: str = "application/json"
    ok: dict[int, tuple[str, object]] = field(default_factory=dict)  # status → (description, model or media)
    errors: tuple[str, ...] = ("Invalid",)
    security: list[dict] | None = None
    summary: str | None = None


def _token_param(required: bool) -> dict:
    return {"name": "token", "in": "query", "required": required,
            "description": "The manage token (from the booking's manage link); or `token` in the body.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 128}}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Any unique string up to 255 characters: a retry with the same key answers 200 with the "
                   "booking it made instead of booking twice.",
    "schema": {"type": "string", "maxLength": 255},
}
HTML = {"text/html": {"schema": {"type": "string"}}}
TWIML = {"application/xml": {"schema": {"type": "string"}}}
REDIRECT = {"Location": {"description": "Where to go next.", "schema": {"type": "string"}}}


def _ai_body() -> dict:
    """POST /api/ai/booking: an `action` naming a tool, and that tool's arguments, by the tool's model.

    The model's own schema, not the tool definition given to Claude (which shows `X or null` as X to
    ask models to omit a field): the endpoint accepts null where the model does."""
    variants = []
    for tool in TOOLS.values():
        schema = tool.model.model_json_schema(by_alias=True, mode="validation")
        if "$defs" in schema:
            raise ValueError(f"{tool.name}: nested models need components; the tool models are flat")
        schema["properties"] = {"action": {"const": tool.name}, **schema["properties"]}
        schema["required"] = ["action", *schema.get("required", [])]
        schema["title"] = tool.name
        schema["description"] = tool.description
        variants.append(schema)
    return {"oneOf": variants, "discriminator": {"propertyName": "action"}}


OPERATIONS: tuple[Operation, ...] = (
    Operation(booking.availability, "get", "Booking", query=booking.AvailabilityParams,
              ok={200: ("Free slots, earliest first.", shapes.AvailabilityResponse)},
              errors=("Invalid", "NotFound", "RateLimited")),
    Operation(booking.create, "post", "Booking", body=booking.CreateBookingBody, parameters=[IDEMPOTENCY_KEY],
              ok={201: ("Booked. The manage token and URL are shown only here.", shapes.BookingCreated),
                  200: ("A replay of an Idempotency-Key already used: the booking it made.", shapes.BookingCreated)},
              errors=("Invalid", "NotFound", "Conflict", "TooLarge", "RateLimited")),
    Operation(booking.manage_get, "get", "Booking", parameters=[_token_param(True)],
              ok={200: ("The booking, and until when it can be changed here; for a class spot's token the spot "
                        "(`kind: class`, with its status and waitlist position).", shapes.ManageAnswer)},
              errors=("Invalid", "NotFound", "RateLimited")),
    Operation(booking.manage_put, "put", "Booking", body=booking.RescheduleBody, parameters=[_token_param(False)],
              ok={200: ("Rescheduled.", shapes.BookingAnswer)},
              errors=("Invalid", "NotFound", "Conflict", "TooLarge", "RateLimited")),
    Operation(booking.manage_delete, "delete", "Booking", body=booking.CancelBody, body_required=False,
              parameters=[_token_param(False)],
              ok={200: ("Cancelled; a class spot given up or the waitlist left (`kind: class`), the first person "
                        "waiting promoted into a freed place.", shapes.ManageChangeAnswer)},
              errors=("Invalid", "NotFound", "Conflict", "TooLarge", "RateLimited")),
    Operation(classes.classes_list, "get", "Classes", query=classes.ClassesParams,
              ok={200: ("Sessions, earliest first.", shapes.ClassesResponse)},
              errors=("Invalid", "NotFound", "RateLimited")),
    Operation(classes.book_class, "post", "Classes", body=classes.BookClassBody,
              ok={201: ("A spot: `confirmed`, or `waitlisted` with its `waitlist_position`. The manage token and "
                        "URL are shown only here.", shapes.ClassBookingCreated)},
              errors=("Invalid", "NotFound", "Conflict", "TooLarge", "RateLimited")),
    Operation(ai.ai_booking, "post", "AI tools", body=_ai_body(), security=[{"apiKey": []}],
              ok={200: ("The tool's answer.", shapes.ToolResult),
                  201: ("book_slot booked (a replay of its idempotencyKey answers 200).", shapes.ToolResult)},
              errors=("Invalid", "Unauthorized", "Forbidden", "NotFound", "Conflict", "TooLarge", "RateLimited")),
    Operation(ai.ai_tools, "get", "AI tools", security=[],
              ok={200: ("The tools as Claude tool definitions.", shapes.ToolsResponse)}),
    Operation(notifications.process_notifications, "post", "Operations", body=notifications.ProcessBody,
              body_required=False, security=[{"adminKey": []}], query=notifications.ProcessBody,
              ok={200: ("What was sent, and what is still due.", shapes.ProcessResponse)},
              errors=("Invalid", "Unauthorized", "TooLarge")),
    Operation(notifications.notifications_health, "get", "Operations", security=[{"adminKey": []}],
              ok={200: ("Queue counts and health.", shapes.QueueHealth)}, errors=("Invalid", "Unauthorized")),
    Operation(notifications.unsubscribe, "get", "Notifications",
              parameters=[{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
              ok={200: ("A page asking to confirm (mail scanners open links).", HTML),
                  404: ("The link is not valid.", HTML)}, errors=()),
    Operation(notifications.unsubscribe, "post", "Notifications",
              parameters=[{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
              ok={200: ("Unsubscribed (also RFC 8058 one-click).", HTML), 404: ("The link is not valid.", HTML)},
              errors=("TooLarge",)),
    Operation(selftest.test_booking_system, "get", "Operations", security=[{"adminKey": []}],
              ok={200: ("Every component's check.", shapes.SelfTestResponse),
                  503: ("The database cannot be reached (same report).", shapes.SelfTestResponse)},
              errors=("Invalid", "Unauthorized")),
    Operation(selftest.test_booking_system_one, "post", "Operations", body=selftest.SelfTestBody,
              security=[{"adminKey": []}],
              ok={200: ("The test's components.", shapes.SelfTestResponse),
                  503: ("The database cannot be reached (same report).", shapes.SelfTestResponse)},
              errors=("Invalid", "Unauthorized", "TooLarge")),
    Operation(calendar.google_connect, "get", "Google Calendar", security=[{"session": []}],
              ok={302: ("To Google's consent screen (or to sign in first, or back to the dashboard with a "
                        "message).", REDIRECT)}),
    Operation(calendar.google_callback, "get", "Google Calendar", security=[{"session": []}],
              parameters=[{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                          for name in ("state", "code", "error")],
              ok={302: ("Back to the dashboard's calendar page, connected or with the reason it was not.",
                        REDIRECT)}),
    Operation(calendar.google_webhook, "post", "Google Calendar", security=[{"googleChannelToken": []}],
              parameters=[{"name": "X-Goog-Channel-ID", "in": "header", "required": True,
                           "description": "The channel Google was given when the calendar was watched.",
                           "schema": {"type": "string"}},
                          {"name": "X-Goog-Resource-ID", "in": "header", "required": False,
                           "description": "Google's id of the watched calendar; checked when given.",
                           "schema": {"type": "string"}},
                          {"name": "X-Goog-Resource-State", "in": "header", "required": True,
                           "description": "`sync` (the channel is open) or `exists`/`not_exists` (a change).",
                           "schema": {"type": "string", "enum": ["sync", "exists", "not_exists"]}}],
              ok={200: ("Acknowledged (`exists`/`not_exists` start an incremental sync).", shapes.WebhookAck)},
              errors=("Invalid", "Forbidden", "NotFound", "RateLimited")),
    Operation(calendar.google_webhook_health, "get", "Google Calendar", security=[],
              ok={200: ("The webhook endpoint is up.", shapes.WebhookHealth)}),
    Operation(twilio.twilio_status, "post", "Twilio", security=[{"twilioSignature": []}],
              body_type="application/x-www-form-urlencoded",
              body={"type": "object", "properties": {
                  "MessageSid": {"type": "string"}, "MessageStatus": {"type": "string"},
                  "ErrorCode": {"type": "string"}}},
              ok={204: ("Recorded.", None)}, errors=("Invalid", "Forbidden", "TooLarge")),
    Operation(twilio.twilio_inbound, "post", "Twilio", security=[{"twilioSignature": []}],
              body_type="application/x-www-form-urlencoded",
              body={"type": "object", "properties": {"From": {"type": "string"}, "Body": {"type": "string"}}},
              ok={200: ("TwiML: a message that is exactly STOP/START (or another of Twilio's keywords) is "
                        "recorded and answered by Twilio itself (by us only under TWILIO_ADVANCED_OPT_OUT); any "
                        "other text gets one fixed reply pointing to the link in the booking confirmation.",
                        TWIML)},
              errors=("Invalid", "Forbidden", "TooLarge")),
)


def _models() -> list[tuple[type[BaseModel], str]]:
    requests = [op.body for op in OPERATIONS if isinstance(op.body, type)]
    answers = [model for op in OPERATIONS for _, model in op.ok.values() if isinstance(model, type)]
    answers.append(shapes.ErrorResponse)
    return ([(model, "validation") for model in dict.fromkeys(requests)]
            + [(model, "serialization") for model in dict.fromkeys(answers)])


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    """A query model's fields as OpenAPI parameters (a query has no nulls: leaving one out is the null)."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k not in ("title", "default")}
        options = [option for option in prop.pop("anyOf", ()) if option != {"type": "null"}]
        if len(options) == 1:
            prop.update(options[0])
        parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return parameters


def _summary(view) -> tuple[str, str]:
    lines = (view.__doc__ or "").strip().splitlines()
    first = lines[0].strip() if lines else view.__name__.replace("_", " ")
    rest = "\n".join(line.strip() for line in lines[1:]).strip()
    return first, rest


def _operation(op: Operation, names: dict) -> dict:
    summary, description = _summary(op.view)
    doc: dict = {"tags": [op.tag], "summary": op.summary or summary, "operationId": f"{op.method}_{op.view.__name__}"}
    if description:
        doc["description"] = description
    parameters = list(op.parameters) + (_query_parameters(op.query) if op.query else [])
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        schema = {"$ref": REF.format(model=names[(op.body, "validation")])} if isinstance(op.body, type) else op.body
        doc["requestBody"] = {"required": op.body_required, "content": {op.body_type: {"schema": schema}}}
    responses: dict = {}
    for status, (text, model) in op.ok.items():
        answer: dict = {"description": text}
        if isinstance(model, type):
            answer["content"] = {"application/json": {
                "schema": {"$ref": REF.format(model=names[(model, "serialization")])}}}
        elif model is REDIRECT:
            answer["headers"] = REDIRECT
        elif model is not None:
            answer["content"] = model
        responses[str(status)] = answer
    for name in op.errors:
        responses[str(STATUS_OF[name])] = {"$ref": f"#/components/responses/{name}"}
    doc["responses"] = dict(sorted(responses.items()))
    if op.security is not None:
        doc["security"] = op.security
    return doc


def build_document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of this app's JSON API."""
    spec = APISpec(title=TITLE, version=VERSION, openapi_version="3.1.0", plugins=[FlaskPlugin()],
                   info={"description": DESCRIPTION}, servers=[{"url": app.config["APP_URL"]}])
    names, top = models_json_schema(_models(), ref_template=REF)
    names = {key: value["$ref"].rsplit("/", 1)[-1] for key, value in names.items()}
    for name, schema in top["$defs"].items():
        spec.components.schema(name, schema)
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    error_ref = {"$ref": REF.format(model=names[(shapes.ErrorResponse, "serialization")])}
    for name, text in COMMON_RESPONSES.items():
        answer: dict = {"description": text, "content": {"application/json": {"schema": error_ref}}}
        if name == "RateLimited":
            answer["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
        spec.components.response(name, answer)
    for tag in dict.fromkeys(op.tag for op in OPERATIONS):
        spec.tag({"name": tag})
    with app.test_request_context():
        for op in OPERATIONS:
            spec.path(view=op.view, app=app, operations={op.method: _operation(op, names)})
    return spec.to_dict()


def document_json(app: Flask) -> bytes:
    """The document, serialised once per app."""
    cached = app.extensions.get("openapi_document")
    if cached is None:
        cached = app.extensions["openapi_document"] = json.dumps(build_document(app), indent=1).encode()
    return cached


@bp.get("/openapi.json")
def openapi_document():
    """This document."""
    response = current_app.response_class(document_json(current_app._get_current_object()),
                                          mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"  # public, and read by API tools in browsers
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/docs")
def reference():
    """The API reference for people (Swagger UI, served from this site)."""
    return render_template("api/reference.html", title=TITLE, tool_count=len(TOOLS))
