"""A local stand-in of Anthropic's Messages API (POST /v1/messages), reached through the real SDK.

The test scripts it: `standin.script(reply, reply, …)` queues what the next calls answer, each one of

* a dict — the message to send back (`text(...)`, `tool_use(...)` build them); the stand-in fills in
  id, type, role, model (the request's), stop_reason ("tool_use" when a tool_use block is present,
  else "end_turn"), stop_sequence and usage, as the real API does;
* a callable `(request: dict) -> reply` — decides from the request body (to check what was sent);
* `Fail(status, type, message)` — an error answer in the API's error shape;
* `Stall(seconds)` — answers only after that long (for client timeouts).

`standin.default` answers when the queue is empty (by default: a 500, so a test that makes more
calls than it scripted fails loudly instead of hanging).

Every request is checked the way the real API would refuse it (400 invalid_request_error):
api key and version headers, model, max_tokens, system, tools, roles alternating from a user turn,
known block types, tool_result blocks first in their message and answering exactly the tool_use ids
of the assistant turn just before. Refused requests are kept in `standin.refused`; the fixture fails
the test if any were made, so a malformed request cannot go unnoticed.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

TOOL_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
USER_BLOCKS = {"text", "tool_result", "image", "document"}
ASSISTANT_BLOCKS = {"text", "tool_use", "thinking", "redacted_thinking"}


@dataclass
class Fail:
    status: int = 500
    type: str = "api_error"
    message: str = "Internal server error"


@dataclass
class Stall:
    seconds: float
    then: Any = None


class Invalid(Exception):
    pass


_ids = itertools.count(1)


def text(value: str) -> dict:
    """An assistant message that only says something (stop_reason end_turn)."""
    return {"content": [{"type": "text", "text": value}]}


def tool_use(name: str, input: dict, *, id: str | None = None, say: str | None = None, more: list | None = None) -> dict:
    """An assistant message asking for a tool (optionally after some text, and with more tool calls)."""
    blocks: list[dict] = [{"type": "text", "text": say}] if say else []
    blocks.append({"type": "tool_use", "id": id or f"toolu_{next(_ids):06d}", "name": name, "input": input})
    for extra in more or []:
        blocks.append({"type": "tool_use", "id": f"toolu_{next(_ids):06d}", **extra})
    return {"content": blocks}


def tool_results(request: dict) -> list[dict]:
    """The tool_result blocks of a request's last message (what the app answered our tool calls with)."""
    content = request["messages"][-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(content, list) else []


def result_json(block: dict) -> Any:
    """A tool_result's content parsed as JSON: the app sends JSON text inside <tool_output …> tags
    (marked as data for the model), and nothing else."""
    content = block["content"]
    if isinstance(content, list):
        content = "".join(part["text"] for part in content if part.get("type") == "text")
    opening, _, rest = content.partition("\n")
    assert opening.startswith("<tool_output tool=") and opening.endswith(">"), content[:80]
    body, _, closing = rest.rpartition("\n")
    assert closing == "</tool_output>", content[-80:]
    assert "<" not in body and ">" not in body, "a tool's answer must not be able to close its tags"
    return json.loads(body)


class AnthropicStandin:
    def __init__(self) -> None:
        self.requests: list[dict] = []      # every accepted request body, in order
        self.headers: list[dict] = []
        self.refused: list[tuple[str, dict]] = []
        self.replies: deque = deque()
        self.default: Any = Fail(500, "api_error", "The stand-in has no reply scripted for this call")
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    # --- the test's side -----------------------------------------------------------------------
    def script(self, *replies) -> AnthropicStandin:
        with self._lock:
            self.replies.extend(replies)
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def calls(self) -> int:
        return len(self.requests)

    def start(self) -> AnthropicStandin:
        self._server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)

    # --- the API's side ------------------------------------------------------------------------
    def wsgi(self, environ, start_response):
        request = Request(environ)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v1/messages":
            return error(404, "not_found_error", f"Not found: {request.method} {request.path}")
        try:
            body = json.loads(request.get_data(as_text=True))
        except ValueError:
            return self.refuse("body is not JSON", {})
        try:
            check_headers(request.headers)
            check_request(body)
        except Invalid as exc:
            return self.refuse(str(exc), body)
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            reply = self.replies.popleft() if self.replies else self.default
        return self.answer(reply, body)

    def answer(self, reply, body: dict) -> Response:
        if isinstance(reply, Stall):
            time.sleep(reply.seconds)
            reply = reply.then if reply.then is not None else text("(too late)")
        if callable(reply) and not isinstance(reply, dict):
            reply = reply(body)
        if isinstance(reply, Fail):
            return error(reply.status, reply.type, reply.message)
        content = reply["content"]
        message = {
            "id": f"msg_standin_{next(_ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": reply.get("stop_reason")
            or ("tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"),
            "stop_sequence": None,
            "usage": {"input_tokens": len(json.dumps(body)) // 4, "output_tokens": len(json.dumps(content)) // 4,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }
        return Response(json.dumps(message), status=200, mimetype="application/json",
                        headers={"request-id": f"req_standin_{next(_ids):06d}"})

    def refuse(self, reason: str, body: dict) -> Response:
        with self._lock:
            self.refused.append((reason, body))
        return error(400, "invalid_request_error", reason)


def error(status: int, type_: str, message: str) -> Response:
    body = {"type": "error", "error": {"type": type_, "message": message}, "request_id": f"req_standin_{next(_ids):06d}"}
    return Response(json.dumps(body), status=status, mimetype="application/json")


def check_headers(headers) -> None:
    if not (headers.get("x-api-key") or headers.get("authorization")):
        raise Invalid("x-api-key header is required")
    if not headers.get("anthropic-version"):
        raise Invalid("anthropic-version header is required")
    if not (headers.get("content-type") or "").startswith("application/json"):
        raise Invalid("content-type must be application/json")


def check_request(body: Any) -> None:
    """Refuse what the Messages API would refuse (the parts this app can get wrong)."""
    if not isinstance(body, dict):
        raise Invalid("body must be an object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise Invalid("model: field required")
    if not isinstance(body.get("max_tokens"), int) or isinstance(body["max_tokens"], bool) or body["max_tokens"] < 1:
        raise Invalid("max_tokens: must be a positive integer")
    if body.get("stream"):
        raise Invalid("stream: this stand-in only answers non-streaming requests")
    system = body.get("system")
    if system is not None and not isinstance(system, str) and not (
            isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in system)):
        raise Invalid("system: must be a string or a list of text blocks")
    names = check_tools(body.get("tools"))
    check_messages(body.get("messages"), names)


def check_tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise Invalid("tools: must be a list")
    names = set()
    for i, tool in enumerate(tools):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 128 or set(name) - TOOL_NAME_CHARS:
            raise Invalid(f"tools.{i}.name: must match ^[a-zA-Z0-9_-]{{1,128}}$")
        if name in names:
            raise Invalid(f"tools: tool names must be unique ({name})")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise Invalid(f"tools.{i}.input_schema: must be a JSON schema of type object")
        if "description" in tool and not isinstance(tool["description"], str):
            raise Invalid(f"tools.{i}.description: must be a string")
        names.add(name)
    return names


def check_messages(messages: Any, tool_names: set[str]) -> None:
    if not isinstance(messages, list) or not messages:
        raise Invalid("messages: at least one message is required")
    pending: set[str] = set()   # tool_use ids of the previous assistant turn, awaiting results
    seen_ids: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) - {"role", "content"}:
            raise Invalid(f"messages.{i}: must have exactly role and content")
        role = message.get("role")
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            raise Invalid(f"messages.{i}.role: roles must alternate, starting with user (expected {expected})")
        blocks = normalise(message.get("content"), i)
        if role == "user":
            check_user_blocks(blocks, pending, i)
            pending = set()
        else:
            pending = check_assistant_blocks(blocks, tool_names, seen_ids, i)
    if messages[-1]["role"] != "user":
        raise Invalid("messages: the last message must be the user's (this app never prefills)")


def normalise(content: Any, i: int) -> list[dict]:
    if isinstance(content, str):
        if not content.strip():
            raise Invalid(f"messages.{i}.content: text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        raise Invalid(f"messages.{i}.content: must be a string or a non-empty list of blocks")
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise Invalid(f"messages.{i}.content.{j}: every block needs a type")
        if block["type"] == "text" and (not isinstance(block.get("text"), str) or not block["text"].strip()):
            raise Invalid(f"messages.{i}.content.{j}.text: text content blocks must be non-empty")
    return content


def check_user_blocks(blocks: list[dict], pending: set[str], i: int) -> None:
    answered: list[str] = []
    after_results = False
    for j, block in enumerate(blocks):
        if block["type"] not in USER_BLOCKS:
            raise Invalid(f"messages.{i}.content.{j}: unexpected block type {block['type']!r} in a user turn")
        if block["type"] == "tool_result":
            if after_results:
                raise Invalid(f"messages.{i}.content.{j}: tool_result blocks must come before any other content")
            tid = block.get("tool_use_id")
            if tid not in pending:
                raise Invalid(f"messages.{i}.content.{j}: unexpected tool_use_id {tid!r}: each tool_result must "
                              "answer a tool_use block of the previous message")
            if tid in answered:
                raise Invalid(f"messages.{i}.content.{j}: tool_use_id {tid!r} answered twice")
            content = block.get("content")
            if content is not None and not isinstance(content, (str, list)):
                raise Invalid(f"messages.{i}.content.{j}.content: must be a string or a list of blocks")
            if "is_error" in block and not isinstance(block["is_error"], bool):
                raise Invalid(f"messages.{i}.content.{j}.is_error: must be a boolean")
            answered.append(tid)
        else:
            after_results = True
    missing = pending - set(answered)
    if missing:
        raise Invalid(f"messages.{i}: tool_use ids were found without tool_result blocks immediately after: "
                      f"{', '.join(sorted(missing))}")


def check_assistant_blocks(blocks: list[dict], tool_names: set[str], seen_ids: set[str], i: int) -> set[str]:
    ids: set[str] = set()
    for j, block in enumerate(blocks):
        if block["type"] not in ASSISTANT_BLOCKS:
            raise Invalid(f"messages.{i}.content.{j}: unexpected block type {block['type']!r} in an assistant turn")
        if block["type"] == "tool_use":
            tid, name = block.get("id"), block.get("name")
            if not isinstance(tid, str) or not tid or tid in seen_ids:
                raise Invalid(f"messages.{i}.content.{j}.id: tool_use ids must be unique strings")
            if name not in tool_names:
                raise Invalid(f"messages.{i}.content.{j}.name: tool {name!r} is not among the request's tools")
            if not isinstance(block.get("input"), dict):
                raise Invalid(f"messages.{i}.content.{j}.input: must be an object")
            seen_ids.add(tid)
            ids.add(tid)
    return ids

