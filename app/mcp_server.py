"""The MCP server: the booking and class tools for Claude Desktop and any other MCP client.

    python -m app.mcp_server --api-key atlas_sk_…                     # stdio (Claude Desktop)
    python -m app.mcp_server --api-key atlas_sk_… --http --port 8765  # streamable HTTP at /mcp

The key may also come from ATLAS_API_KEY. Over HTTP a client may send its own key
(`Authorization: Bearer …`), which then wins over the server's. The database is the one DATABASE_URL
names, as for the web app. This module is the command (options, the app, the key); the server is
app/agents/mcp.py (see docs/ai.md).
"""
from __future__ import annotations

import argparse
import os
import sys

from app import create_app
from app.agents import principal_for_key
from app.agents.mcp import KEY_HINT, build_server, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.mcp_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-key", default=os.environ.get("ATLAS_API_KEY"),
                        help="an API key from the dashboard (default: $ATLAS_API_KEY)")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    parser.add_argument("--path", default="/mcp", help="HTTP path of the endpoint (default /mcp)")
    parser.add_argument("--share-key-over-http", action="store_true",
                        help="over HTTP, let clients that send no key act with the server's key (anyone who "
                             "can reach the port then acts with it); without this each client sends its own")
    options = parser.parse_args(argv)

    app = create_app()
    if options.api_key:
        with app.app_context():
            principal = principal_for_key(options.api_key)
        if principal is None:
            sys.exit("This API key is not valid, or it has been revoked.")
        print(f"Atlas MCP server for {principal.organization_slug} (scopes: {', '.join(sorted(principal.scopes))})",
              file=sys.stderr)
    elif not options.http:  # over HTTP each client may send its own key
        sys.exit("No API key: pass --api-key or set ATLAS_API_KEY. " + KEY_HINT)
    # Over HTTP an anonymous caller never acts with the server's key, unless the operator said so.
    shared = options.api_key if (not options.http or options.share_key_over_http) else None
    serve(build_server(app, shared or None), http=options.http, host=options.host, port=options.port,
          path=options.path)


if __name__ == "__main__":
    main()
