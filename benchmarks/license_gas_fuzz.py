"""Host time per unit of license gas: the worst script we can find, beside a plain loop.

Runs every kernel of ``tests/app/licenses/lang/adversarial.py`` at its worst size, then
``--scripts`` random compositions (seeded), each until its gas runs out at the chain's default
limits, timing the best of ``--repeats`` runs in host thread time. Prints the plain loop's cost
per gas, the worst ratios found, and the worst script's host time at the default gas limit
(the target: under 50 ms), as a Markdown table for benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/license_gas_fuzz.py --scripts 1000 --seed 1
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "app" / "licenses" / "lang"))

import adversarial  # noqa: E402

from app.licenses.lang.limits import DEFAULT_LIMITS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", type=int, default=1000, help="random compositions")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="runs per script (best kept)")
    parser.add_argument("--top", type=int, default=12, help="rows of the worst to print")
    args = parser.parse_args()

    plain = adversarial.plain_loop(DEFAULT_LIMITS, repeats=7)
    rows: list[tuple[str, adversarial.Measure]] = []
    for kernel in sorted(adversarial.KERNELS):
        source = adversarial.script([kernel], adversarial.MAX_SIZES)
        rows.append((f"{kernel} (worst size)", adversarial.measure(source, DEFAULT_LIMITS)))
    rng = random.Random(args.seed)
    for i in range(args.scripts):
        names, sizes, source = adversarial.random_script(rng)
        rows.append((f"{'+'.join(names)} {sizes}", adversarial.measure(source, DEFAULT_LIMITS)))
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{args.scripts} random scripts", file=sys.stderr)
    rows.sort(key=lambda row: -row[1].ns_per_gas)

    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}; ")
    print(f"gas limit {DEFAULT_LIMITS.gas_limit}, {len(rows)} scripts, seed {args.seed}\n")
    print(
        f"plain loop: {plain.ns_per_gas:.0f} ns per gas, {plain.seconds * 1000:.1f} ms "
        f"for {plain.gas} gas\n"
    )
    print("| script | ns per gas | x plain loop | host ms | gas | stopped by |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, m in rows[: args.top]:
        print(
            f"| {name} | {m.ns_per_gas:.0f} | {m.ns_per_gas / plain.ns_per_gas:.2f} | "
            f"{m.seconds * 1000:.1f} | {m.gas} | {m.outcome} |"
        )
    worst = rows[0][1]
    at_limit = worst.ns_per_gas * DEFAULT_LIMITS.gas_limit / 1e6
    print(
        f"\nworst: {at_limit:.1f} ms of host time at the default gas limit "
        f"({DEFAULT_LIMITS.gas_limit})"
    )


if __name__ == "__main__":
    main()
