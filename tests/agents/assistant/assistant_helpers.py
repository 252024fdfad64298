"""Helpers shared by the assistant tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone

MONDAY_9 = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)  # Alex's first free hour (time is frozen the day before)
HTMX = {"HX-Request": "true", "HX-Target": "assistant-log"}


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf_of(response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', text(response))
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


def state_of(response) -> str:
    """The signed conversation the assistant's form carries."""
    match = re.search(r'<input type="hidden" name="state" value="([^"]*)"', text(response))
    assert match, "no assistant form in the response"
    return html.unescape(match.group(1))


def said(response) -> list[tuple[str, str]]:
    """The conversation as shown: (who, text) of each bubble, in order."""
    out = []
    for match in re.finditer(r'<div class="assistant-msg assistant-msg--(\w+)[^"]*">(.*?)</div>', text(response), re.S):
        body = re.sub(r'<p class="assistant-msg__who">.*?</p>', "", match.group(2), flags=re.S)
        out.append((match.group(1), html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))).strip()))
    return out
