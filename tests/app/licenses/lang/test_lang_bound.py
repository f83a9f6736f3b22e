"""worst_case_gas: a static bound where one exists, never below what a run measures."""

from __future__ import annotations

import pytest

from app.licenses.lang import check_script, run_authorize, worst_case_gas
from app.licenses.lang.context import example_context

BOUNDED = [
    "def authorize(ctx):\n    return allow()\n",
    "FEE = 3 * 7\n\n\ndef authorize(ctx):\n    return allow(fee=FEE, note='x' + 'y')\n",
    "def authorize(ctx):\n    if ctx.purpose == 'research':\n        return allow()\n"
    "    return deny('only research, not ' + ctx.purpose)\n",
    "def authorize(ctx):\n    total = 0\n    for i in range(100):\n        total += i * i\n"
    "    return allow(fee=total)\n",
    "N = 10\n\n\ndef authorize(ctx):\n    s = ''\n    for i in range(N):\n        s = s + 'ab'\n"
    "    return allow(note=s)\n",
    "def twice(n):\n    return n * 2\n\n\ndef authorize(ctx):\n"
    "    return allow(fee=twice(ctx.quantity))\n",
    "def authorize(ctx):\n    for p in ['a', 'b', 'c']:\n        if p in ctx.caller.roles:\n"
    "            return deny('role ' + p)\n    return allow(note=str(ctx.quantity))\n",
]


@pytest.mark.parametrize("source", BOUNDED)
def test_bounded_scripts_have_a_bound_above_the_measured_gas(source: str) -> None:
    program = check_script(source)
    bound = worst_case_gas(program)
    assert bound is not None
    for purpose in ("research", "inference"):
        ctx = example_context(purpose=purpose, quantity=12, caller={"roles": ["b", "z"]})
        assert run_authorize(program, ctx).gas_used <= bound


UNBOUNDED = [
    "def f(n):\n    if n == 0:\n        return 0\n    return f(n - 1)\n\n\n"
    "def authorize(ctx):\n    return allow(fee=f(3))\n",
    "def f(n):\n    return g(n)\n\n\ndef g(n):\n    return 0 if n else f(n)\n\n\n"
    "def authorize(ctx):\n    return allow(fee=f(3))\n",
    "def authorize(ctx):\n    for i in range(ctx.quantity):\n        pass\n    return allow()\n",
    "def authorize(ctx):\n    for r in ctx.caller.roles:\n        pass\n    return allow()\n",
]


@pytest.mark.parametrize("source", UNBOUNDED)
def test_recursion_and_data_dependent_loops_have_no_bound(source: str) -> None:
    assert worst_case_gas(check_script(source)) is None


def test_the_bound_of_a_loop_grows_with_its_range() -> None:
    small = "def authorize(ctx):\n    for i in range(10):\n        pass\n    return allow()\n"
    large = small.replace("range(10)", "range(1000)")
    small_bound, large_bound = (worst_case_gas(check_script(s)) for s in (small, large))
    assert small_bound is not None and large_bound is not None
    assert large_bound > small_bound
    assert run_authorize(check_script(large), {}).gas_used <= large_bound
