"""Evaluation of every construct of the license language, table-driven, against Python's own."""

from __future__ import annotations

import textwrap

import pytest

from app.licenses.lang import (
    Decision,
    ScriptRuntimeError,
    check_script,
    run_authorize,
)
from app.licenses.lang.context import example_context


def result_of(body: str, prelude: str = "", ctx: dict[str, object] | None = None) -> str:
    """Run ``body`` (the inside of authorize, which sets ``r``) and return ``str(r)``."""
    source = prelude + "\ndef authorize(ctx):\n" + textwrap.indent(body, "    ")
    source += "\n    return allow(note=str(r))\n"
    outcome = run_authorize(check_script(source), ctx if ctx is not None else example_context())
    return outcome.decision.note


EXPRESSIONS = [
    ("1 + 2 * 3", 7),
    ("7 // 2", 3),
    ("-7 // 2", -4),
    ("7 // -2", -4),
    ("-7 % 3", 2),
    ("7 % -3", -2),
    ("2 ** 10", 1024),
    ("(-2) ** 3", -8),
    ("0 ** 0", 1),
    ("-(3 - 5)", 2),
    ("+4", 4),
    ("2 ** 255 - 1 + 2 ** 255", 2**256 - 1),
    ("'ab' + 'cd'", "abcd"),
    ("'ab' * 3", "ababab"),
    ("3 * 'ab'", "ababab"),
    ("'ab' * -1", ""),
    ("[1, 2] + [3]", [1, 2, 3]),
    ("[0] * 3", [0, 0, 0]),
    ("2 * [1, 'a']", [1, "a", 1, "a"]),
    ("{'a': 1, 2: 'b'}", {"a": 1, 2: "b"}),
    ("{'a': 1, 'a': 2}", {"a": 2}),
    ("[1, 2, 3][-1]", 3),
    ("'hello'[1]", "e"),
    ("{'k': [1, 2]}['k'][0]", 1),
    ("[1, 2, 3, 4][1:3]", [2, 3]),
    ("'hello'[:-2]", "hel"),
    ("'hello'[3:]", "lo"),
    ("1 < 2 < 3", True),
    ("1 < 3 < 2", False),
    ("1 == 1 != 2", True),
    ("'a' < 'b'", True),
    ("[1, 2] < [1, 3]", True),
    ("[1, 2] == [1, 2]", True),
    ("{'a': [1]} == {'a': [1]}", True),
    ("1 == 'a'", False),
    ("1 in [1, 2]", True),
    ("3 not in [1, 2]", True),
    ("'ell' in 'hello'", True),
    ("'k' in {'k': 1}", True),
    ("None is None", True),
    ("1 is not None", True),
    ("True and 'x'", "x"),
    ("0 or 'y'", "y"),
    ("[] or 0", 0),
    ("not []", True),
    ("not 'a'", False),
    ("'yes' if 1 > 0 else 'no'", "yes"),
    ("'yes' if 0 else 'no'", "no"),
    ("len('abc') + len([1]) + len({'a': 1})", 5),
    ("min([3, 1, 2])", 1),
    ("max(3, 9, 2)", 9),
    ("min('b', 'a')", "a"),
    ("sum([1, 2, 3])", 6),
    ("sum([1, 2], 10)", 13),
    ("range(3)", [0, 1, 2]),
    ("range(5, 0, -2)", [5, 3, 1]),
    ("sorted([3, 1, 2])", [1, 2, 3]),
    ("sorted(['b', 'a'])", ["a", "b"]),
    ("sorted([[2], [1, 5], [1]])", [[1], [1, 5], [2]]),
    ("sorted({'b': 1, 'a': 2})", ["b", "a"][::-1]),
    ("abs(-5)", 5),
    ("str(42) + str(None) + str(True)", "42NoneTrue"),
    ("str([1, 'a', None])", "[1, 'a', None]"),
    ("int('  -17 ')", -17),
    ("int(5)", 5),
    ("None", None),
]


