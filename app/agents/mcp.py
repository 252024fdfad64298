"""The MCP server: the six booking tools for Claude Desktop and any other MCP client.

    python -m app.mcp_server --api-key atlas_sk_…                     # stdio (Claude Desktop)
    python -m app.mcp_server --api-key atlas_sk_… --http --port 8765  # streamable HTTP at /mcp

The key may also come from ATLAS_API_KEY. Over HTTP a client may send its own key
(`Authorization: Bearer …`), which then wins over the server's. Built on the official `mcp` SDK's
low-level Server: the tools are exactly `ai_tools.tool_definitions()` and every call goes through
`ai_tools.run_tool()` with the key's principal, checked again on each call (a revoked key stops at
once). The database is the one DATABASE_URL names, as for the web app.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
from flask import Flask
from mcp.server import Server

from app.agents.tools import TOOLS, ToolError, principal_for_key, run_tool, tool_definitions

log = logging.getLogger(__name__)

NAME = "atlas-booking"
INSTRUCTIONS = ("Book gym sessions at Atlas Booking. Call find_availability first; pass one of its slots "
                "(startTime, staffId, appointmentTypeId) with the customer's name and email to book_slot. "
                "Errors carry a code and a hint saying what to do next.")
KEY_HINT = ("Start the server with --api-key or ATLAS_API_KEY, or send `Authorization: Bearer <key>` over HTTP. "
            "An owner or admin creates keys in the dashboard under API keys.")


def _error(code: str, message: str, hint: str) -> dict:
    return {"success": False, "error": {"code": code, "message": message, "hint": hint}}


def call_tool(app: Flask, token: str | None, name: str, arguments: dict[str, Any]) -> dict:
    """Run one tool with the key's permissions, inside an app context; always a JSON-ready answer."""
    from app.extensions import db

    with app.app_context():
        if not token:
            return _error("api_key_required", "This MCP server has no API key.", KEY_HINT)
        try:
            principal = principal_for_key(token)
            if principal is None:
                return _error("invalid_api_key", "This API key is not valid, or it has been revoked.", KEY_HINT)
            return run_tool(name, arguments, principal)
        except ToolError as exc:
            return {"success": False, "error": exc.as_dict()}
        except Exception:  # a bug must not end the session: the agent is told, the log has the trace
            db.session.rollback()
            log.exception("MCP tool %s failed", name)
            return _error("internal_error", "Something went wrong on the server.", "Try again later.")


def _tool(definition: dict) -> types.Tool:
    tool = TOOLS[definition["name"]]
    return types.Tool(
        name=definition["name"], description=definition["description"], input_schema=definition["input_schema"],
        # book_slot only adds; rescheduling and cancelling change what is there.
        annotations=types.ToolAnnotations(read_only_hint=tool.read_only,
                                          destructive_hint=None if tool.read_only else tool.name != "book_slot"),
    )


def _request_key(ctx) -> str | None:
    """The key an HTTP client sent with this request (None on stdio, or without the header)."""
    headers = getattr(getattr(ctx, "request", None), "headers", None)
    if not headers:
        return None
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def build_server(app: Flask, api_key: str | None = None) -> Server:
    """The MCP server over `app`'s database, acting with `api_key` (or the key an HTTP request carries)."""

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


def _check_key(app: Flask, api_key: str | None, *, required: bool) -> str | None:
    if not api_key:
        if required:
            sys.exit("No API key: pass --api-key or set ATLAS_API_KEY. " + KEY_HINT)
        return None
    with app.app_context():
        principal = principal_for_key(api_key)
    if principal is None:
        sys.exit("This API key is not valid, or it has been revoked.")
    print(f"Atlas MCP server for {principal.organization_slug} (scopes: {', '.join(sorted(principal.scopes))})",
          file=sys.stderr)
    return api_key


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.mcp_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-key", default=os.environ.get("ATLAS_API_KEY"),
                        help="an API key from the dashboard (default: $ATLAS_API_KEY)")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    parser.add_argument("--path", default="/mcp", help="HTTP path of the endpoint (default /mcp)")
    options = parser.parse_args(argv)

    from app import create_app

    app = create_app()
    api_key = _check_key(app, options.api_key, required=not options.http)
    server = build_server(app, api_key)
    if options.http:
        import uvicorn

        print(f"MCP endpoint: http://{options.host}:{options.port}{options.path}", file=sys.stderr)
        uvicorn.run(server.streamable_http_app(streamable_http_path=options.path, host=options.host),
                    host=options.host, port=options.port, log_level="warning")
        return

    from mcp.server.stdio import stdio_server

    async def serve_stdio() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(serve_stdio)


if __name__ == "__main__":
    main()
