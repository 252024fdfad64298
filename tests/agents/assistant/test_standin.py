"""The Messages API stand-in refuses what the real API would: otherwise the assistant's tests could
pass while sending requests Anthropic rejects."""
from __future__ import annotations

import anthropic
import pytest
from anthropic_standin import text, tool_use

TOOLS = [{"name": "find_availability", "description": "Free times.", "input_schema": {"type": "object", "properties": {}}}]
ASK = {"role": "user", "content": "Anything Monday?"}
USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "find_availability", "input": {}}]}


def result(tool_use_id: str = "toolu_1") -> dict:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": "{}"}


@pytest.fixture
def sdk(standin):
    with anthropic.Anthropic(api_key="sk-ant-test", base_url=standin.base_url, max_retries=0, timeout=5) as client:
        yield client


def create(sdk, messages, **extra):
    return sdk.messages.create(model="claude-sonnet-5-5", max_tokens=100, tools=TOOLS, messages=messages, **extra)


def test_a_scripted_answer_reaches_the_sdk_as_a_message(sdk, standin):
    standin.script(tool_use("find_availability", {"date": "2030-01-07"}, id="toolu_9", say="Looking."), text("Yes."))
    first = create(sdk, [ASK])
    assert (first.type, first.role, first.model, first.stop_reason) == ("message", "assistant", "claude-sonnet-5-5",
                                                                        "tool_use")
    assert [b.type for b in first.content] == ["text", "tool_use"]
    assert first.content[1].id == "toolu_9" and first.content[1].input == {"date": "2030-01-07"}
    assert first.usage.input_tokens > 0
    second = create(sdk, [ASK, first.to_param(), {"role": "user", "content": [result("toolu_9")]}])
    assert second.stop_reason == "end_turn" and second.content[0].text == "Yes."


@pytest.mark.parametrize("messages, reason", [
    ([USE], "roles must alternate"),
    ([ASK, ASK], "roles must alternate"),
    ([ASK, USE, {"role": "user", "content": "Well?"}], "tool_use ids were found without tool_result"),
    ([ASK, USE, {"role": "user", "content": [result("toolu_2")]}], "unexpected tool_use_id"),
    ([ASK, USE, {"role": "user", "content": [{"type": "text", "text": "and"}, result()]}],
     "tool_result blocks must come before"),
    ([ASK, {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "book_slot", "input": {}}]},
      {"role": "user", "content": [result("t")]}], "not among the request's tools"),
    ([{"role": "user", "content": [{"type": "text", "text": ""}]}], "must be non-empty"),
    ([ASK, {"role": "assistant", "content": "Sure"}], "last message must be the user's"),
])
def test_malformed_requests_are_refused(sdk, standin, messages, reason):
    with pytest.raises(anthropic.BadRequestError) as caught:
        create(sdk, messages)
    assert reason in str(caught.value)
    assert standin.calls == 0 and len(standin.refused) == 1
    standin.refused.clear()  # expected here; the fixture fails any other test that has some


def test_an_unscripted_call_fails_loudly(sdk, standin):
    with pytest.raises(anthropic.InternalServerError):
        create(sdk, [ASK])