@pytest.mark.parametrize(("expr", "expected"), EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_expressions_evaluate_like_python(expr: str, expected: object) -> None:
    assert result_of(f"r = {expr}") == str(expected)


STATEMENTS = [
    ("x = 1\nx += 2\nx *= 3\nr = x", "9"),
    ("a = b = 4\nr = a + b", "8"),
    ("s = 'a'\ns += 'b'\nr = s", "ab"),
    ("l = [1]\nl += [2]\nr = l", "[1, 2]"),
    ("r = 0\nif r:\n    r = 1\nelif 2 > 1:\n    r = 2\nelse:\n    r = 3", "2"),
    ("r = 0\nfor i in range(5):\n    r += i", "10"),
    (
        "r = 0\nfor i in range(10):\n    if i == 3:\n        continue\n"
        "    if i == 5:\n        break\n    r += i",
        "7",
    ),
    ("r = ''\nfor c in 'abc':\n    r = c + r", "cba"),
    ("r = []\nfor k in {'x': 1, 'y': 2}:\n    r += [k]", "['x', 'y']"),
    ("r = 0\nfor row in [[1, 2], [3]]:\n    for v in row:\n        r += v", "6"),
    ("pass\nr = 'ok'", "ok"),
    ("r = twice(4)", "8"),
    ("r = add(1) + add(1, 5)", "9"),
    ("r = fact(10)", "3628800"),
    ("r = even(10)", "True"),
    ("r = LIMIT * 2", "200"),
    ("r = nothing()", "None"),
    ("r = ctx.caller.org + ':' + ctx['caller']['org_kind']", "uni:academic"),
    ("r = ctx.caller.attributes['monthly_active_users']", "1000"),
    ("r = 'consumer' in ctx.caller.roles", "True"),
    ("r = len(ctx.params)", "0"),
]
PRELUDE = """
LIMIT = 100


def twice(n):
    return n * 2


def add(a, b=2):
    return a + b


def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)


def even(n):
    if n == 0:
        return True
    return odd(n - 1)


def odd(n):
    if n == 0:
        return False
    return even(n - 1)


def nothing():
    pass
"""


@pytest.mark.parametrize(("body", "expected"), STATEMENTS, ids=[b for b, _ in STATEMENTS])
def test_statements(body: str, expected: str) -> None:
    assert result_of(body, PRELUDE) == expected


def test_decisions() -> None:
    allowing = check_script("def authorize(ctx):\n    return allow(5, 'n')\n")
    assert run_authorize(allowing, {}).decision == Decision(True, 5, "n", "")
    keywords = check_script("def authorize(ctx):\n    return allow(note='n', fee=ctx.quantity)\n")
    assert run_authorize(keywords, {"quantity": 3}).decision == Decision(True, 3, "n", "")
    denying = check_script("def authorize(ctx):\n    return deny('no: ' + ctx.purpose)\n")
    assert run_authorize(denying, {"purpose": "x"}).decision == Decision(False, 0, "", "no: x")
    stored = check_script("def authorize(ctx):\n    d = allow()\n    return d\n")
    assert run_authorize(stored, {}).decision == Decision(True, 0, "", "")


RUNTIME_ERRORS = [
    ("r = 1 // 0", "division by zero", 4, 9),
    ("r = 1 % 0", "modulo by zero", 4, 9),
    ("r = 1 < 'a'", "cannot compare int with str", 4, 9),
    ("r = 1 + 'a'", "unsupported operand types for +: int and str", 4, 9),
    ("r = True + 1", "unsupported operand types for +: bool and int", 4, 9),
    ("r = [1][5]", "index 5 out of range", 4, 9),
    ("r = {'a': 1}['b']", "dict has no key 'b'", 4, 9),
    ("r = ctx.nope", "ctx has no field 'nope'", 4, 9),
    ("r = ctx.caller.zip", "ctx.caller has no field 'zip'", 4, 9),
    ("r = ctx.params['x']", "ctx.params has no key 'x'", 4, 9),
    ("x = [1]\nr = x.y", "only allowed on context records", 5, 9),
    ("r = 2 ** -1", "negative exponents", 4, 9),
    ("r = int('1.5')", "not a decimal integer", 4, 9),
    ("r = min([])", "empty sequence", 4, 9),
    ("r = sorted([1, 'a'])", "cannot compare", 4, 9),
    ("r = len(5)", "len() of int", 4, 9),
    ("r = {[1]: 2}", "dict keys are str or int", 4, 9),
    ("r = range(1, 5, 0)", "step must not be zero", 4, 9),
    ("if allow():\n    r = 1", "a decision has no truth value", 4, 5),
    ("r = y\ny = 1", "local name 'y' is used before it is assigned", 4, 9),
    ("r = allow(fee=-1)", "fee must be an int >= 0", 4, 9),
    ("r = deny('')", "reason must not be empty", 4, 9),
    ("r = deny(3)", "reason must be a str", 4, 9),
]


@pytest.mark.parametrize(
    ("body", "reason", "line", "col"), RUNTIME_ERRORS, ids=[b for b, *_ in RUNTIME_ERRORS]
)
def test_runtime_errors_carry_line_and_column(body: str, reason: str, line: int, col: int) -> None:
    with pytest.raises(ScriptRuntimeError) as caught:
        result_of(body, "X = 1\n")
    assert reason in caught.value.reason
    assert (caught.value.line, caught.value.col) == (line, col)
    assert caught.value.gas_used > 0


def test_authorize_must_return_a_decision() -> None:
    program = check_script("X = 1\n\n\ndef authorize(ctx):\n    return 1\n")
    with pytest.raises(ScriptRuntimeError, match=r"authorize must return allow\(...\) or deny"):
        run_authorize(program, {})


def test_module_constants_cost_gas_and_are_read_by_functions() -> None:
    plain = check_script("def authorize(ctx):\n    return allow(fee=7)\n")
    with_constant = check_script(
        "FEE = 3 + 4\n\n\ndef authorize(ctx):\n    return allow(fee=FEE)\n"
    )
    cheap, dear = run_authorize(plain, {}), run_authorize(with_constant, {})
    assert cheap.decision == dear.decision
    assert dear.gas_used > cheap.gas_used


def test_context_conversion_refuses_floats_and_oversize_values() -> None:
    program = check_script("def authorize(ctx):\n    return allow()\n")
    with pytest.raises(TypeError, match="float"):
        run_authorize(program, example_context(quantity=1.5))
    with pytest.raises(ValueError, match="bits"):
        run_authorize(program, example_context(quantity=2**300))
    with pytest.raises(ValueError, match="max_context_size"):
        run_authorize(program, example_context(params={"big": ["x" * 8000] * 3}))


def test_record_keys_are_sorted_whatever_the_host_order() -> None:
    program = check_script(
        "def authorize(ctx):\n    r = ''\n    for k in ctx.params:\n        r += k\n"
        "    return allow(note=r)\n"
    )
    forward = run_authorize(program, {"params": {"a": 1, "b": 2, "c": 3}})
    backward = run_authorize(program, {"params": {"c": 3, "b": 2, "a": 1}})
    assert forward == backward
    assert forward.decision.note == "abc"


def test_gas_limit_argument_overrides_the_limits() -> None:
    program = check_script("def authorize(ctx):\n    return allow()\n")
    assert run_authorize(program, {}, gas_limit=100).gas_used == run_authorize(program, {}).gas_used


def test_sorting_mixed_values_compares_the_same_pairs_everywhere() -> None:
    """A merge sort of our own: whether [[1], [None]]-like lists fail does not depend on
    which pairs a Python version's sort happens to compare."""
    body = "r = sorted([[3], [1, 'a'], [1], [2, None], [0]])"
    assert result_of(body) == "[[0], [1], [1, 'a'], [2, None], [3]]"
    with pytest.raises(ScriptRuntimeError, match="cannot compare"):
        result_of("r = sorted([[1], [None]])")
