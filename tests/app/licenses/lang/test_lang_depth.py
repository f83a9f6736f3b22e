"""Depth is the interpreter's count, never the host's stack.

The deepest scripts the limits allow (chains of calls, nested statements, nested expressions,
nested values) use fewer Python frames than ``stack.frames_to_run`` says, and a run started with
almost no recursion headroom left still ends where the script's own limits stop it: the same
answer whatever the caller's stack looks like.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from app.licenses.lang import ScriptRuntimeError, check_script, run_authorize
from app.licenses.lang.limits import DEFAULT_LIMITS
from app.licenses.lang.stack import frames_to_run


def _depth(frame: FrameType | None) -> int:
    depth = 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


def _call_chain(functions: int, wrap: tuple[str, str], times: int) -> str:
    """f0 calls f1 ... inside ``times`` nested wrappers each; authorize calls f0."""
    parts = []
    for i in range(functions):
        inner = f"f{i + 1}(n)" if i + 1 < functions else "n"
        parts.append(f"def f{i}(n):\n    return {wrap[0] * times}{inner}{wrap[1] * times}\n")
    parts.append("def authorize(ctx):\n    x = f0(0)\n    return allow()\n")
    return "\n".join(parts)


def _nested_ifs(levels: int) -> str:
    body = "".join("    " * (i + 1) + "if n >= 0:\n" for i in range(levels))
    body += "    " * (levels + 1) + "return g(n + 1)\n"
    return (
        f"def g(n):\n    if n > 6:\n        return n\n{body}    return 0\n\n\n"
        "def authorize(ctx):\n    return allow(fee=g(0))\n"
    )


def _nested_values() -> str:
    return (
        "def authorize(ctx):\n    a = [0]\n    b = [0]\n    for i in range(30):\n"
        "        a = [a]\n        b = [b]\n    x = a == b\n    y = a < [b]\n    z = str(a)\n"
        "    return allow(note=str(sorted([a, b])))\n"
    )


DEEP: list[tuple[str, str]] = [
    ("calls in abs()", _call_chain(28, ("abs(", ")"), 6)),
    ("calls in lists", _call_chain(25, ("[", "]"), 7)),
    ("calls in len([])", _call_chain(20, ("len([", "])"), 5)),
    ("calls in parentheses", _call_chain(32, ("(", " + 1)"), 5)),
    ("calls in dicts", _call_chain(12, ("{'k': ", "}"), 12)),
    ("nested ifs with recursion", _nested_ifs(30)),
    ("recursion to the call limit", _call_chain(40, ("", ""), 0)),
    ("nested values", _nested_values()),
    (
        "deep module constant",
        "X = "
        + "[" * 31
        + "0"
        + "]" * 31
        + "\n\ndef authorize(ctx):\n    return allow(note=str(X))\n",
    ),
]


def _max_frames(run: Callable[[], Any]) -> int:
    """The deepest stack, relative to the caller, while ``run`` runs."""
    base = _depth(sys._getframe())
    deepest = base

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal deepest
        if event == "call":
            deepest = max(deepest, _depth(frame))

    sys.setprofile(profile)
    try:
        run()
    except ScriptRuntimeError:
        pass
    finally:
        sys.setprofile(None)
    return deepest - base


def _outcome(source: str) -> str:
    try:
        result = run_authorize(check_script(source), {})
    except ScriptRuntimeError as err:
        return f"{type(err).__name__}: {err}"
    return f"{result.decision} {result.gas_used}"


@pytest.mark.parametrize(("name", "source"), DEEP, ids=[name for name, _ in DEEP])
def test_the_deepest_scripts_stay_within_the_frames_the_machine_reserves(
    name: str, source: str
) -> None:
    used = _max_frames(lambda: run_authorize(check_script(source), {}))
    assert used < frames_to_run(DEFAULT_LIMITS), name


@pytest.mark.parametrize(("name", "source"), DEEP, ids=[name for name, _ in DEEP])
def test_a_caller_with_little_stack_left_gets_the_same_answer(name: str, source: str) -> None:
    expected = _outcome(source)
    old = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(_depth(sys._getframe()) + 30)
        assert _outcome(source) == expected
    finally:
        sys.setrecursionlimit(old)


def test_a_limit_of_the_script_stops_the_deepest_chains() -> None:
    assert "call depth limit 32" in _outcome(_call_chain(40, ("", ""), 0))
    assert "evaluation depth limit 256" in _outcome(_call_chain(28, ("abs(", ")"), 6))
