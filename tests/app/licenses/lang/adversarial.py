"""Adversarial license scripts: every operation of the language at the sizes that hurt most.

Each kernel is one statement an attacker would repeat in a loop to make the host work hard for
little gas: copies, string building, scans, comparisons of long or nested values, hashing,
sorting, rendering, conversions, iteration set-up, calls that fill big frames. ``script``
composes a few kernels with sizes drawn from a seeded generator into a loop that runs until the
gas runs out; ``host_time_per_gas`` measures what that costs the host per unit of gas, beside
the plain loop's cost per gas. The gas fuzz test and ``benchmarks/license_gas_fuzz.py`` use it.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from typing import Any

from app.licenses.lang import (
    Limits,
    ScriptRuntimeError,
    check_script,
    run_authorize,
)
from app.licenses.lang.context import example_context

FUNCTIONS = """\
def many(a=1, b=2, c=3, d=4, e=5, f=6, g=7, h=8, i=9, j=10, k=11, l=12, m=13, n=14, o=15, p=16):
    return a


def rec(n):
    if n <= 0:
        return 0
    return rec(n - 1) + 1


"""

# The values kernels use, each built only when a kernel names it (in this order, since some
# build on others); sizes are filled in from ``Sizes``.
VALUES: dict[str, str] = {
    "s": "s = 'a' * {n}",
    "s2": "s2 = 'a' * {n}",
    "needle": "needle = 'a' * {k} + 'b'",
    "wide": "wide = '\\U0001f600' * {w}",
    "digits": "digits = '9' * 70",
    "big": "big = 2 ** 250 + 12345",
    "half": "half = 2 ** 126 + 12345",
    "ints": "ints = range({n2})",
    "strs": "strs = []\n    for j in range({n3}):\n        strs = strs + ['a' * {m} + str(j)]",
    "lists": "lists = []\n    for j in range({n3}):\n        lists = lists + [[0] * {n4} + [j]]",
    "nested": "nested = [0]\n    for j in range(30):\n        nested = [nested]",
    "long_key": "long_key = 'k' * {n}",
    "table": "table = {{long_key: 1, 'x': 2}}",
}
_NEEDS = {"table": ("long_key",)}


def _setup(kernels: list[str], sizes: Sizes) -> str:
    """The lines that build every value the kernels name (and what those build on)."""
    text = " ".join(KERNELS[name] for name in kernels)
    words = set(re.findall(r"[a-z_0-9]+", text))
    wanted = {name for name in VALUES if name in words}
    for name in list(wanted):
        wanted.update(_NEEDS.get(name, ()))
    fields = {
        "n": sizes.n,
        "m": max(1, sizes.n // 40),
        "k": sizes.k,
        "w": sizes.w,
        "n2": sizes.n2,
        "n3": sizes.n3,
        "n4": sizes.n4,
    }
    lines = [VALUES[name].format(**fields) for name in VALUES if name in wanted]
    return "".join(f"    {line}\n" for line in lines)


KERNELS: dict[str, str] = {
    "plain": "pass",
    "assign": "x = i",
    "int_add": "x = x + i",
    "int_mul_big": "x = half * half",
    "int_div_big": "x = big // (i + 3)",
    "int_mod_big": "x = big % (i + 7)",
    "int_pow": "x = 3 ** 150",
    "negate": "x = -big",
    "str_concat": "x = s + s2",
    "str_repeat": "x = needle * 40",
    "str_slice": "x = s[1:]",
    "str_index": "x = s[i % len(s)]",
    "str_in": "x = needle in s",
    "str_eq": "x = s == s2",
    "str_lt": "x = s < s2",
    "str_of_list": "x = str(strs)",
    "str_of_wide": "x = str([wide, wide])",
    "str_of_nested": "x = str(nested)",
    "str_of_int": "x = str(big)",
    "int_parse": "x = int(digits)",
    "list_literal": "x = [i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i]",
    "dict_literal": "x = {s: i, s2: i, needle: i, 'a': i, 'b': i}",
    "list_in_ints": "x = -1 in ints",
    "list_in_lists": "x = [1] in lists",
    "list_eq": "x = lists == lists",
    "list_lt": "x = lists < lists",
    "nested_eq": "x = nested == nested",
    "list_add": "x = strs + strs",
    "list_repeat": "x = strs * 8",
    "list_slice": "x = ints[1:]",
    "dict_get": "x = table[long_key]",
    "dict_in": "x = long_key in table",
    "len": "x = len(ints)",
    "min_ints": "x = min(ints)",
    "max_strs": "x = max(strs)",
    "sum_ints": "x = sum(ints)",
    "sorted_ints": "x = sorted(ints)",
    "sorted_strs": "x = sorted(strs)",
    "sorted_lists": "x = sorted(lists)",
    "sorted_str_chars": "x = sorted(s)",
    "range_list": "x = range(300)",
    "iter_str_break": "for c in s:\n            break",
    "iter_str": "for c in s:\n            pass",
    "iter_dict": "for c in table:\n            pass",
    "iter_list": "for c in ints:\n            pass",
    "call_defaults": "x = many()",
    "call_args": "x = many(i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i)",
    "recursion": "x = rec(25)",
    "ctx_attr": "x = ctx.caller.attributes",
    "ctx_index": "x = ctx['params']",
    "ctx_iter": "for c in ctx.params:\n            pass",
    "str_of_ctx": "x = str(ctx.params)",
    "bool_chain": "x = i and i and i and i or 0",
    "if_chain": "x = 1 if i > 2 else 2 if i > 1 else 3",
    "compare_chain": "x = 0 <= i < 100000 <= 200000",
    "nested_if": "if i >= 0:\n            if i >= 0:\n                x = 1",
    "abs": "x = abs(-i)",
    "allow": "x = allow(fee=i, note=needle)",
}


@dataclass(frozen=True)
class Sizes:
    """The sizes a script's values are built at."""

    n: int  # length of the long strings
    k: int  # length of the needle
    w: int  # astral characters (ten characters each when rendered)
    n2: int  # ints in a list
    n3: int  # strings and lists in the lists
    n4: int  # elements of each inner list


