"""Where the app's CPU goes per transaction, without an engine: the test driver's ModelgovApp on
a fresh store, fed blocks of signed txs from many senders the way CometBFT would (CheckTx of
every tx, FinalizeBlock, Commit, then a re-check of the txs still waiting).

Prints CPU µs per tx for each ABCI method and, with ``--profile``, cProfile's top functions
(by own time and by cumulative time) over the measured blocks.

    .venv/bin/python benchmarks/app_profile.py --workload use --blocks 4 --txs 1000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "app"))

from driver import (  # noqa: E402
    Account,
    Driver,
    default_accounts,
    make_account,
    publish,
    register,
    started,
    timestamp,
)

from app.core.valuemap import from_data  # noqa: E402
from app.pb.modelgov.v1 import tx_pb2  # noqa: E402
from app.pb.tendermint.abci import types_pb2 as abci  # noqa: E402

T = TypeVar("T")

MODEL = "uni/base"
TEMPLATE = ROOT / "genesis" / "licenses" / "pay-per-use.lic"


def prepared(path: Path, senders: int) -> Driver:
    """A chain with ``senders`` consumer-publishers in acme and uni/base 1.0 under pay-per-use."""
    driver = started(path, accounts=_accounts(senders), credits={"uni": 0, "acme": 10**12})
    deploy = tx_pb2.DeployLicense(
        name="ppu", source=TEMPLATE.read_text(), params=from_data({"tiers": [[None, 1]]})
    )
    driver.ok("uni-pub", register("uni", "base"), tx_pb2.Msg(deploy_license=deploy))
    driver.ok("uni-pub", publish(MODEL, "1.0", license="uni/ppu"))
    driver.ok("acme-pub", register("acme", "bench"))
    return driver


def _accounts(senders: int) -> dict[str, Account]:
    out: dict[str, Account] = default_accounts()
    for i in range(senders):
        name = f"bench-{i:03d}"
        out[name] = make_account(name, "acme", "consumer", "publisher")
    return out


def use_msg(sender: int, k: int) -> tx_pb2.Msg:
    use = tx_pb2.Use(model=MODEL, version="1.0", purpose="inference", quantity=1, max_fee=10)
    return tx_pb2.Msg(use=use)


def publish_msg(sender: int, k: int) -> tx_pb2.Msg:
    msg: tx_pb2.Msg = publish("acme/bench", f"1.{sender}.{k}")
    return msg


WORKLOADS: dict[str, Callable[[int, int], tx_pb2.Msg]] = {"use": use_msg, "publish": publish_msg}


def block_txs(
    driver: Driver, senders: int, count: int, round_: int, make: Callable[..., tx_pb2.Msg]
) -> list[bytes]:
    """``count`` txs dealt over the senders, each sender's in nonce order."""
    return [
        driver.sign(f"bench-{i % senders:03d}", [make(i % senders, round_ * count + i)])
        for i in range(count)
    ]


def run(driver: Driver, args: argparse.Namespace) -> dict[str, float]:
    """CPU seconds per method over ``args.blocks`` blocks, as a mempool would drive them: the
    next block's txs are checked while a block is pending, then re-checked after its commit;
    so every tx is checked once, re-checked once, finalized and committed."""
    make = WORKLOADS[args.workload]
    blocks = [block_txs(driver, args.senders, args.txs, b, make) for b in range(args.blocks + 1)]
    spent = dict.fromkeys(("check_tx", "recheck_tx", "finalize_block", "commit"), 0.0)
    _timed(spent, "check_tx", partial(_check_all, driver, blocks[0], False))
    for b in range(args.blocks):
        _timed(spent, "check_tx", partial(_check_all, driver, blocks[b + 1], False))
        driver.height += 1
        driver.time += 1
        request = _finalize(blocks[b], driver.height, driver.time)
        response = _timed(spent, "finalize_block", partial(driver.app.finalize_block, request))
        bad = [r.log for r in response.tx_results if r.code != 0]
        assert not bad, bad[:3]
        _timed(spent, "commit", partial(driver.app.commit, abci.RequestCommit()))
        _timed(spent, "recheck_tx", partial(_check_all, driver, blocks[b + 1], True))
    spent["check_tx"] *= args.blocks / (args.blocks + 1)  # one block more was checked
    return spent


def _timed(spent: dict[str, float], method: str, call: Callable[[], T]) -> T:
    started = time.process_time()
    result = call()
    spent[method] += time.process_time() - started
    return result


def _check_all(driver: Driver, txs: list[bytes], recheck: bool) -> None:
    for tx in txs:
        response = driver.check(tx, recheck)
        assert response.code == 0, response.log


def _finalize(txs: list[bytes], height: int, seconds: int) -> abci.RequestFinalizeBlock:
    return abci.RequestFinalizeBlock(
        txs=txs, height=height, time=timestamp(seconds), proposer_address=b"\x01" * 20
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=list(WORKLOADS), default="use")
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--txs", type=int, default=1000, help="txs per block")
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mg-profile-") as tmp:
        driver = prepared(Path(tmp), args.senders)
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        spent = run(driver, args)
        if profiler:
            profiler.disable()
        driver.close()
    total = args.blocks * args.txs
    print(f"{args.workload}: {args.blocks} blocks of {args.txs} txs, {args.senders} senders")
    for method, seconds in spent.items():
        print(f"  {method:15s} {1e6 * seconds / total:8.1f} µs per tx")
    print(f"  {'all':15s} {1e6 * sum(spent.values()) / total:8.1f} µs per tx")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
