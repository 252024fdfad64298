"""Input no endpoint accepts, refused at the door with a clear 400 (or 413) — never a server error.

Classes of input, not single cases: a NUL character anywhere (PostgreSQL's text cannot hold one),
JSON nested deeper than any request of ours needs (parsers and validators recurse), and bodies
larger than MAX_CONTENT_LENGTH (Werkzeug answers 413 as soon as one is read). The answer has the
usual shape: JSON under /api/, the error page elsewhere (app/errors.py).
"""
from __future__ import annotations

import re

from flask import Flask, request
from werkzeug.exceptions import BadRequest

NUL = "\x00"
# Longest chain of nested arrays/objects accepted in a JSON body: our deepest request (an AI tool
# call inside the assistant's conversation) is far shallower.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class RefusedInput(BadRequest):
    """A request no endpoint can accept (a 400 with the reason)."""


def json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply arrays and objects nest in a JSON text (strings ignored), counting no further than
    one past `limit`."""
    depth = deepest = 0
    for bracket in _JSON_STRING.sub(b'""', body).translate(None, _NOT_BRACKETS):
        if bracket in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def refuse_unacceptable_input() -> None:
    """before_request: raise RefusedInput for a NUL character anywhere in the request (path, query,
    headers, form, JSON) or a JSON body nested deeper than MAX_JSON_DEPTH."""
    nul = RefusedInput("The request contains a NUL character (\\x00), which no field accepts.")
    if NUL in request.path or any(_has_nul(k) or _has_nul(v) for k, v in request.args.items(multi=True)):
        raise nul
    if any(NUL in k or NUL in v for k, v in request.headers.items()):
        raise nul
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        body = request.get_data(cache=True)  # 413 here when larger than MAX_CONTENT_LENGTH
        if json_depth(body) > MAX_JSON_DEPTH:
            raise RefusedInput(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
        if _has_nul(request.get_json(silent=True, cache=True)):
            raise nul
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if any(_has_nul(k) or _has_nul(v) for k, v in request.form.items(multi=True)):
            raise nul


def init_app(app: Flask) -> None:
    """Check every request before its view runs (MAX_CONTENT_LENGTH is Flask's own setting)."""
    app.before_request(refuse_unacceptable_input)

