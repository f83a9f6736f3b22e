"""Text in the language is the same on every Python: what the checker accepts, what str() writes.

Python classifies and escapes characters with its own Unicode database, which changes between
minor versions (3.11 ships Unicode 14, 3.12 15.0, 3.13 15.1). Scripts are therefore printable
ASCII, string literals may not name characters (``\\N{...}``), and the interpreter renders
strings inside containers by code point alone. These tests run the hostile cases by kind, then
run the same scripts under every Python installed here and compare the answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.text import quote
from app.licenses.lang import ScriptError, check_script, run_authorize
from app.licenses.lang.context import example_context
from app.licenses.lang.errors import MemoryFault
from app.licenses.lang.values import render

ROOT = Path(__file__).resolve().parents[4]

REFUSED: list[tuple[str, str, str]] = [
    (
        "non-ASCII identifier",
        "def authorize(ctx):\n    caf\u00e9 = 1\n    return allow()\n",
        "U+00E9",
    ),
    ("non-ASCII in a string", "def authorize(ctx):\n    return deny('\u00e9')\n", "U+00E9"),
    ("non-ASCII in a comment", "# \u2603\ndef authorize(ctx):\n    return allow()\n", "U+2603"),
    ("fullwidth letters", "def authorize(ctx):\n    return \uff41llow()\n", "U+FF41"),
    ("a tab", "def authorize(ctx):\n\treturn allow()\n", "a tab"),
    ("a carriage return", "def authorize(ctx):\r\n    return allow()\r\n", "U+000D"),
    ("a form feed", "\x0cdef authorize(ctx):\n    return allow()\n", "U+000C"),
    ("a NUL", "def authorize(ctx):\n    return allow()\n\x00", "U+0000"),
    (
        "a named escape",
        "def authorize(ctx):\n    return deny('\\N{SNOWMAN}')\n",
        "\\N{...} escapes are not allowed",
    ),
    (
        "a named escape new in Unicode 15",
        "def authorize(ctx):\n    return deny('\\N{SHAKING FACE}')\n",
        "\\N{...} escapes are not allowed",
    ),
    (
        "a raw string is skipped, a plain one is not",
        "def authorize(ctx):\n    return deny(r'\\N{SNOWMAN}' + \"\\N\")\n",
        "\\N{...} escapes are not allowed",
    ),
    (
        "a lone surrogate",
        "def authorize(ctx):\n    return deny('x\\ud800')\n",
        "lone surrogate",
    ),
    (
        "an unknown escape",
        "def authorize(ctx):\n    return deny('a\\qb')\n",
        "unknown escape",
    ),
    (
        "a named escape in a docstring",
        '"""\\N{SNOWMAN}"""\ndef authorize(ctx):\n    return allow()\n',
        "\\N{...} escapes are not allowed",
    ),
]


@pytest.mark.parametrize(("name", "source", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_text_whose_meaning_depends_on_the_python_is_refused(
    name: str, source: str, reason: str
) -> None:
    with pytest.raises(ScriptError) as caught:
        check_script(source)
    assert reason in caught.value.reason


def test_escapes_write_any_code_point() -> None:
    source = (
        "def authorize(ctx):\n"
        "    s = '\\u00e9\\U0001fae9\\u0378\\x00\\\\ \\'\"\\n\\t'\n"
        "    return allow(fee=len(s), note=s)\n"
    )
    decision = run_authorize(check_script(source), {}).decision
    assert decision.note == "\u00e9\U0001fae9\u0378\x00\\ '\"\n\t"
    assert decision.fee == 10


# Strings whose repr differs between Unicode versions: unassigned in 14, assigned in 15 or 15.1,
# combining marks, format characters, private use, an astral emoji, a lone surrogate.
TRICKY = "\u0378 \U0001fae8 \U0001fae9 \u0301 \u200b \ue000 \U0001f600 \ud800 \u00e9 ' \\"


def test_str_of_a_container_quotes_by_code_point_alone() -> None:
    source = (
        "def authorize(ctx):\n"
        "    return allow(note=str([ctx.params['t'], {'k': ctx.params['t']}]))\n"
    )
    ctx = example_context(params={"t": TRICKY})
    note = run_authorize(check_script(source), ctx).decision.note
    assert note == f"[{quote(TRICKY)}, {{'k': {quote(TRICKY)}}}]"
    assert note.isascii()
    assert "\\u0378" in note and "\\U0001fae9" in note and "\\ud800" in note


def test_quote_is_printable_ascii_and_reversible() -> None:
    quoted = quote(TRICKY)
    assert quoted.isascii() and quoted.isprintable()
    assert quoted[0] == quoted[-1] == "'"
    decoded = quoted[1:-1].encode().decode("unicode_escape")
    assert decoded == TRICKY.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")


def test_quote_shows_a_bounded_prefix() -> None:
    assert quote("x" * 100, 5) == "'xxxxx...'"
    assert quote("\U0001f600" * 3, 2) == "'\\U0001f600\\U0001f600...'"


SCRIPT = """
def describe(v):
    return str(v) + '|' + str(len(str(v)))


