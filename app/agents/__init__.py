"""AI agents: the booking tools (the spec's six, list_services, and the class tools find_classes and
book_class), and the ways in that run them (an entry point, like app/api).

Promises: every way in — POST /api/ai/booking, the MCP server (mcp.py), the Claude assistant
(assistant.py) and its chat panel (panel.py) — runs the same tools through `run_tool`, as a
`Principal` that bounds what it may do, on the same services as the booking page. What an agent is
told (`tool_definitions`) is generated from what is accepted. Every refusal is a `ToolError` with a
code and a hint, and every call is written to the AI action log. Services never import this package.

The modules: principals (who a call acts for), schemas (the arguments), errors (ToolError and the
translation of service errors), actions and class_actions (the handlers), pages (which booking page a
booking goes through), answers (a booking, a slot, a class session and a spot as the tools show them),
action_log, tools (the registry) and dispatch (`run_tool`). They import each other directly; this module only re-exports for entry points.
"""
from app.agents.dispatch import run_tool
from app.agents.errors import ToolError
from app.agents.principals import (
    Principal,
    bearer_token,
    principal_for_key,
    principal_for_public,
    principal_for_staff,
)
from app.agents.tools import ACTIONS, TOOLS, tool_definitions

__all__ = [
    "ACTIONS", "TOOLS", "Principal", "ToolError", "bearer_token", "principal_for_key", "principal_for_public",
    "principal_for_staff", "run_tool", "tool_definitions",
]
