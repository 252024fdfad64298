"""The MCP server: the booking and class tools for Claude Desktop and any other MCP client.

Built on the official `mcp` SDK's low-level Server: the tools are exactly `tool_definitions()` and
every call goes through `run_tool()` with the principal of the key — the server's own, or the one an
HTTP client sends as `Authorization: Bearer …`, which then wins — checked again on each call (a
revoked key stops at once). The command that starts it is app/mcp_server.py.
"""
from __future__ import annotations

import json
import logging
import sys
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
from flask import Flask
from mcp.server import Server

from app.agents.dispatch import run_tool
from app.agents.errors import ToolError
from app.agents.principals import bearer_token, principal_for_key
from app.agents.tools import TOOLS, tool_definitions
from app.extensions import db

log = logging.getLogger(__name__)

NAME = "atlas-booking"
INSTRUCTIONS = ("Book gym sessions at Atlas Booking. Call find_availability first; pass one of its slots "
                "(startTime, staffId, appointmentTypeId) with the customer's name and email to book_slot. "
                "For group classes call find_classes, and pass a session's sessionId to book_class "
                "(joinWaitlist true to join a full class's waitlist, when the customer agrees). "
                "Errors carry a code and a hint saying what to do next.")
KEY_HINT = ("Start the server with --api-key or ATLAS_API_KEY, or send `Authorization: Bearer <key>` over HTTP. "
            "An owner or admin creates keys in the dashboard under API keys.")


def call_tool(app: Flask, token: str | None, name: str, arguments: dict[str, Any]) -> dict:
    """Run one tool with the key's permissions, inside an app context; always a JSON-ready answer."""
    with app.app_context():
        try:
            if not token:
                raise ToolError("api_key_required", "This MCP server has no API key.", hint=KEY_HINT)
            principal = principal_for_key(token)
            if principal is None:
                raise ToolError("invalid_api_key", "This API key is not valid, or it has been revoked.", hint=KEY_HINT)
            return run_tool(name, arguments, principal)
        except ToolError as exc:
            return exc.as_payload()
        except Exception:  # a bug must not end the session: the agent is told, the log has the trace
            db.session.rollback()
            log.exception("MCP tool %s failed", name)
            error = ToolError("internal_error", "Something went wrong on the server.", hint="Try again later.")
            return error.as_payload()


def _tool(definition: dict) -> types.Tool:
    tool = TOOLS[definition["name"]]
    return types.Tool(
        name=definition["name"], description=definition["description"], input_schema=definition["input_schema"],
        # book_slot and book_class only add; rescheduling and cancelling change what is there.
        annotations=types.ToolAnnotations(read_only_hint=tool.read_only,
                                          destructive_hint=None if tool.read_only else not tool.creates),
    )


def _request_key(ctx) -> str | None:
    """The key an HTTP client sent with this request (None on stdio, or without the header)."""
    headers = getattr(getattr(ctx, "request", None), "headers", None)
    return bearer_token(headers.get("authorization")) if headers else None


def build_server(app: Flask, api_key: str | None = None) -> Server:
    """The MCP server over `app`'s database. Each call acts with the key its HTTP request carries, or
    else with `api_key` (on stdio the local client's key; over HTTP only when the server was started to
    share its key: see app/mcp_server.py)."""

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_tool(d) for d in tool_definitions()])

    async def on_call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        token = _request_key(ctx) or api_key
        # The services are synchronous (SQLAlchemy): run them off the event loop.
        result = await anyio.to_thread.run_sync(partial(call_tool, app, token, params.name, params.arguments or {}))
        return types.CallToolResult(content=[types.TextContent(text=json.dumps(result))],
                                    structured_content=result, is_error=not result.get("success"))

    return Server(NAME, version="1", instructions=INSTRUCTIONS, on_list_tools=list_tools,
                  on_call_tool=on_call_tool)


def serve(server: Server, *, http: bool = False, host: str = "127.0.0.1", port: int = 8765,
          path: str = "/mcp") -> None:
    """Serve until stopped: over stdio (a local client starts the process), or streamable HTTP at `path`."""
    if http:
        import uvicorn

        print(f"MCP endpoint: http://{host}:{port}{path}", file=sys.stderr)
        uvicorn.run(server.streamable_http_app(streamable_http_path=path, host=host),
                    host=host, port=port, log_level="warning")
        return

    from mcp.server.stdio import stdio_server

    async def serve_stdio() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(serve_stdio)
