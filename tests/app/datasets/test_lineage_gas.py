"""The gas of a lineage check depends on the state before the transaction and the block's own
earlier transactions, never on what a node's process happens to hold (issue 13 review).

A use of a derivative pays the first load of each license in the block (20 gas a byte, from
the lineage check's shared budget, app/core/gas.py). ``finalize_block`` starts every block
with nothing loaded and every validator executes the block's transactions in the same order, so
the charge is a function of the block: a validator restarted from its store (cold program
and parameter caches, nothing compiled) and one whose caches are warm from dry runs, or whose
caches evict everything at once, compute the same gas, the same refusals and the same app
hash. The block's earlier transactions do count, by design: a use after another that loaded the
same license in the block pays less, and may pass where it alone would run out of the lineage
budget.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from driver import Driver, publish, register, started
from test_datasets_flow import deploy, expect, use
from test_lineage import attach

from app.abci.modelgov_app import ModelgovApp
from app.datasets import errors
from app.licenses import programs
from app.licenses.programs import ParamsCache, ProgramCache
from app.store import MerkleStore

BIG = "def authorize(ctx):\n    return allow()\n" + "#" * 16_000 + "\n"
SMALL = "def authorize(ctx):\n    return allow(fee=1)\n"


def lineage_of_big_licenses(driver: Driver) -> None:
    """uni/b@0..3, each a fine-tune of the one before; b@0..2 under three 16 KB licenses
    attached before their child was published, b@3 under a small one."""
    driver.ok("uni-pub", register("uni", "b"), publish("uni/b", "0"))
    for i in range(3):
        driver.ok("uni-pub", deploy(f"big{i}", BIG))
        driver.ok("uni-pub", attach(f"uni/b@{i}", f"uni/big{i}"))
        driver.ok("uni-pub", publish("uni/b", str(i + 1), parents=[f"uni/b@{i}"]))
    driver.ok("uni-pub", deploy("small", SMALL), attach("uni/b@3", "uni/small"))


def measured_block(driver: Driver) -> list[bytes]:
    """b@3 first (its three upstream loads pass the lineage budget), then uses of b@2 and b@1
    (which load the licenses of their own upstream), then b@3 twice (nothing left to load)."""
    refs = ["uni/b@3", "uni/b@2", "uni/b@1", "uni/b@3", "uni/b@3"]
    return [driver.sign("acme-user", [use(ref, purpose="inference")]) for ref in refs]


def restarted(driver: Driver) -> None:
    """The node stops and starts again from its store, its process caches empty."""
    driver.store.close()
    driver.store = MerkleStore(driver.path / "state.db")
    driver.app = ModelgovApp(driver.store)
    driver.info()


def warm_with_dry_runs(driver: Driver) -> None:
    """Dry runs of every use compile and cache every license of the lineage."""
    for i in range(4):
        ask = {"address": driver["acme-user"].address, "model": "uni/b", "version": str(i)}
        driver.query("/licenses/evaluate", {**ask, "purpose": "inference", "quantity": 1})


Caches = tuple[ProgramCache, ParamsCache]
NODES: list[tuple[str, Callable[[Driver], None], Callable[[], Caches]]] = [
    ("restarted-cold", restarted, lambda: (ProgramCache(), ParamsCache())),
    ("warm-from-dry-runs", warm_with_dry_runs, lambda: (programs.CACHE, programs.PARAMS)),
    ("cache-evicting-everything", restarted, lambda: (ProgramCache(budget=1), ParamsCache(0))),
]


@pytest.mark.parametrize(
    ("prepare", "cache"), [n[1:] for n in NODES], ids=[n[0] for n in NODES]
)  # fmt: skip
def test_a_block_of_derivative_uses_computes_the_same_on_any_node(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prepare: Callable[[Driver], None],
    cache: Callable[[], Caches],
) -> None:
    reference, other = started(tmp_path / "a"), started(tmp_path / "b")
    for driver in (reference, other):
        lineage_of_big_licenses(driver)
    txs = measured_block(reference)
    expected = reference.block(txs)
    compiled, params = cache()
    monkeypatch.setattr(programs, "CACHE", compiled)
    monkeypatch.setattr(programs, "PARAMS", params)
    prepare(other)
    got = other.block(txs)
    fields = [(r.code, r.codespace, r.log, r.gas_wanted, r.gas_used) for r in got.tx_results]
    assert fields == [
        (r.code, r.codespace, r.log, r.gas_wanted, r.gas_used) for r in expected.tx_results
    ]
    assert got.app_hash == expected.app_hash
    alone, _, _, after_loads, again = expected.tx_results
    expect(alone, errors.UPSTREAM_OUT_OF_GAS)  # the block's earlier txs count, by design
    assert after_loads.code == 0 and again.code == 0, (after_loads.log, again.log)
    assert after_loads.gas_used == again.gas_used < 20 * len(BIG)  # no load left to pay
    for driver in (reference, other):
        driver.close()


def test_every_block_pays_its_own_first_loads(chain: Driver) -> None:
    """What a block loaded is not carried into the next: the same use, first in two blocks,
    pays the same gas (on a node that keeps its process between them)."""
    chain.ok("uni-pub", deploy("big", BIG), register("uni", "m"), publish("uni/m", "0"))
    chain.ok("uni-pub", attach("uni/m@0", "uni/big"))
    chain.ok("uni-pub", publish("uni/m", "1", parents=["uni/m@0"]))
    chain.ok("uni-pub", deploy("small", SMALL), attach("uni/m@1", "uni/small"))
    first = chain.ok("acme-user", use("uni/m@1", purpose="inference"))
    second = chain.ok("acme-user", use("uni/m@1", purpose="inference"))
    assert first.gas_used == second.gas_used > 20 * len(BIG)
