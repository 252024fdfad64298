"""GSM-7, the alphabet of an SMS that fits 160 characters: what it holds, how long a text is in it,
and any text written in it.

One character outside the alphabet (an "ë", a curly quote, an emoji) sends the whole message as
UCS-2: 70 characters a segment instead of 160. So SMS text is transliterated first — letters lose
the accents GSM-7 does not have (ë → e, ł → l, þ → th), punctuation becomes its plain form (’ → ',
– → -, … → ...), and what has no Latin form (emoji, CJK, Cyrillic) is left out. The accented letters
GSM-7 has (é, è, ü, ø, å, ß, Æ…) stay as they are: they cost one septet like any letter.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# GSM 03.38: the basic table (one septet each; the escape to the extension table left out) and the
# extension table (two septets each: the escape, then the character).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_SEGMENT = {"GSM-7": 160, "UCS-2": 70}
# Longer messages go in parts, each giving a few units to the header that joins them.
PART = {"GSM-7": 153, "UCS-2": 67}

# What Unicode's compatibility decomposition (NFKD) does not turn into GSM-7 by itself.
TRANSLITERATIONS = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u2039\u203a`\u00b4", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2022\u00b7", "-"),
    "\u2026": "...", "\u2044": "/", "\u00d7": "x", "\u00f7": "/",
    "\u00a9": "(c)", "\u00ae": "(R)",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th",
    "œ": "oe", "Œ": "OE", "ı": "i", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T", "ŀ": "l", "Ŀ": "L",
    "ŋ": "ng", "Ŋ": "NG", "ĸ": "k", "ẞ": "SS",
}


@dataclass(frozen=True)
class SmsLength:
    """How a text goes as an SMS: its encoding, its length in that encoding's units (septets for
    GSM-7, UTF-16 code units for UCS-2) and how many segments it takes."""

    encoding: str
    units: int
    segments: int


def sms_length(text: str) -> SmsLength:
    """The length of `text` as an SMS, as a carrier counts it: GSM-7 when every character is in the
    alphabet (an extension character, such as € or {, counts two septets), UCS-2 otherwise."""
    if all(char in GSM_BASIC or char in GSM_EXTENSION for char in text):
        encoding, sizes = "GSM-7", [2 if char in GSM_EXTENSION else 1 for char in text]
    else:
        encoding, sizes = "UCS-2", [len(char.encode("utf-16-le")) // 2 for char in text]
    units = sum(sizes)
    if units <= SINGLE_SEGMENT[encoding]:
        return SmsLength(encoding, units, 1 if units else 0)
    segments, room = 1, PART[encoding]
    for size in sizes:  # a character is never split between two parts
        if size > room:
            segments, room = segments + 1, PART[encoding]
        room -= size
    return SmsLength(encoding, units, segments)


def to_gsm(text: str) -> str:
    """`text` in GSM-7 characters only: kept where the alphabet has the character, transliterated
    where it can be, left out otherwise (emoji, scripts without a Latin form)."""
    written = []
    for char in unicodedata.normalize("NFC", text):  # "e" + a combining accent is one letter
        if char in GSM_BASIC or char in GSM_EXTENSION:
            written.append(char)
        elif char in TRANSLITERATIONS:
            written.append(TRANSLITERATIONS[char])
        else:  # ë → e + ¨ (dropped); ﬁ → fi; a full-width Ａ → A; a no-break space → a space
            written += [part if part in GSM_BASIC or part in GSM_EXTENSION else TRANSLITERATIONS.get(part, "")
                        for part in unicodedata.normalize("NFKD", char)]
    return "".join(written)


def shorten(text: str, limit: int) -> str:
    """GSM-7 `text` in at most `limit` septets: as it is when it fits, otherwise cut — after a whole
    word where that keeps at least half of what fits — and ended with "..."."""
    if sms_length(text).units <= limit:
        return text
    room, end = limit - 3, 0
    for char in text:
        room -= 2 if char in GSM_EXTENSION else 1
        if room < 0:
            break
        end += 1
    head = text[:end]
    if not text[end].isspace() and head.rfind(" ") >= len(head) // 2:
        head = head[:head.rfind(" ")]
    return head.rstrip(" ,.;:-&(/+") + "..."
