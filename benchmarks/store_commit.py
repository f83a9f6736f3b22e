"""Cost of one block's commit to the Merkle store, by state size, and the app's memory.

One store (in a temporary directory) grows through the sizes in turn, filled in large committed
batches; at each size, ``stage`` + ``commit`` of ``--batch`` random writes (half updates of
existing keys, half inserts) is timed over ``--rounds`` rounds, and the process's resident
memory (RSS, the store's node cache included) and the database's size on disk are read. A size
whose fill would not end within ``--budget`` seconds (projected from the last fill's rate) is
left out, and the table says so.

    .venv/bin/python benchmarks/store_commit.py --sizes 10000 100000 1000000 10000000 --budget 600
"""

from __future__ import annotations

import argparse
import os
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


def grow(store: MerkleStore, start: int, size: int, fill_batch: int, rng: random.Random) -> float:
    """Insert keys start..size-1 in committed batches; returns seconds taken."""
    began = time.perf_counter()
    for lo in range(start, size, fill_batch):
        writes: dict[bytes, bytes | None] = {
            key_of(i): rng.randbytes(48) for i in range(lo, min(size, lo + fill_batch))
        }
        store.commit(store.stage(writes), store.height + 1)
    return time.perf_counter() - began


def measure(
    store: MerkleStore, size: int, batch: int, rounds: int, rng: random.Random
) -> dict[str, float]:
    """Median wall and CPU time of stage+commit of ``batch`` writes (wall includes the fsync),
    and nodes written per write."""
    times: list[float] = []
    cpu: list[float] = []
    nodes: list[int] = []
    next_key = size
    for _ in range(rounds):
        updates = rng.sample(range(size), batch // 2)
        writes: dict[bytes, bytes | None] = {key_of(i): rng.randbytes(48) for i in updates}
        for i in range(batch - len(writes)):
            writes[key_of(next_key + i)] = rng.randbytes(48)
        next_key += batch
        started, began_cpu = time.perf_counter(), time.process_time()
        staged = store.stage(writes)
        store.commit(staged, store.height + 1)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - began_cpu)
        nodes.append(len(staged.new_nodes))
    median_s = statistics.median(times)
    return {
        "ms": median_s * 1000,
        "cpu_ms": statistics.median(cpu) * 1000,
        "us_per_write": median_s * 1e6 / batch,
        "nodes_per_write": statistics.median(nodes) / batch,
    }


def rss_mib() -> float:
    """This process's resident memory now (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mib(path: Path) -> float:
    """Bytes under ``path``, MiB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / (1024 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=1000, help="writes per measured commit")
    parser.add_argument("--rounds", type=int, default=5, help="measured commits per size")
    parser.add_argument("--fill-batch", type=int, default=100_000, help="writes per fill commit")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds of filling in all")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(
        f"<!-- {' '.join(sys.argv)} | Python {platform.python_version()} | {platform.machine()} -->"
    )
    print(
        "| keys in state | writes per commit | median ms per commit | CPU ms | µs per write "
        "| nodes written per write | RSS MiB | db MiB | fill s | load avg |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    started, rate, filled = time.perf_counter(), 0.0, 0
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        db = Path(tmp) / "db"
        with MerkleStore(db) as store:
            for size in sorted(args.sizes):
                left = args.budget - (time.perf_counter() - started)
                if rate and (size - filled) / rate > left:
                    print(
                        f"| {size:,} | - | not measured: filling would take about "
                        f"{(size - filled) / rate:.0f} s, {left:.0f} s of --budget left | "
                        "| | | | | | |"
                    )
                    break
                fill_s = grow(store, filled, size, args.fill_batch, rng)
                # the measured commits insert keys above ``size``: the next fill rewrites them
                rate, filled = (size - filled) / max(fill_s, 1e-9), size
                result = measure(store, size, args.batch, args.rounds, rng)
                print(
                    f"| {size:,} | {args.batch:,} | {result['ms']:.1f} | {result['cpu_ms']:.1f} "
                    f"| {result['us_per_write']:.1f} | {result['nodes_per_write']:.2f} "
                    f"| {rss_mib():.0f} | {disk_mib(db):.0f} | {fill_s:.1f} "
                    f"| {os.getloadavg()[0]:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
