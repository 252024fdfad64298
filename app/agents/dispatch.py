"""Running one tool call: `run_tool`, the one way in for the JSON API, the MCP server and the assistants.

In order: the tool must exist and its arguments be an object; the principal must hold the tool's scope;
the arguments must satisfy the tool's model; `organizationSlug`, if given, must be the principal's. Then
the handler runs, and a service's error becomes a ToolError in the tools' terms. Every call, whatever
its outcome, is written to the AI action log.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from pydantic import ValidationError

from app.agents.action_log import record_call
from app.agents.errors import (
    ToolError,
    field_details,
    fields_hint,
    from_service_error,
    validation_error,
)
from app.agents.principals import Principal
from app.agents.schemas import ToolInput
from app.agents.tools import ACTIONS, TOOLS, Tool
from app.services.errors import ServiceError

log = logging.getLogger(__name__)


def run_tool(name: str, arguments: dict, principal: Principal, *, now: dt.datetime | None = None) -> dict:
    """Run one tool for `principal`: validate the arguments with the tool's model, check the scope and
    the organization, call the services. Returns the success payload ({"success": True, ...});
    raises ToolError for anything the caller can correct or should know. Every call, whatever its
    outcome, is written to the AI action log (ai_action_log) with the key and the actor."""
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        payload = _run_tool(name, arguments, principal, now)
    except ToolError as exc:
        record_call(name, arguments, principal, exc.code, exc.status, None, now)
        raise
    record_call(name, arguments, principal, "ok", 201 if TOOLS[name].creates else 200, payload, now)
    return payload


def check_tool(name: str, arguments: dict, principal: Principal, *, now: dt.datetime | None = None,
               describe: Callable[[str, ToolInput, Principal], str]) -> str:
    """Everything `run_tool` checks before it acts — the tool, the scope, the arguments, the
    organization — and then `describe(name, args, principal)` instead of the handler: what the call
    would do, in words, for a person to confirm (the assistant's writes wait for that). Written to the
    AI action log as `awaiting_confirmation` (202), or with the refusal's code; raises ToolError."""
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        tool = _checked_tool(name, arguments, principal)
        args = _checked_arguments(tool, name, arguments, principal)
        try:
            summary = describe(name, args, principal)
        except ServiceError as exc:
            raise from_service_error(exc, tool.model) from None
    except ToolError as exc:
        record_call(name, arguments, principal, exc.code, exc.status, None, now)
        raise
    record_call(name, arguments, principal, "awaiting_confirmation", 202, None, now)
    return summary


def _checked_tool(name: str, arguments: dict, principal: Principal) -> Tool:
    tool = TOOLS.get(name) if isinstance(name, str) else None
    if tool is None:
        raise ToolError("unknown_action", f"There is no action called {name!r}.",
                        hint=f"Use one of: {', '.join(ACTIONS)}.", details={"validActions": list(ACTIONS)})
    if not isinstance(arguments, dict):
        raise ToolError("invalid_request", f"{name}: the arguments must be a JSON object.",
                        hint=fields_hint(name, tool.model), details=field_details(tool.model))
    return tool


def _checked_arguments(tool: Tool, name: str, arguments: dict, principal: Principal) -> ToolInput:
    _check_scope(tool, arguments, principal)
    try:
        args = tool.model.model_validate(arguments)
    except ValidationError as exc:
        raise validation_error(name, tool.model, exc) from None
    _check_organization(args, principal)
    return args


def _run_tool(name: str, arguments: dict, principal: Principal, now: dt.datetime) -> dict:
    tool = _checked_tool(name, arguments, principal)
    args = _checked_arguments(tool, name, arguments, principal)
    try:
        payload = tool.handler(args, principal, now)
    except (ServiceError, ToolError) as exc:
        error = exc if isinstance(exc, ToolError) else from_service_error(exc, tool.model)
        log.info("ai %s by %s (%s): %s", name, principal.actor.id, principal.organization_slug, error.code)
        raise error from None
    log.info("ai %s by %s (%s): ok", name, principal.actor.id, principal.organization_slug)
    return payload


def _check_scope(tool: Tool, arguments: dict, principal: Principal) -> None:
    if tool.scope in principal.scopes:
        return
    # The public assistant reads a booking it holds the manage token of, as the manage page does.
    if tool.name == "get_booking" and principal.manage_token_required and arguments.get("manageToken"):
        return
    raise ToolError(
        "insufficient_scope", f"Not allowed to {tool.name.replace('_', ' ')}: that needs the {tool.scope!r} scope.",
        hint=("An owner or admin can create a key with that permission in the dashboard under API keys."
              if principal.key_id is not None else
              "This assistant cannot do that here: ask a member of staff, or use the booking's manage link."),
        status=403, details={"requiredScope": tool.scope, "scopes": sorted(principal.scopes)})


def _check_organization(args: ToolInput, principal: Principal) -> None:
    slug = args.organization_slug
    if slug and slug.casefold() != principal.organization_slug.casefold():
        raise ToolError(
            "organization_mismatch", f"This key belongs to {principal.organization_slug!r}, not {slug!r}.",
            hint=f"Use organizationSlug {principal.organization_slug!r} (or leave it out), or a key of that "
                 "organization.", status=403, details={"organizationSlug": principal.organization_slug})
