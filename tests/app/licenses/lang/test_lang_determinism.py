"""Same script and context, same outcome: across processes, hash seeds, runs and Python itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.licenses.lang import ScriptRuntimeError, check_script, run_authorize
from app.licenses.lang.context import example_context

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = """
WEIGHTS = {"research": 1, "evaluation": 2, "inference": 5, "fine-tune": 9}


def score(ctx):
    total = 0
    for purpose in WEIGHTS:
        if purpose in ctx.params["seen"]:
            total += WEIGHTS[purpose] * len(purpose)
    for key in ctx.caller.attributes:
        total += len(key)
    return total


def authorize(ctx):
    names = sorted(ctx.params["seen"])
    fee = score(ctx) * ctx.quantity
    return allow(fee=fee, note=str(names) + " " + str(WEIGHTS))
"""
RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from app.licenses.lang import check_script, run_authorize
from app.licenses.lang.context import example_context
ctx = example_context(quantity=3, params={"seen": {"inference": 1, "research": 2, "zeta": 3}},
                      caller={"attributes": {"z": 1, "a": 2, "country": "NL"}})
outcome = run_authorize(check_script(sys.stdin.read()), ctx)
print(json.dumps([outcome.decision.allowed, outcome.decision.fee, outcome.decision.note,
                  outcome.gas_used]))
"""


def _run_with_seed(seed: str) -> list[object]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(ROOT)],
        input=SCRIPT,
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    result: list[object] = json.loads(done.stdout)
    return result


def test_outcome_is_identical_under_different_hash_seeds() -> None:
    first, second, third = _run_with_seed("0"), _run_with_seed("1"), _run_with_seed("4242")
    assert first == second == third
    assert first[0] is True


def _int_expressions() -> st.SearchStrategy[str]:
    leaves = st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: f"({n})")
    ops = st.sampled_from(["+", "-", "*", "//", "%"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, ops, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        power = st.tuples(inner, st.integers(0, 4)).map(lambda t: f"({t[0]} ** {t[1]})")
        negated = inner.map(lambda e: f"(-{e})")
        return binary | power | negated

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(_int_expressions())
def test_integer_arithmetic_agrees_with_python(expr: str) -> None:
    source = f"def authorize(ctx):\n    r = {expr}\n    return allow(note=str(r))\n"
    try:
        expected: int | None = eval(expr)  # the test's own trusted expression, not user code
    except ZeroDivisionError:
        expected = None
    program = check_script(source)
    if expected is None or expected.bit_length() > 256:
        try:
            run_authorize(program, {})
        except ScriptRuntimeError as error:
            assert "zero" in error.reason or "overflow" in error.reason
            return
        assert expected is not None  # an intermediate may overflow while the result fits
        return
    try:
        first = run_authorize(program, {})
    except ScriptRuntimeError as error:
        assert "overflow" in error.reason  # an intermediate beyond 256 bits
        return
    assert first.decision.note == str(expected)
    assert run_authorize(program, {}) == first


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(alphabet="abcxyz", min_size=0, max_size=5), max_size=8),
    st.integers(min_value=1, max_value=1000),
)
def test_gas_depends_only_on_script_and_context(roles: list[str], quantity: int) -> None:
    program = check_script(SCRIPT)
    ctx = example_context(quantity=quantity, params={"seen": {r: 1 for r in roles}})
    assert run_authorize(program, ctx) == run_authorize(program, ctx)
