"""What FinalizeBlock costs per transaction, measured so that a busy machine does not move it:
instructions counted by valgrind's callgrind, not seconds.

The same block of signed txs (their signatures admitted, as after CheckTx) runs on a fresh
overlay of one prepared chain ``--reps`` times. Run under callgrind with 1 and with 3
repetitions, the difference is two blocks' instructions and nothing of the start-up; divided by
the txs it is the figure to compare between two checkouts (the seconds of a 2-core machine
shared with other work move by tens of percent between runs; these by under 1%).

    .venv/bin/python benchmarks/finalize_cost.py --workload use --txs 200 --instructions

Without ``--instructions`` it prints the least thread CPU per tx over the repetitions.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "app"))

from app_profile import WORKLOADS, block_txs, prepared  # noqa: E402

from app import machine  # noqa: E402
from app.core.env import BlockEnv  # noqa: E402
from app.core.tx import SignatureCache  # noqa: E402
from app.state import Overlay  # noqa: E402

SENDERS = 32


def seconds_per_tx(workload: str, txs: int, reps: int) -> float:
    """Run the block once to warm up, then ``reps`` times; the least thread CPU per tx."""
    with tempfile.TemporaryDirectory(prefix="mg-finalize-") as tmp:
        driver = prepared(Path(tmp), SENDERS)
        block = block_txs(driver, SENDERS, txs, 0, WORKLOADS[workload])
        admitted = SignatureCache()
        for raw in block:
            admitted.add(hashlib.sha256(raw).digest())
        env = BlockEnv(driver.chain_id, driver.height + 1, driver.time + 1)
        best = float("inf")
        for _ in range(reps + 1):
            started = time.thread_time()
            output = machine.finalize_block(Overlay(driver.app.pending), env, block, admitted)
            best = min(best, time.thread_time() - started)
        failed = [r.log for r in output.tx_results if r.code]
        driver.close()
    if failed:
        raise SystemExit(f"{len(failed)} txs failed, e.g. {failed[0]}")
    return best / txs


def instructions(workload: str, txs: int, reps: int) -> int:
    """Instructions callgrind counts for the whole process at ``reps`` repetitions."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--workload",
        workload,
        "--txs",
        str(txs),
        "--reps",
        str(reps),
    ]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no total:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="use")
    parser.add_argument("--txs", type=int, default=200, help="txs in the block")
    parser.add_argument("--reps", type=int, default=3, help="timed runs of the block")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind"
    )
    args = parser.parse_args()
    if args.instructions:
        one, three = (instructions(args.workload, args.txs, reps) for reps in (1, 3))
        per_tx = (three - one) // (2 * args.txs)
        print(f"{args.workload}: {per_tx} instructions per tx of FinalizeBlock")
        return
    per_tx = seconds_per_tx(args.workload, args.txs, args.reps)
    print(f"{args.workload}: {per_tx * 1e6:.1f} µs of thread CPU per tx of FinalizeBlock")


if __name__ == "__main__":
    main()
