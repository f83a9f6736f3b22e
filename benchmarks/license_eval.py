"""Cost of one license evaluation, for every template in genesis/licenses/.

Checks each template once, then times ``run_authorize`` ``--runs`` times with a representative
context (a commercial caller asking for inference, with usage so far and parameters every
template reads), and prints a Markdown table: median and p90 microseconds per evaluation, gas
used, the decision, and the static worst-case gas where one exists.

    .venv/bin/python benchmarks/license_eval.py --runs 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.licenses.lang import check_script, run_authorize, worst_case_gas
from app.licenses.lang.context import example_context

TEMPLATES = Path(__file__).resolve().parents[1] / "genesis" / "licenses"


def representative_context() -> dict[str, Any]:
    """A commercial org's inference call that crosses a pay-per-use tier boundary."""
    return example_context(
        purpose="inference",
        quantity=150,
        caller={
            "org": "acme",
            "org_kind": "commercial",
            "attributes": {"monthly_active_users": 2_000_000, "country": "DE"},
        },
        usage={"model_total": 950, "model_period": 300, "version_total": 500},
        params={
            "tiers": [[1000, 10], [10000, 8], [None, 5]],
            "denied_purposes": {"redistribution": "no redistribution"},
            "quota": 1000,
            "mau_threshold": 1_000_000,
            "granted_orgs": ["acme", "openml"],
            "attribution": "Acme Vision (c) 2024",
        },
    )


def measure(path: Path, runs: int) -> dict[str, Any]:
    program = check_script(path.read_text())
    ctx = representative_context()
    outcome = run_authorize(program, ctx)
    times: list[int] = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        run_authorize(program, ctx)
        times.append(time.perf_counter_ns() - started)
    times.sort()
    decision = outcome.decision
    return {
        "template": path.stem,
        "median_us": statistics.median_low(times) // 1000,
        "p90_us": times[len(times) * 9 // 10] // 1000,
        "gas": outcome.gas_used,
        "decision": f"allow fee={decision.fee}" if decision.allowed else "deny",
        "worst": worst_case_gas(program),
    }


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or the platform's machine type."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="evaluations per template")
    args = parser.parse_args()
    rows = [measure(path, args.runs) for path in sorted(TEMPLATES.glob("*.lic"))]
    print(
        f"Machine: {cpu_model()} ({os.cpu_count()} CPUs), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )
    print(f"Command: .venv/bin/python benchmarks/license_eval.py --runs {args.runs}\n")
    print("| template | median µs/eval | p90 µs | gas used | decision | worst-case gas |")
    print("|---|---:|---:|---:|---|---:|")
    for row in rows:
        worst = "unbounded" if row["worst"] is None else str(row["worst"])
        print(
            f"| {row['template']} | {row['median_us']} | {row['p90_us']} | {row['gas']} "
            f"| {row['decision']} | {worst} |"
        )


if __name__ == "__main__":
    main()