def authorize(ctx):
    t = ctx.params['t']
    words = sorted([t, t[1:], t[:3], 'abc', '\\u0378', '\\U0001fae9'])
    table = {t: 1, 'z': [t, None, True, -5]}
    note = describe(words) + describe(table) + describe(t in 'x' + t) + describe(t[2:4])
    fee = 0
    for c in t:
        fee = fee + len(str([c]))
    return allow(fee=fee, note=note[:500])
"""

RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from app.licenses.lang import check_script, run_authorize
from app.licenses.lang.context import example_context
data = json.loads(sys.stdin.read())
ctx = example_context(params={"t": data["t"]})
outcome = run_authorize(check_script(data["script"]), ctx)
print(json.dumps([outcome.decision.fee, outcome.decision.note, outcome.gas_used]))
"""


def _pythons() -> list[str]:
    """This interpreter and every supported minor installed under pyenv."""
    found = [sys.executable]
    for minor in ("3.11", "3.12", "3.13"):
        found += [str(p) for p in Path.home().glob(f".pyenv/versions/{minor}.*/bin/python{minor}")]
    return found


def _run(python: str, seed: str) -> list[object]:
    done = subprocess.run(
        [python, "-c", RUNNER, str(ROOT)],
        input=json.dumps({"script": SCRIPT, "t": TRICKY}),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
        check=False,
        timeout=120,
    )
    if done.returncode != 0 and "No module named" in done.stderr:
        pytest.skip(f"{python} lacks the app's dependencies: {done.stderr.strip()[-120:]}")
    assert done.returncode == 0, done.stderr
    result: list[object] = json.loads(done.stdout)
    return result


def test_text_handling_agrees_across_pythons_and_hash_seeds() -> None:
    """The license language alone (pure Python, protobuf only for imports) on every Python here."""
    expected = _run(sys.executable, "0")
    assert isinstance(expected[1], str) and "\\u0378" in expected[1]
    for python in _pythons():
        for seed in ("0", "7", "31337"):
            assert _run(python, seed) == expected, python


@pytest.mark.parametrize(
    ("value", "limit", "text"),
    [
        (12345, 5, "12345"),
        (-12345, 6, "-12345"),
        (2**256, 78, str(2**256)),
        (True, 4, "True"),
        (False, 5, "False"),
        (None, 4, "None"),
        (12345, 4, None),
        (-1, 1, None),
        (False, 4, None),
        (None, 0, None),
    ],
)
def test_str_of_a_scalar_is_pythons_text_within_the_limit(
    value: int | bool | None, limit: int, text: str | None
) -> None:
    """``str()`` of an int, a bool or None: Python's text, refused past max_str_len like any
    other rendering (the same message a container's rendering gives)."""
    if text is not None:
        assert render(value, limit) == text
        return
    with pytest.raises(MemoryFault, match=f"str\\(\\) of a value longer than max_str_len {limit}"):
        render(value, limit)
