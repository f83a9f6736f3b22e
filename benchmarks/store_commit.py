"""Cost of one block's commit to the Merkle store, by state size.

For each size, fills a fresh store (in a temporary directory) in large committed batches, then
times ``stage`` + ``commit`` of ``--batch`` random writes (half updates of existing keys, half
inserts) over ``--rounds`` rounds, and prints a Markdown table.

    .venv/bin/python benchmarks/store_commit.py --sizes 10000 100000 1000000 --batch 1000 --rounds 5
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.store import MerkleStore


def key_of(i: int) -> bytes:
    return b"bench/%012d" % i


def fill(store: MerkleStore, size: int, fill_batch: int, rng: random.Random) -> float:
    """Insert keys 0..size-1 in committed batches; returns seconds taken."""
    started = time.perf_counter()
    for lo in range(0, size, fill_batch):
        writes: dict[bytes, bytes | None] = {
            key_of(i): rng.randbytes(48) for i in range(lo, min(size, lo + fill_batch))
        }
        store.commit(store.stage(writes), store.height + 1)
    return time.perf_counter() - started


def measure(
    store: MerkleStore, size: int, batch: int, rounds: int, rng: random.Random
) -> dict[str, float]:
    """Median wall time of stage+commit of ``batch`` writes, and nodes written per write."""
    times: list[float] = []
    nodes: list[int] = []
    next_key = size
    for _ in range(rounds):
        updates = rng.sample(range(size), batch // 2)
        writes: dict[bytes, bytes | None] = {key_of(i): rng.randbytes(48) for i in updates}
        for i in range(batch - len(writes)):
            writes[key_of(next_key + i)] = rng.randbytes(48)
        next_key += batch
        started = time.perf_counter()
        staged = store.stage(writes)
        store.commit(staged, store.height + 1)
        times.append(time.perf_counter() - started)
        nodes.append(len(staged.new_nodes))
    median_s = statistics.median(times)
    return {
        "ms": median_s * 1000,
        "us_per_write": median_s * 1e6 / batch,
        "nodes_per_write": statistics.median(nodes) / batch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=1000, help="writes per measured commit")
    parser.add_argument("--rounds", type=int, default=5, help="measured commits per size")
    parser.add_argument("--fill-batch", type=int, default=100_000, help="writes per fill commit")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(
        f"<!-- {' '.join(sys.argv)} | Python {platform.python_version()} | {platform.machine()} -->"
    )
    print(
        "| keys in state | writes per commit | median ms per commit | µs per write "
        "| nodes written per write | fill s |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        with (
            tempfile.TemporaryDirectory(prefix="store-bench-") as tmp,
            MerkleStore(Path(tmp) / "db") as store,
        ):
            fill_s = fill(store, size, args.fill_batch, rng)
            result = measure(store, size, args.batch, args.rounds, rng)
        print(
            f"| {size:,} | {args.batch:,} | {result['ms']:.1f} | {result['us_per_write']:.1f} "
            f"| {result['nodes_per_write']:.2f} | {fill_s:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
