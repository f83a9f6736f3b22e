"""Where one ABCI method's time goes, from a py-spy raw profile: the share of its samples each
function is on the stack for (inclusive) and at the top of (own), as a markdown table.

    .venv/bin/py-spy record -r 400 -f raw -o use.txt -- \
        .venv/bin/python benchmarks/app_profile.py --workload use --blocks 6 --txs 1000
    .venv/bin/python benchmarks/profile_shares.py use.txt --method finalize_block --top 30

A raw profile has one line per distinct stack: frames ``function (file:line)`` joined by ``;``,
then a space and the sample count. Frames are counted by function and file (not line), once
per stack however deep they recur.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

METHODS = {
    "finalize_block": "finalize_block (machine.py)",
    "check_tx": "check_tx (machine.py)",
    "commit": "ModelgovApp.commit (modelgov_app.py)",
}
"""The frame (``function_of``) each method's samples pass through."""


@dataclass
class Shares:
    """Samples of one method, by function: on the stack, and at its top."""

    samples: int = 0
    inclusive: Counter[str] = field(default_factory=Counter)
    own: Counter[str] = field(default_factory=Counter)


def function_of(frame: str) -> str:
    """``name (path/file.py:12)`` -> ``name (file.py)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':')[0]})" if where else name


def shares(lines: Iterable[str], method: str) -> Shares:
    """Count the stacks that pass through the function ``method`` (as ``function_of`` names
    it)."""
    found = Shares()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        functions = [function_of(frame) for frame in stack.split(";")]
        if method not in functions:
            continue
        samples = int(count)
        found.samples += samples
        for function in dict.fromkeys(functions):
            found.inclusive[function] += samples
        found.own[functions[-1]] += samples
    return found


def table(found: Shares, top: int) -> str:
    """The ``top`` functions by inclusive share, with their own share."""
    rows = ["| function | on the stack % | own % |", "| --- | ---: | ---: |"]
    for function, samples in found.inclusive.most_common(top):
        inclusive = 100 * samples / found.samples
        own = 100 * found.own[function] / found.samples
        rows.append(f"| `{function}` | {inclusive:.1f} | {own:.1f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", help="py-spy record -f raw output")
    parser.add_argument("--method", choices=sorted(METHODS), default="finalize_block")
    parser.add_argument("--top", type=int, default=30, help="rows to print")
    args = parser.parse_args()
    with open(args.raw, encoding="utf-8") as raw:
        found = shares(raw, METHODS[args.method])
    if not found.samples:
        raise SystemExit(f"no samples of {args.method} in {args.raw}")
    print(f"{found.samples} samples of {args.method}\n")
    print(table(found, args.top))


if __name__ == "__main__":
    main()
