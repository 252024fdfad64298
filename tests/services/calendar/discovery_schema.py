"""Check a JSON value against a schema of the Calendar v3 discovery document.

The document is the copy that ships inside google-api-python-client, so it is the contract the
real client is built from. Checking every stand-in response against it (unknown properties
rejected, types and formats checked) keeps the stand-in's shapes faithful to Google's.
"""
from __future__ import annotations

import functools
import importlib.resources
import json
import re
from datetime import date, datetime

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT64 = re.compile(r"-?\d+")
_INT32_RANGE = range(-(2**31), 2**31)


@functools.cache
def schemas() -> dict:
    """The `schemas` section of the discovery document shipped with google-api-python-client."""
    document = importlib.resources.files("googleapiclient").joinpath(
        "discovery_cache/documents/calendar.v3.json")
    return json.loads(document.read_text(encoding="utf-8"))["schemas"]


def validate(schema_name: str, obj) -> None:
    """Raise AssertionError (with a path like `Event.start.dateTime`) unless obj fits the schema."""
    _check(schemas()[schema_name], obj, schema_name)


def _check(schema: dict, value, path: str) -> None:
    if "$ref" in schema:
        _check(schemas()[schema["$ref"]], value, path)
        return
    kind = schema.get("type")
    if kind == "any":
        return
    if kind == "object":
        _check_object(schema, value, path)
    elif kind == "array":
        if not isinstance(value, list):
            raise AssertionError(f"{path}: expected array, got {value!r}")
        for index, item in enumerate(value):
            _check(schema["items"], item, f"{path}[{index}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise AssertionError(f"{path}: expected string, got {value!r}")
        _check_format(schema.get("format"), value, path)
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise AssertionError(f"{path}: expected integer, got {value!r}")
        if schema.get("format") == "int32" and value not in _INT32_RANGE:
            raise AssertionError(f"{path}: {value} does not fit int32")
    elif kind == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise AssertionError(f"{path}: expected number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise AssertionError(f"{path}: expected boolean, got {value!r}")
    else:
        raise AssertionError(f"{path}: the schema has unsupported type {kind!r}")


def _check_object(schema: dict, value, path: str) -> None:
    if not isinstance(value, dict):
        raise AssertionError(f"{path}: expected object, got {value!r}")
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            _check(properties[key], item, f"{path}.{key}")
        elif additional is not None:
            _check(additional, item, f"{path}.{key}")
        else:
            raise AssertionError(f"{path}.{key}: unknown property")


def _check_format(fmt: str | None, value: str, path: str) -> None:
    if fmt == "date-time":
        if not (_RFC3339.fullmatch(value) and _parses(datetime.fromisoformat, value)):
            raise AssertionError(f"{path}: {value!r} is not an RFC 3339 date-time")
    elif fmt == "date":
        if not (_DATE.fullmatch(value) and _parses(date.fromisoformat, value)):
            raise AssertionError(f"{path}: {value!r} is not a date (YYYY-MM-DD)")
    elif fmt == "int64":
        if not _INT64.fullmatch(value):
            raise AssertionError(f"{path}: {value!r} is not an int64 string")


def _parses(parse, value: str) -> bool:
    """The pattern lets impossible dates such as month 13 through; the parser does not."""
    try:
        parse(value)
    except ValueError:
        return False
    return True
