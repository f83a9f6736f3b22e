"""Hostile values for every kind of field: texts, integers and Unicode names by Unicode version.

CPython 3.11 ships Unicode 14.0, 3.12 ships 15.0 and 3.13 ships 15.1. A character assigned in
15.0 or 15.1 is unassigned (not printable, not an identifier character, no name) on the older
ones, so anything that depends on ``str.isprintable``, ``repr``, ``str.isidentifier``,
``unicodedata`` or ``\\N{...}`` can answer differently on different validators. The pools here
keep those characters apart (``NEW_UNICODE``) from characters whose properties are the same on
all three (``STABLE``): the generator uses the former only where a feature tag allows it.
"""

from __future__ import annotations

import random

RENDER = "render-new-unicode"
NAMED_ESCAPE = "named-escape-new"
IDENTIFIER = "identifier-new-unicode"
GOV_TEXT = "governance-text-new-unicode"
FEE_OVERFLOW = "fee-overflow"
LIMIT_SHRINK = "source-limit-shrink"
TAGS: dict[str, str] = {
    RENDER: "a script's str() of a container holding text whose printability changed "
    "between Unicode 14.0, 15.0 and 15.1 (fee, gas and receipt note)",
    NAMED_ESCAPE: "a \\N{...} escape naming a character of Unicode 15.0 / 15.1 (deploy check)",
    IDENTIFIER: "an identifier whose characters became identifier characters in Unicode "
    "15.0 / 15.1 (deploy check)",
    GOV_TEXT: "a failed governance action's stored result quoting newer-Unicode text with repr",
    FEE_OVERFLOW: "license fees near 2^64 (FinalizeBlock must refuse, not raise, when a total "
    "would overflow)",
    LIMIT_SHRINK: "a vote lowering max_license_source_bytes below deployed scripts' sizes (later "
    "uses must still work or be refused, not raise)",
}
"""Feature tags: the ways the generator knows to make validators on different Pythons disagree,
or a block stop the node. A tag's values appear in a sequence only when the tag is enabled."""

# Characters whose printability and identifier status are the same under Unicode 14.0-15.1:
# old assigned characters of every kind, and code points still unassigned in 15.1.
STABLE_CHARS: tuple[str, ...] = (
    "a",
    "Z",
    "0",
    " ",
    "\n",
    "\t",
    "\r",
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "\x80",
    "\x9f",
    "\xa0",
    "\xad",
    "'",
    '"',
    "\\",
    "\u00e9",
    "\u0301",  # COMBINING ACUTE ACCENT
    "\u00f1",
    "\u00df",
    "\u01c5",
    "\u65e5",
    "\u0378",  # unassigned in every Unicode the supported Pythons ship
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\ufffd",
    "\U0001f600",
    "\U0001fae9",  # unassigned until Unicode 16.0
    "\U000e0001",
    "\U0010ffff",
    "\ud7ff",
    "\U00010000",
    "\u0663",  # ARABIC-INDIC DIGIT THREE
    "\u00b2",
    "\uff11",  # FULLWIDTH DIGIT ONE
    "\ufb01",
)

# (character, the Unicode version that assigned it): printable, and some of them identifier
# characters or digits, only on the Pythons whose Unicode database has them.
NEW_UNICODE: tuple[tuple[str, str], ...] = (
    ("\U0001fae8", "15.0"),  # SHAKING FACE
    ("\U0001e030", "15.0"),  # MODIFIER LETTER CYRILLIC SMALL A (Lm, an identifier start)
    ("\U00011f00", "15.0"),  # KAWI SIGN CANDRABINDU (Mn)
    ("\U00011f50", "15.0"),  # KAWI DIGIT ZERO (Nd)
    ("\U0002ebf0", "15.1"),  # CJK UNIFIED IDEOGRAPH-2EBF0 (Lo)
    ("\u2ffc", "15.1"),  # IDEOGRAPHIC DESCRIPTION CHARACTER SURROUND FROM RIGHT
    ("\u31ef", "15.1"),  # CJK STROKE HXWG
)
NEW_CHARS: tuple[str, ...] = tuple(c for c, _ in NEW_UNICODE)

