"""A customer's name as every booking path keeps it (normalise_name): white space folded, control
characters out, letters of every script and their joiners kept."""
from __future__ import annotations

import pytest

from app.services.bookings import normalise_name
from app.services.errors import InvalidRequest


@pytest.mark.parametrize("raw", ["\x7f", "\x00\x1b", "\u0085\u009f", " \t\x7f\n "])
def test_a_name_of_control_characters_only_is_no_name(raw):
    with pytest.raises(InvalidRequest) as caught:
        normalise_name(raw)
    assert caught.value.fields == {"attendee_name": "required"}


@pytest.mark.parametrize(("raw", "kept"), [
    ("Ann\x1b[31m Lee", "Ann [31m Lee"),  # an escape sequence cannot colour a log or a terminal
    ("  Jane \x7f  Smith ", "Jane Smith"),
    ("\u0645\u200c\u06cc", "\u0645\u200c\u06cc"),  # Persian: the zero-width non-joiner is part of the name
    ("Zoë Ørsted", "Zoë Ørsted"),
])
def test_control_characters_go_and_letters_stay(raw, kept):
    assert normalise_name(raw) == kept
