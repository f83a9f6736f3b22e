"""Gas pays for the work: host time per unit of gas stays within a small factor of a plain loop's.

Every kernel of ``adversarial`` (an operation at the sizes that hurt most) and a seeded sample of
random compositions run until their gas runs out; each one's host thread time per gas is
compared with the empty loop's, measured beside it. Timings are the best of a few runs, and a
script over the factor is measured again before the test fails, so a busy machine does not make
the test flaky; the full search and its figures are ``benchmarks/license_gas_fuzz.py``.
"""

from __future__ import annotations

import random

import adversarial
import pytest

from app.licenses.lang import Limits

FACTOR = 4.0
LIMITS = Limits(gas_limit=100_000)
RANDOM_SCRIPTS = 30


def _ratio(source: str, repeats: int) -> tuple[float, adversarial.Measure]:
    plain = adversarial.plain_loop(LIMITS, repeats)
    measured = adversarial.measure(source, LIMITS, repeats)
    return measured.ns_per_gas / plain.ns_per_gas, measured


def _assert_within_factor(source: str, what: str) -> None:
    ratio, measured = _ratio(source, repeats=3)
    if ratio > FACTOR:  # measure once more, slower and more carefully, before failing
        ratio, measured = _ratio(source, repeats=7)
    assert measured.gas > 0, what
    assert ratio <= FACTOR, (
        f"{what}: {measured.ns_per_gas:.0f} ns per gas, {ratio:.1f} times the plain loop "
        f"({measured.outcome} after {measured.gas} gas)"
    )


@pytest.mark.parametrize("kernel", sorted(adversarial.KERNELS))
def test_each_operation_at_its_worst_size_pays_for_its_work(kernel: str) -> None:
    _assert_within_factor(adversarial.script([kernel], adversarial.MAX_SIZES), kernel)


def test_random_compositions_pay_for_their_work() -> None:
    rng = random.Random(20261202)
    for _ in range(RANDOM_SCRIPTS):
        names, sizes, source = adversarial.random_script(rng)
        _assert_within_factor(source, f"{names} at {sizes}")


def test_every_kernel_runs_out_of_gas_rather_than_finishing() -> None:
    """A kernel that finished early would measure set-up, not the operation."""
    for kernel in adversarial.KERNELS:
        measured = adversarial.measure(
            adversarial.script([kernel], adversarial.MAX_SIZES), LIMITS, repeats=1
        )
        assert measured.outcome in ("OutOfGas", "MemoryExceeded"), (kernel, measured)
