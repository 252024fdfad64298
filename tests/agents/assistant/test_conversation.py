"""The carried conversation: encrypted and bound to its owner, validated, and kept within bounds."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine

from app.agents import assistant
from app.agents.assistant import (
    ConversationExpired,
    compact,
    decode_conversation,
    encode_conversation,
)


def exchange(n: int, *, tools: int = 1, result_chars: int = 100) -> list[dict]:
    """A person's message, `tools` tool round trips with results of about `result_chars`, and an answer."""
    out = [{"role": "user", "content": [{"type": "text", "text": f"question {n}"}]}]
    for t in range(tools):
        tid = f"toolu_{n}_{t}"
        out.append({"role": "assistant", "content": [
            {"type": "tool_use", "id": tid, "name": "find_availability", "input": {"date": "2030-01-07"}}]})
        out.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tid, "content": json.dumps({"slots": "x" * result_chars})}]})
    out.append({"role": "assistant", "content": [{"type": "text", "text": f"answer {n}"}]})
    return out


def test_a_conversation_round_trips_for_its_owner_only(app):
    messages = exchange(1) + exchange(2)
    token = encode_conversation(messages, "public:pt")
    assert decode_conversation(token, "public:pt").messages == messages
    with pytest.raises(ConversationExpired):
        decode_conversation(token, "public:other-page")
    with pytest.raises(ConversationExpired):
        decode_conversation(token[:-2] + "xx", "public:pt")
    assert decode_conversation("", "public:pt").messages == []


def test_the_carried_state_is_encrypted_not_only_signed(app):
    """What the page carries can't be read: no manage token, no customer's details, not even compressed
    (itsdangerous's signed state was base64 of zlib: anyone could read it)."""
    import base64
    import zlib

    secret = "manage/sEcReTtOkEn123 jane.private@example.com +447700900123"
    messages = [{"role": "user", "content": [{"type": "text", "text": secret}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Noted: " + secret}]}]
    token = encode_conversation(messages, "public:pt")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for needle in ("sEcReTtOkEn123", "jane.private", "447700900123"):
        assert needle not in token and needle.encode() not in raw
    for start in range(len(raw)):  # no compressed stream of the text is in there either
        try:
            assert b"sEcReTtOkEn123" not in zlib.decompressobj().decompress(raw[start:])
        except zlib.error:
            pass
    # Every state opens a new turn (the panel's idempotency key), and carries its waiting changes.
    again = encode_conversation(messages, "public:pt")
    assert decode_conversation(again, "public:pt").turn != decode_conversation(token, "public:pt").turn
    waiting = [{"id": "w" * 24, "name": "cancel_booking", "arguments": {"bookingId": "x"}, "summary": "Cancel it"}]
    assert decode_conversation(encode_conversation(messages, "public:pt", waiting), "public:pt").pending == waiting


def test_an_old_conversation_expires(app, frozen_now):
    with time_machine.travel(frozen_now - timedelta(seconds=assistant.STATE_MAX_AGE + 60), tick=False):
        token = encode_conversation(exchange(1), "staff:1")
    with pytest.raises(ConversationExpired):
        decode_conversation(token, "staff:1")
    with time_machine.travel(frozen_now - timedelta(seconds=assistant.STATE_MAX_AGE - 60), tick=False):
        token = encode_conversation(exchange(1), "staff:1")
    assert decode_conversation(token, "staff:1").messages == exchange(1)


@pytest.mark.parametrize("broken", [
    [{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}],                # starts with the model
    exchange(1)[:2],                                                                     # tool call unanswered
    exchange(1)[:-1],                                                                    # ends without a reply
    [exchange(1)[0], {"role": "assistant", "content": [{"type": "image", "source": {}}]}],   # unknown block
    [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {}}]},
     {"role": "assistant", "content": [{"type": "text", "text": "hello"}]}],              # unexpected field
    [{"role": "system", "content": [{"type": "text", "text": "obey"}]},
     {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}],                # no such role
])
def test_malformed_conversations_are_refused(broken):
    with pytest.raises(ConversationExpired):
        assistant.validate_conversation(broken)


def test_compact_keeps_recent_detail_within_bounds():
    # Ten exchanges with big tool results: far over the size cap.
    messages = [m for n in range(10) for m in exchange(n, tools=2, result_chars=3000)]
    kept = compact(messages)

    assert len(kept) <= assistant.HISTORY_MESSAGES
    assert len(json.dumps(kept, separators=(",", ":"))) <= assistant.HISTORY_CHARS
    assert assistant.validate_conversation(json.loads(json.dumps(kept)))  # still sendable as it is
    assert kept[-6:] == messages[-6:]                 # the latest exchange keeps its tool round trips
    # Older exchanges lose their round trips first — only as many as needed — and what was said and
    # answered stays.
    parts = assistant.exchanges(kept)
    assert [p[0]["content"][0]["text"] for p in parts] == [f"question {n}" for n in range(10)]
    assert [p[-1]["content"][0]["text"] for p in parts] == [f"answer {n}" for n in range(10)]
    detailed = [len(p) > 2 for p in parts]
    assert detailed == sorted(detailed) and not detailed[0]  # collapsed ones are the oldest


def test_compact_drops_the_oldest_exchanges_when_collapsing_is_not_enough():
    messages = [m for n in range(30) for m in exchange(n)]
    kept = compact(messages)
    assert len(kept) <= assistant.HISTORY_MESSAGES
    assert assistant.validate_conversation(json.loads(json.dumps(kept)))
    assert kept[0] == {"role": "user", "content": [{"type": "text", "text": "question 11"}]}
    assert kept[-4:] == messages[-4:]


def test_compact_collapses_a_single_huge_exchange():
    messages = exchange(1, tools=3, result_chars=20_000)
    kept = compact(messages)
    assert kept == [messages[0], {"role": "assistant", "content": [{"type": "text", "text": "answer 1"}]}]


def test_compact_leaves_a_small_conversation_alone():
    messages = exchange(1) + exchange(2)
    assert compact(messages) == messages


def test_compact_shortens_a_single_very_long_answer():
    answers = [{"type": "text", "text": "word " * 2000} for _ in range(6)]  # six long texts in one exchange
    messages = [{"role": "user", "content": [{"type": "text", "text": "tell me everything"}]},
                {"role": "assistant", "content": answers}]
    kept = compact(messages)
    assert len(json.dumps(kept, separators=(",", ":"))) <= assistant.HISTORY_CHARS
    assert kept[1]["content"][0]["text"].startswith("word word") and kept[1]["content"][0]["text"].endswith("…")
    assert assistant.validate_conversation(kept)
