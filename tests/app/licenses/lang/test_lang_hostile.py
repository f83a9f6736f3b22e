"""Hostile scripts: each is refused at check time or stopped, quickly, by a bound of the language.

None may crash the host (RecursionError, MemoryError, OverflowError) or run for long: the
tests assert the exception type, that the message names the limit it hit, and the host time.
"""

from __future__ import annotations

import sys
import time

import pytest

from app.licenses.lang import (
    Limits,
    MemoryExceeded,
    OutOfGas,
    ScriptError,
    ScriptRuntimeError,
    check_script,
    run_authorize,
)
from app.licenses.lang.context import example_context
from app.licenses.lang.errors import MemoryFault
from app.licenses.lang.limits import DEFAULT_LIMITS
from app.licenses.lang.values import ListV, render

# (name, script, expected exception type(s), a fragment of the message)
Expected = type[Exception] | tuple[type[Exception], ...] | None
HOSTILE: list[tuple[str, str, Expected, str]] = [
    (
        "huge range",
        "def authorize(ctx):\n    for i in range(10**9):\n        pass\n",
        ScriptRuntimeError,
        "exceeds max_loop_range 100000",
    ),
    (
        "range past a C ssize_t",
        "def authorize(ctx):\n    for i in range(2**255):\n        pass\n",
        ScriptRuntimeError,
        "exceeds max_loop_range",
    ),
    (
        "materialised huge range",
        "def authorize(ctx):\n    return allow(fee=len(range(10**70)))\n",
        ScriptRuntimeError,
        "exceeds max_loop_range",
    ),
    (
        "nested loops",
        "def authorize(ctx):\n    x = 0\n    for i in range(100000):\n"
        "        for j in range(100000):\n            x += 1\n",
        OutOfGas,
        "gas limit 150000",
    ),
    (
        "deep recursion",
        "def f(n):\n    return f(n + 1)\n\n\ndef authorize(ctx):\n    return f(0)\n",
        ScriptRuntimeError,
        "call depth limit 32",
    ),
    (
        "mutual recursion",
        "def f(n):\n    return g(n)\n\n\ndef g(n):\n    return f(n)\n\n\ndef authorize(ctx):\n"
        "    return f(0)\n",
        ScriptRuntimeError,
        "call depth limit 32",
    ),
    (
        "recursion in a constant",
        "def f(n):\n    return f(n)\n\n\nX = f(1)\n\n\ndef authorize(ctx):\n    return allow()\n",
        ScriptRuntimeError,
        "call depth limit",
    ),
    (
        "exponential string",
        "def authorize(ctx):\n    s = 'ab'\n    for i in range(64):\n        s = s + s\n",
        MemoryExceeded,
        "max_str_len 8192",
    ),
    (
        "list doubling",
        "def authorize(ctx):\n    l = [0]\n    for i in range(64):\n        l = l + l\n",
        (OutOfGas, MemoryExceeded),
        "limit",
    ),
    (
        "list repetition",
        "def authorize(ctx):\n    l = [0] * 10**9\n",
        (OutOfGas, MemoryExceeded),
        "limit",
    ),
    (
        "nested list repetition rendered",
        "def authorize(ctx):\n    l = [[0] * 1000] * 1000\n    return allow(note=str(l))\n",
        MemoryExceeded,
        "longer than max_str_len 8192",
    ),
    (
        "tower of powers",
        "def authorize(ctx):\n    return 10**10**10\n",
        ScriptRuntimeError,
        "exceeds 256 bits",
    ),
    (
        "power of a power",
        "def authorize(ctx):\n    return 2**(2**20)\n",
        ScriptRuntimeError,
        "exceeds 256 bits",
    ),
    (
        "multiplication chain",
        "def authorize(ctx):\n    x = 3\n    for i in range(1000):\n        x = x * x\n",
        ScriptRuntimeError,
        "integer overflow",
    ),
    (
        "string repetition",
        "def authorize(ctx):\n    return 'a' * 10**9\n",
        MemoryExceeded,
        "max_str_len 8192",
    ),
    (
        "string repetition past a C ssize_t",
        "def authorize(ctx):\n    return 'a' * 2**200\n",
        MemoryExceeded,
        "max_str_len",
    ),
    (
        "empty list repeated a huge number of times",
        "def authorize(ctx):\n    return allow(fee=len([] * 2**200 + [1]))\n",
        None,
        "",
    ),
    (
        "sorted of a huge list",
        "def authorize(ctx):\n    l = range(100000)\n    return sorted(l + l + l)\n",
        (OutOfGas, MemoryExceeded),
        "limit",
    ),
    (
        "aliased exponential structure compared",
        "def authorize(ctx):\n    a = [1]\n    b = [1]\n    for i in range(30):\n"
        "        a = [a, a]\n        b = [b, b]\n    return allow(fee=int(a == b))\n",
        OutOfGas,
        "gas limit",
    ),
    (
        "aliased wide structure rendered",
        "def authorize(ctx):\n    a = [1, 1, 1, 1]\n    for i in range(20):\n"
        "        a = [a, a, a, a]\n    return allow(note=str(a))\n",
        MemoryExceeded,
        "longer than max_str_len 8192",
    ),
    (
        "deeply nested value",
        "def authorize(ctx):\n    a = []\n    for i in range(100):\n        a = [a]\n",
        ScriptRuntimeError,
        "max_value_depth 32",
    ),
    (
        "many strings",
        "def authorize(ctx):\n    for i in range(100000):\n        s = 'x' * 8000\n",
        (OutOfGas, MemoryExceeded),
        "limit",
    ),
    (
        "int parsing",
        "def authorize(ctx):\n    return int('9' * 5000)\n",
        ScriptRuntimeError,
        "integer overflow",
    ),
    (
        "dunder escape",
        "def authorize(ctx):\n    return ().__class__.__bases__[0].__subclasses__()\n",
        ScriptError,
        "cannot be called",
    ),
    (
        "dunder through the context",
        "def authorize(ctx):\n    return ctx.__dict__\n",
        ScriptError,
        "'_'",
    ),
    ("import", "import os\n\n\ndef authorize(ctx):\n    return allow()\n", ScriptError, "imports"),
    ("exec", "def authorize(ctx):\n    return exec('1')\n", ScriptError, "exec"),
    ("eval", "def authorize(ctx):\n    return eval('1')\n", ScriptError, "eval"),
    ("open", "def authorize(ctx):\n    return open('/etc/passwd')\n", ScriptError, "open"),
    ("getattr", "def authorize(ctx):\n    return getattr(ctx, 'x')\n", ScriptError, "getattr"),
    ("float", "def authorize(ctx):\n    return allow(fee=0.5)\n", ScriptError, "float"),
    ("division", "def authorize(ctx):\n    return allow(fee=1 / 2)\n", ScriptError, "'/'"),
    ("while", "def authorize(ctx):\n    while True:\n        pass\n", ScriptError, "while"),
]


