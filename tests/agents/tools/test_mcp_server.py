"""The MCP server: the same six tools, run through run_tool with the key's permissions.

Most tests connect the SDK's client to the server in-process; one starts the documented command
(`python -m app.mcp_server --api-key …`) and talks to it over stdio, as Claude Desktop does."""
from __future__ import annotations

import os
import sys
import uuid

import anyio
import pytest
from ai_helpers import MONDAY
from mcp import Client, StdioServerParameters
from sqlalchemy import select

from app.agents.mcp import build_server
from app.agents.tools import ACTIONS, tool_definitions
from app.models import ApiKey, BookingAudit


def with_client(server, work):
    """Run `work(client)` against `server` in-process and return what it returns."""
    async def main():
        async with Client(server) as client:
            return await work(client)

    return anyio.run(main)


@pytest.fixture
def server(app, db, key):
    db.session.rollback()  # the tools run in worker threads with their own sessions
    return build_server(app, key[1])


def test_lists_the_same_six_tools(server):
    async def work(client):
        return (await client.list_tools()).tools

    tools = with_client(server, work)
    assert [t.name for t in tools] == list(ACTIONS)
    definitions = {d["name"]: d for d in tool_definitions()}
    for tool in tools:
        assert tool.input_schema == definitions[tool.name]["input_schema"]
        assert tool.description == definitions[tool.name]["description"]
    hints = {t.name: (t.annotations.read_only_hint, t.annotations.destructive_hint) for t in tools}
    assert hints["find_availability"] == (True, None) and hints["cancel_booking"] == (False, True)
    assert hints["book_slot"] == (False, False)


def test_calls_find_availability_and_book_slot_as_the_key(server, db, gym, key):
    async def work(client):
        found = await client.call_tool("find_availability", {"date": MONDAY, "duration": 60, "limit": 2})
        slot = found.structured_content["slots"][0]
        booked = await client.call_tool("book_slot", {
            "staffId": slot["staffId"], "appointmentTypeId": slot["appointmentTypeId"],
            "startTime": slot["startTime"], "attendeeName": "Mia Mcp", "attendeeEmail": "mia@example.com"})
        return found, booked

    found, booked = with_client(server, work)
    assert found.is_error is False and len(found.structured_content["slots"]) == 2
    assert found.content[0].type == "text" and '"success": true' in found.content[0].text
    assert booked.is_error is False
    booking = booked.structured_content["booking"]
    assert booking["startTime"] == f"{MONDAY}T09:00:00Z" and booking["attendee"]["name"] == "Mia Mcp"
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == uuid.UUID(booking["id"]))).one()
    assert (audit.actor_type, audit.actor_id) == ("ai", str(key[0].id))


def test_errors_come_back_as_tool_errors_the_agent_can_read(server, gym):
    async def work(client):
        return (await client.call_tool("book_slot", {"attendeeName": "No Time"}),
                await client.call_tool("find_availability", {"organizationSlug": "rival-gym"}),
                await client.call_tool("drop_tables", {}))

    missing, mismatch, unknown = with_client(server, work)
    assert missing.is_error is True
    error = missing.structured_content["error"]
    assert error["code"] == "invalid_request"
    assert error["fields"] == {"startTime": "required", "attendeeEmail": "required"}
    assert mismatch.structured_content["error"]["code"] == "organization_mismatch"
    assert unknown.structured_content["error"]["validActions"] == list(ACTIONS)


def test_a_key_revoked_while_the_server_runs_stops_working(app, db, gym, make_key):
    row, token = make_key(gym.org, scopes=["availability:read"])
    db.session.rollback()
    server = build_server(app, token)

    async def work(client):
        before = await client.call_tool("find_availability", {"date": MONDAY})
        await anyio.to_thread.run_sync(lambda: _revoke(app, gym.org.id, row.id))
        after = await client.call_tool("find_availability", {"date": MONDAY})
        return before, after

    before, after = with_client(server, work)
    assert before.is_error is False
    assert after.is_error is True and after.structured_content["error"]["code"] == "invalid_api_key"
    assert "API keys" in after.structured_content["error"]["hint"]


def _revoke(app, org_id, key_id):
    """Revoke from another thread, as an admin in the dashboard would (its own app context and session)."""
    from app.services import api_keys

    with app.app_context():
        api_keys.revoke_api_key(org_id, key_id)


def test_without_a_key_every_call_says_how_to_get_one(app, db, gym):
    async def work(client):
        return await client.call_tool("find_availability", {})

    result = with_client(build_server(app, None), work)
    assert result.is_error is True
    error = result.structured_content["error"]
    assert error["code"] == "api_key_required" and "--api-key" in error["hint"]


def test_the_documented_stdio_command_serves_the_tools(db, db_url, gym, key, repo_root):
    """`python -m app.mcp_server --api-key …` over stdio, against the test database."""
    db.session.rollback()
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": db_url, "SECRET_KEY": "test-secret-key",
           "ATLAS_API_KEY": key[1], "RATELIMIT_ENABLED": "false", "PYTHONPATH": str(repo_root)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "app.mcp_server"], env=env,
                                   cwd=str(repo_root))

    async def main():
        async with Client(params, read_timeout_seconds=60) as client:
            tools = await client.list_tools()
            found = await client.call_tool("find_availability", {"date": MONDAY, "limit": 1})
            return [t.name for t in tools.tools], found

    names, found = anyio.run(main)
    assert names == list(ACTIONS)
    assert found.is_error is False and found.structured_content["slots"][0]["startTime"] == f"{MONDAY}T09:00:00Z"
    db.session.expire_all()
    assert db.session.get(ApiKey, key[0].id).last_used_at is not None


@pytest.mark.parametrize("server_key", ["none", "own", "shared"])
def test_the_documented_http_command_takes_each_clients_key(db, db_url, gym, key, repo_root, server_key):
    """`python -m app.mcp_server --http --port …`: each client sends its key. A server started with a
    key of its own (without --share-key-over-http) still never lets an anonymous caller use it."""
    import socket
    import subprocess
    import time

    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    db.session.rollback()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": db_url, "SECRET_KEY": "test-secret-key",
           "PYTHONPATH": str(repo_root)}
    command = [sys.executable, "-m", "app.mcp_server", "--http", "--port", str(port)]
    if server_key != "none":
        command += ["--api-key", key[1]] + (["--share-key-over-http"] if server_key == "shared" else [])
    process = subprocess.Popen(command,
                               cwd=str(repo_root), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as conn:
                if conn.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/mcp"

        async def call(headers):
            async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    return await client.call_tool("find_availability", {"date": MONDAY, "limit": 1})

        anonymous = anyio.run(call, {})
        keyed = anyio.run(call, {"Authorization": f"Bearer {key[1]}"})
    finally:
        process.terminate()
        process.communicate(timeout=30)
    if server_key == "shared":
        assert anonymous.is_error is False
    else:
        assert anonymous.is_error is True and anonymous.structured_content["error"]["code"] == "api_key_required"
    assert keyed.is_error is False and keyed.structured_content["slots"][0]["startTime"] == f"{MONDAY}T09:00:00Z"
