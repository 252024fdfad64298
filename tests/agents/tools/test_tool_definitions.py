"""GET /api/ai/tools: Claude tool definitions generated from the models the endpoint validates with.

The schema and the endpoint are checked against each other: whatever the schema accepts, the
endpoint accepts; a required field missing, an unknown field or a value of the wrong type is refused
by both; the fields the schema names are exactly the fields the endpoint takes."""
from __future__ import annotations

import re
import uuid

import jsonschema
import pytest
from pydantic import ValidationError

from app.agents.tools import ACTIONS, TOOLS, tool_definitions, tool_fields

DEFINITIONS = {d["name"]: d for d in tool_definitions()}
Validator = jsonschema.Draft202012Validator
FORMAT_CHECKER = Validator.FORMAT_CHECKER


def schema_of(name: str) -> dict:
    return DEFINITIONS[name]["input_schema"]


def schema_accepts(name: str, arguments: dict) -> bool:
    return Validator(schema_of(name), format_checker=FORMAT_CHECKER).is_valid(arguments)


def model_accepts(name: str, arguments: dict) -> bool:
    try:
        TOOLS[name].model.model_validate(arguments)
    except ValidationError:
        return False
    return True


def sample(prop: dict):
    """A value the property's schema allows."""
    if "enum" in prop:
        return prop["enum"][-1]
    if prop["type"] == "boolean":
        return True
    if prop["type"] == "array":
        return [sample(prop["items"])]
    if prop["type"] == "integer":
        return max(prop.get("minimum", 1), min(prop.get("maximum", 30), 30))
    return {"uuid": str(uuid.uuid4()), "date": "2030-01-07", "date-time": "2030-01-07T09:00:00Z"}.get(
        prop.get("format"), "abc@example.com"[: prop.get("maxLength", 50)])


def wrong(prop: dict):
    """A value of the wrong type or shape for the property."""
    if prop["type"] == "integer":
        return "sixty"
    if "enum" in prop:
        return "not-valid"
    return 42


def full_example(name: str) -> dict:
    return {field: sample(prop) for field, prop in schema_of(name)["properties"].items()}


def minimal_example(name: str) -> dict:
    schema = schema_of(name)
    return {field: sample(schema["properties"][field]) for field in schema["required"]}


def test_tools_endpoint_is_public_and_serves_the_generated_definitions(client):
    response = client.get("/api/ai/tools")
    assert response.status_code == 200
    data = response.get_json()
    assert data["tools"] == tool_definitions()
    assert [tool["name"] for tool in data["tools"]] == list(ACTIONS)
    assert data["scopes"] == {name: tool.scope for name, tool in TOOLS.items()}


def test_the_specs_six_tools_in_its_order_then_list_services_and_the_class_tools():
    assert ACTIONS == ("find_availability", "book_slot", "reschedule_booking", "cancel_booking", "get_booking",
                       "get_bookings", "list_services", "find_classes", "book_class")
    assert list(DEFINITIONS) == list(ACTIONS)


@pytest.mark.parametrize("name", ACTIONS)
def test_definition_is_a_valid_claude_tool(name):
    definition = DEFINITIONS[name]
    assert set(definition) == {"name", "description", "input_schema"}
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", definition["name"])
    assert len(definition["description"]) > 40
    schema = definition["input_schema"]
    Validator.check_schema(schema)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert not {"anyOf", "oneOf", "allOf"} & set(schema)  # Claude refuses these at the top level
    assert "action" not in schema["properties"]  # the tool's name is the action
    for field, prop in schema["properties"].items():
        assert prop.get("description"), f"{name}.{field} has no description"
        assert "title" not in prop


@pytest.mark.parametrize("name", ACTIONS)
def test_schema_fields_are_the_fields_the_endpoint_takes(name):
    assert list(schema_of(name)["properties"]) == tool_fields(name)
    for field in tool_fields(name):
        assert re.fullmatch(r"[a-z]+([A-Z][a-z]*)*", field), f"{field} is not camelCase"


@pytest.mark.parametrize("name", ACTIONS)
def test_what_the_schema_accepts_the_endpoint_accepts(name):
    for example in (full_example(name), minimal_example(name)):
        assert schema_accepts(name, example), example
        assert model_accepts(name, example), example


@pytest.mark.parametrize("name", ACTIONS)
def test_required_fields_agree(name):
    required = schema_of(name)["required"]
    model_required = [info.alias for info in TOOLS[name].model.model_fields.values() if info.is_required()]
    assert sorted(required) == sorted(model_required)
    for field in required:
        example = full_example(name)
        del example[field]
        assert not schema_accepts(name, example)
        assert not model_accepts(name, example)
    # Optional fields may be left out: the minimal example names none of them.
    assert set(minimal_example(name)) == set(required)


@pytest.mark.parametrize("name", ACTIONS)
def test_unknown_and_wrongly_typed_fields_are_refused_by_both(name):
    example = minimal_example(name)
    assert not schema_accepts(name, {**example, "bogusField": 1})
    assert not model_accepts(name, {**example, "bogusField": 1})
    for field, prop in schema_of(name)["properties"].items():
        bad = {**example, field: wrong(prop)}
        assert not schema_accepts(name, bad), (field, bad[field])
        assert not model_accepts(name, bad), (field, bad[field])
        # A string in the wrong format too, where jsonschema knows the format (uuid, date).
        if prop.get("format") in FORMAT_CHECKER.checkers:
            bad = {**example, field: "not-valid"}
            assert not schema_accepts(name, bad) and not model_accepts(name, bad), field


@pytest.mark.parametrize("name", ACTIONS)
def test_limits_agree(name):
    for field, prop in schema_of(name)["properties"].items():
        example = minimal_example(name)
        if "maximum" in prop:
            example[field] = prop["maximum"] + 1
        elif "maxLength" in prop:
            example[field] = "x" * (prop["maxLength"] + 1)
        elif "maxItems" in prop:
            example[field] = [sample(prop["items"])] * (prop["maxItems"] + 1)
        else:
            continue
        assert not schema_accepts(name, example) and not model_accepts(name, example), field


def test_the_spec_examples_fit_the_schemas():
    find = {"organizationSlug": "atlas-fitness", "date": "2024-03-15", "duration": 60, "limit": 5}
    book = {"organizationSlug": "atlas-fitness", "staffId": str(uuid.uuid4()), "appointmentTypeId": str(uuid.uuid4()),
            "startTime": "2024-03-15T10:00:00Z", "endTime": "2024-03-15T11:00:00Z", "attendeeName": "John Smith",
            "attendeeEmail": "john@example.com", "attendeePhone": "+44 7700 900123"}
    for name, arguments in (("find_availability", find), ("book_slot", book)):
        assert schema_accepts(name, arguments) and model_accepts(name, arguments)