# \N{...} names: those every supported Python knows, those only Unicode 15.0 / 15.1 know, and
# names that exist nowhere.
STABLE_NAMES: tuple[str, ...] = (
    "LATIN SMALL LETTER E WITH ACUTE",
    "SNOWMAN",
    "ZERO WIDTH JOINER",
    "ZWJ",  # an alias
    "BYTE ORDER MARK",  # an alias
    "latin small letter a",  # lookups ignore case
    "CJK UNIFIED IDEOGRAPH-4E00",
    "HANGUL SYLLABLE GAG",
    "NULL",
)
NEW_NAMES: tuple[str, ...] = (
    "SHAKING FACE",  # 15.0
    "LIGHT BLUE HEART",  # 15.0
    "KAWI DIGIT ZERO",  # 15.0
    "MODIFIER LETTER CYRILLIC SMALL A",  # 15.0
    "CJK UNIFIED IDEOGRAPH-2EBF0",  # 15.1
    "IDEOGRAPHIC DESCRIPTION CHARACTER SURROUND FROM RIGHT",  # 15.1
)
MISSING_NAMES: tuple[str, ...] = ("NOT A CHARACTER NAME", "CJK UNIFIED IDEOGRAPH-3FFFF", "")

STABLE_TEXTS: tuple[str, ...] = (
    "",
    " ",
    "a",
    "plain words",
    "trailing newline\n",
    "\n",
    "\r\n",
    "tab\there",
    "nul\x00inside",
    "\x1b[31mred\x1b[0m",
    "\x7f\x80\x9f",
    "\u00e9",
    "e\u0301",  # e + combining acute: not NFC
    "\u00f1and\u00fa \u65e5\u672c\u8a9e",
    "quote ' and \" and \\",
    "\u0378",
    "\U0001fae9",
    "zero\u200bwidth",
    "\u202eevil",
    "\ufeffbom",
    "\U000e0001tag",
    "\U0010ffff",
    "\u2028line",
    "\ufdfd",
    "Z\u0351\u0352\u0357\u035b\u0340",  # combining marks stacked
    "\u0663\u00b2\uff11",
    "{'k': [1, 2]}",
)

U64_EXTREMES: tuple[int, ...] = (
    0,
    1,
    2**31 - 1,
    2**32 - 1,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
)
U32_EXTREMES: tuple[int, ...] = (0, 1, 2**16, 2**31 - 1, 2**31, 2**32 - 1)
S64_EXTREMES: tuple[int, ...] = (-(2**63), -(2**31), -1, 0, 1, 2**53 + 1, 2**63 - 1)
I64_EXTREMES: tuple[int, ...] = (-(2**63), -1, 0, 1, 2**50, 2**50 + 1, 2**62, 2**63 - 1)


def has_new_unicode(text: str) -> bool:
    """Whether ``text`` holds a character whose properties differ between Unicode 14.0-15.1."""
    return any(c in NEW_CHARS for c in text)


class Hostile:
    """Draws hostile values from a seeded generator; ``new_unicode`` allows NEW_UNICODE."""

    def __init__(self, rng: random.Random, new_unicode: bool) -> None:
        self.rng = rng
        self.new_unicode = new_unicode

    def char(self) -> str:
        """One character, sometimes one of another Unicode version's."""
        if self.new_unicode and self.rng.random() < 0.3:
            return self.rng.choice(NEW_CHARS)
        return self.rng.choice(STABLE_CHARS)

    def text(self, max_bytes: int = 256) -> str:
        """A hostile text: a fixed one, a random mix, exactly ``max_bytes`` or one more."""
        roll = self.rng.random()
        if roll < 0.35:
            text = self.rng.choice(STABLE_TEXTS)
        elif roll < 0.7:
            text = "".join(self.char() for _ in range(self.rng.randint(1, 12)))
        else:
            text = self.sized(max_bytes + self.rng.choice((0, 0, 1)))
        if self.new_unicode and self.rng.random() < 0.25:
            text += self.rng.choice(NEW_CHARS)
        return text

    def sized(self, n_bytes: int) -> str:
        """A text of exactly ``n_bytes`` UTF-8 bytes, multi-byte characters up to the end."""
        unit = self.char()
        if not unit.encode():
            unit = "\u00e9"
        out: list[str] = []
        size = 0
        while size + len(unit.encode()) <= n_bytes:
            out.append(unit)
            size += len(unit.encode())
        out.append("x" * (n_bytes - size))
        return "".join(out)

    def u64(self) -> int:
        return self.rng.choice(U64_EXTREMES)

    def u32(self) -> int:
        return self.rng.choice(U32_EXTREMES)

    def s64(self) -> int:
        return self.rng.choice(S64_EXTREMES)

    def i64(self) -> int:
        return self.rng.choice(I64_EXTREMES)