@pytest.mark.parametrize(
    ("name", "source", "expected", "message"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_hostile_scripts_are_refused_or_stopped(
    name: str,
    source: str,
    expected: type[Exception] | tuple[type[Exception], ...] | None,
    message: str,
) -> None:
    started = time.monotonic()
    if expected is None:
        run_authorize(check_script(source), example_context())
    else:
        with pytest.raises(expected) as caught:
            run_authorize(check_script(source), example_context())
        assert message in str(caught.value)
        if isinstance(caught.value, ScriptRuntimeError):
            assert caught.value.line >= 1 and caught.value.col >= 1
            assert 0 < caught.value.gas_used <= DEFAULT_LIMITS.gas_limit
            assert f"gas used {caught.value.gas_used}" in str(caught.value) or not isinstance(
                caught.value, MemoryExceeded
            )
    assert time.monotonic() - started < 2


def test_out_of_gas_reports_the_limit_and_the_gas_used() -> None:
    program = check_script("def authorize(ctx):\n    for i in range(100000):\n        pass\n")
    with pytest.raises(OutOfGas) as caught:
        run_authorize(program, {}, gas_limit=5_000)
    assert caught.value.gas_used == 5_000
    assert "gas limit 5000" in caught.value.reason
    assert (caught.value.line, caught.value.col) in ((2, 5), (3, 9))  # the loop or its body


def test_memory_is_counted_cumulatively() -> None:
    source = "def authorize(ctx):\n    for i in range(200):\n        s = 'x' * 8000\n"
    with pytest.raises(MemoryExceeded, match="memory limit 1000000"):
        run_authorize(check_script(source), {}, gas_limit=10**9)


def test_the_evaluator_never_nears_the_host_recursion_limit() -> None:
    """The deepest script the limits allow runs within 700 frames of the host's stack."""
    depth = 60
    expression = "(" * depth + "n" + " + 1)" * depth
    source = (
        f"def f(n):\n    if n > 10000:\n        return n\n    return f({expression})\n\n\n"
        "def authorize(ctx):\n    return allow(fee=f(0))\n"
    )
    program = check_script(source, Limits(max_ast_depth=200))
    base = len(_stack())
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(base + 700)
    try:
        with pytest.raises(ScriptRuntimeError, match="evaluation depth limit 256"):
            run_authorize(program, {}, Limits(max_ast_depth=200))
        recursing = check_script(
            "def f(n):\n    if n == 0:\n        return 0\n    return 1 + f(n - 1)\n\n\n"
            "def authorize(ctx):\n    return allow(fee=f(30))\n"
        )
        assert run_authorize(recursing, {}).decision.fee == 30
    finally:
        sys.setrecursionlimit(old)


def _stack() -> list[object]:
    frames = []
    frame = sys._getframe()
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back  # type: ignore[assignment]
    return frames


def test_int_dict_keys_cannot_share_a_hash() -> None:
    """Ints equal modulo 2**61 - 1 hash alike: a dict of them would be scanned on every access."""
    step = 2**61 - 1
    colliding = ", ".join(f"{i * step}: {i}" for i in range(1, 4))
    refused = f"def authorize(ctx):\n    d = {{{colliding}}}\n    return allow()\n"
    with pytest.raises(ScriptRuntimeError, match="below 2\\*\\*61"):
        run_authorize(check_script(refused), {})
    lookups = (
        "def authorize(ctx):\n    d = {2 ** 61 - 2: 1, -(2 ** 61 - 2): 2, 'k': 3}\n"
        "    return allow(fee=d[2 ** 61 - 2] + d[-(2 ** 61 - 2)] + (5 if 2 ** 70 in d else 0))\n"
    )
    assert run_authorize(check_script(lookups), {}).decision.fee == 3
    missing = "def authorize(ctx):\n    d = {1: 1}\n    return allow(fee=d[2 ** 70])\n"
    with pytest.raises(ScriptRuntimeError, match="has no key"):
        run_authorize(check_script(missing), {})


def _render_seconds(length: int) -> float:
    """Thread time of str() of a list of ``length`` zeros, which stops at max_str_len."""
    items = ListV((0,) * length, length + 4, 1)
    started = time.thread_time()
    with pytest.raises(MemoryFault):
        render(items, DEFAULT_LIMITS.max_str_len)
    return time.thread_time() - started


def test_str_of_a_long_list_walks_only_what_fits_in_the_text() -> None:
    """str() charges for at most the max_str_len characters it writes, so its host work must
    stop there too: rendering a list of a million elements (as ``[0] * 130000`` at the default
    limits, 4.7 times a plain loop's cost per gas) must not first copy the whole list."""
    short = min(_render_seconds(4_000) for _ in range(3))
    long = min(_render_seconds(1_000_000) for _ in range(3))
    assert long < 5 * short + 0.005, (short, long)
