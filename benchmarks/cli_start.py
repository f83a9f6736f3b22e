"""How long the CLI takes to start, against a bare Python with its libraries, and how long
``modelgov weights hash`` takes against ``sha256sum``.

Each pair runs alternately (A B A B ...) ``--runs`` times after one warm-up each; every run is a
whole process, timed by wall clock and by the CPU the kernel accounted to it (``wait4``). The
table gives medians and the median of the A/B ratios taken pair by pair, which holds when the
machine's speed drifts. The CLI runs as ``python -m chain.cli.main`` from this checkout (what
the ``modelgov`` entry point runs). A query is timed against a closed port: its start, the
failed connection and the error, no chain needed.

    .venv/bin/python benchmarks/cli_start.py --runs 9 --hash-mib 512
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "chain.cli.main"]
BARE = [sys.executable, "-c", "import click, requests, google.protobuf"]
CLOSED = "http://127.0.0.1:9"
MIB = 1024 * 1024


@dataclass
class Timing:
    """One finished process: wall seconds and CPU seconds (user + system)."""

    wall: float
    cpu: float


def run_once(command: list[str]) -> Timing:
    """Run ``command`` to its end, output discarded; its wall and CPU seconds."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = 0  # reaped by wait4
    return Timing(wall, usage.ru_utime + usage.ru_stime)


def pair(a: list[str], b: list[str], runs: int) -> tuple[list[Timing], list[Timing]]:
    """``runs`` timings of each, alternating, after one warm-up of each."""
    run_once(a), run_once(b)
    out_a, out_b = [], []
    for _ in range(runs):
        out_a.append(run_once(a))
        out_b.append(run_once(b))
    return out_a, out_b


def row(name: str, a: list[Timing], b: list[Timing]) -> str:
    """A table row: medians of A and B, and the median ratio of the pairs."""
    wall = statistics.median(x.wall / y.wall for x, y in zip(a, b, strict=True))
    cpu = statistics.median(x.cpu / max(y.cpu, 1e-6) for x, y in zip(a, b, strict=True))
    return (
        f"| {name} | {statistics.median(x.wall for x in a):.3f} "
        f"| {statistics.median(x.cpu for x in a):.3f} "
        f"| {statistics.median(y.wall for y in b):.3f} "
        f"| {statistics.median(y.cpu for y in b):.3f} | {wall:.2f} | {cpu:.2f} |"
    )


def random_file(directory: Path, mib: int) -> Path:
    """A file of ``mib`` MiB of random bytes, read once so the page cache holds it."""
    path = directory / "weights.bin"
    with open(path, "wb") as handle:
        for _ in range(mib):
            handle.write(os.urandom(MIB))
    with open(path, "rb", buffering=0) as handle:
        while handle.read(16 * MIB):
            pass
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--hash-mib", type=int, default=512, help="0 skips the hash pair")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    help_a, help_b = pair([*CLI, "--help"], BARE, args.runs)
    rows.append(row("`modelgov --help` / bare imports", help_a, help_b))
    query = [*CLI, "query", "balance", "acme-ai", "--node", CLOSED]
    query_a, query_b = pair(query, BARE, args.runs)
    rows.append(row("`modelgov query balance` (closed port) / bare imports", query_a, query_b))
    if args.hash_mib:
        with tempfile.TemporaryDirectory(prefix="mg-cli-") as tmp:
            path = random_file(Path(tmp), args.hash_mib)
            hash_a, hash_b = pair(
                [*CLI, "weights", "hash", str(path)], ["sha256sum", str(path)], args.runs
            )
        rows.append(
            row(f"`modelgov weights hash` {args.hash_mib} MiB / `sha256sum`", hash_a, hash_b)
        )
    print("| A / B | A wall s | A CPU s | B wall s | B CPU s | wall A/B | CPU A/B |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    print()
    print(f"Medians of {args.runs} alternating runs after one warm-up; ratios pair by pair.")
    print(f"Bare imports: `{shlex.join(BARE[1:])}`; CLI: `python -m chain.cli.main`.")
    print(f"Load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    python = os.path.relpath(sys.executable) if sys.executable else "python"
    print(f"Command: `{shlex.join([python, *sys.argv])}`")


if __name__ == "__main__":
    main()
