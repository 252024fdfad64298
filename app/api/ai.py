"""The AI booking API: POST /api/ai/booking (the spec's actions) and GET /api/ai/tools (their definitions).

/api/ai/booking needs an API key (`Authorization: Bearer atlas_sk_…`, made by an owner or admin in
the dashboard); the key's organization and scopes bound what it can do. /api/ai/tools is public: it
describes the tools and reveals nothing about any organization. The work is done by
app/agents (run_tool); this module only reads the request and turns ToolError into JSON.
"""
from __future__ import annotations

import hashlib

from flask import current_app, jsonify, request
from flask_limiter.util import get_remote_address

from app.agents import (
    ACTIONS,
    TOOLS,
    Principal,
    ToolError,
    bearer_token,
    principal_for_key,
    run_tool,
    tool_definitions,
)
from app.api.blueprint import bp
from app.errors import api_error
from app.extensions import limiter
from app.models import API_KEY_SCOPES

KEY_HINT = ("Send the key as `Authorization: Bearer atlas_sk_…`. An owner or admin creates keys in the dashboard "
            "under API keys (/dashboard/api-keys); GET /api/ai/tools needs no key.")
EXAMPLE = {"action": "find_availability", "organizationSlug": "atlas-fitness", "date": "2024-03-15",
           "duration": 60, "limit": 10}


def tool_error_response(exc: ToolError):
    """A ToolError as the API's one error shape: {"success": false, "error": {code, message, hint, ...}}."""
    extra = {"hint": exc.hint, **exc.details}
    response, status = api_error(exc.status, exc.code, exc.message, **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="atlas"'
    return response, status


def _limit_key() -> str:
    """Rate limits are per key (hashed: the limiter's storage never holds a key), else per address."""
    token = bearer_token(request.headers.get("Authorization"))
    return "ai-key:" + hashlib.sha256(token.encode()).hexdigest()[:32] if token else get_remote_address()


def _principal() -> Principal:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise ToolError("api_key_required", "This endpoint needs an API key.", hint=KEY_HINT, status=401)
    principal = principal_for_key(token)
    if principal is None:
        raise ToolError("invalid_api_key", "This API key is not valid, or it has been revoked.", hint=KEY_HINT,
                        status=401)
    return principal.seen_from(request.remote_addr, request.headers.get("User-Agent"))


def _body() -> tuple[str, dict]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ToolError("invalid_json", "The request body must be a JSON object with an `action` field.",
                        hint=f"For example: {EXAMPLE}. Valid actions: {', '.join(ACTIONS)}.",
                        details={"validActions": list(ACTIONS), "example": EXAMPLE})
    arguments = dict(body)
    action = arguments.pop("action", None)
    if action is None or action == "":
        raise ToolError("missing_action", "Say which action to run in the `action` field.",
                        hint=f"Valid actions: {', '.join(ACTIONS)}.", details={"validActions": list(ACTIONS)})
    return action, arguments


@bp.post("/ai/booking")
@limiter.limit(lambda: current_app.config["RATELIMIT_AI"], key_func=_limit_key)
# Per address as well: made-up keys would otherwise each get a fresh allowance.
@limiter.limit(lambda: current_app.config["RATELIMIT_AI_ADDRESS"])
def ai_booking():
    """Run one of the spec's actions for the key's organization."""
    try:
        principal = _principal()
        action, arguments = _body()
        payload = run_tool(action, arguments, principal)
    except ToolError as exc:
        return tool_error_response(exc)
    created = TOOLS[action].creates and not payload.get("idempotentReplay")
    return jsonify(payload), 201 if created else 200


@bp.get("/ai/tools")
def ai_tools():
    """The tools as Claude tool definitions (name, description, input_schema), from the same models
    the endpoint validates with."""
    return jsonify({
        "success": True,
        "tools": tool_definitions(),
        "endpoint": "/api/ai/booking",
        "usage": "POST the tool's arguments with an `action` field naming the tool, and "
                 "`Authorization: Bearer <API key>`.",
        "scopes": {name: tool.scope for name, tool in TOOLS.items()},
        "allScopes": list(API_KEY_SCOPES),
    })