MAX_SIZES = Sizes(n=8000, k=90, w=400, n2=3000, n3=40, n4=150)


def random_sizes(rng: random.Random) -> Sizes:
    """Sizes drawn between small and the largest the limits allow."""
    return Sizes(
        n=rng.choice([1, 10, 300, 4000, 8000]),
        k=rng.choice([1, 10, 50, 90]),
        w=rng.choice([1, 50, 400]),
        n2=rng.choice([1, 30, 1000, 3000]),
        n3=rng.choice([1, 5, 40]),
        n4=rng.choice([1, 20, 150]),
    )


def script(kernels: list[str], sizes: Sizes, iterations: int = 100_000) -> str:
    """A script that builds its values, then repeats ``kernels`` until the gas runs out."""
    body = "".join(f"        {KERNELS[name]}\n" for name in kernels)
    return (
        f"{FUNCTIONS}def authorize(ctx):\n    x = 0\n{_setup(kernels, sizes)}"
        f"    for i in range({iterations}):\n{body}    return allow()\n"
    )


def random_script(rng: random.Random) -> tuple[list[str], Sizes, str]:
    """One to three kernels at random sizes."""
    names = rng.sample(sorted(KERNELS), rng.randint(1, 3))
    sizes = random_sizes(rng)
    return names, sizes, script(names, sizes)


CONTEXT: dict[str, Any] = example_context(
    params={f"key{i:03d}": "v" * 40 for i in range(60)},
    caller={"attributes": {"country": "\u00e9\U0001f600" * 20, "tier": 3}},
)


@dataclass(frozen=True)
class Measure:
    """Host thread time and gas of the best of a few runs of one script."""

    seconds: float
    gas: int
    outcome: str

    @property
    def ns_per_gas(self) -> float:
        return self.seconds * 1e9 / max(self.gas, 1)


def measure(source: str, limits: Limits, repeats: int = 3) -> Measure:
    """Run a script ``repeats`` times; the fastest run's thread time (least disturbed)."""
    program = check_script(source, limits)
    best, gas, outcome = float("inf"), 0, ""
    for _ in range(repeats):
        started = time.thread_time()
        try:
            result = run_authorize(program, CONTEXT, limits)
            gas, outcome = result.gas_used, "allowed"
        except ScriptRuntimeError as err:
            gas, outcome = err.gas_used, type(err).__name__
        best = min(best, time.thread_time() - started)
    return Measure(best, gas, outcome)


PLAIN_LOOP = "def authorize(ctx):\n    for i in range(100000):\n        pass\n    return allow()\n"


def plain_loop(limits: Limits, repeats: int = 5) -> Measure:
    """The reference: an empty loop until the gas runs out."""
    return measure(PLAIN_LOOP, limits, repeats)
