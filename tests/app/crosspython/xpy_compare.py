"""The same blocks on every Python: generate a randomized sequence, replay it under each CPython
minor and several PYTHONHASHSEEDs in fresh processes, and compare everything they answered.

Consensus fields must agree bit for bit: every height's app hash, ProcessProposal's answer,
every tx result's (code, codespace, gas_wanted, gas_used, data), the validator updates, and
whether (and with which exception type) FinalizeBlock crashed. Apart from those, what people
and clients read is compared too: CheckTx codes, logs, infos, events and query answers. A
difference is reported as the first height and transaction that differ, what differs, and the
generator's label of that transaction (sender, message kind, script).

The interpreters are the per-machine environments of ``chain.engine.pythons`` (built on first
use). The app under test is imported from a source tree: this checkout by default, or another
one (``--source DIR`` or ``MODELGOV_XPY_SOURCE=DIR``), which needs its generated ``app/pb``.

The long run, outside pytest (about 25 s per 1000 blocks and run on these machines, two runs at
a time)::

    .venv/bin/python tests/app/crosspython/xpy_compare.py --blocks 5000 --seed 7 \\
        --hash-seeds 0,1,2,4294967295 [--source /work/main] [--all-tags]

``--all-tags`` also draws the values of known divergences (``xpy_blocks.TAGS``); ``--only TAG``
replays that tag's minimal scenario. Exit status 1 when a consensus field differs or a block
crashed, 0 otherwise; ``--keep DIR`` keeps the sequence and every run's output.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS_APP = HERE.parent
CHECKOUT = HERE.parents[2]
if str(CHECKOUT) not in sys.path:  # run as a script: chain.engine.pythons of this checkout
    sys.path.insert(0, str(CHECKOUT))

from xpy_values import TAGS  # noqa: E402

from chain.engine.pythons import SUPPORTED_MINORS, PythonUnavailable, ensure_python  # noqa: E402

DEFAULT_HASH_SEEDS = ("0", "1", "4294967295")
CONSENSUS = ("accept", "app_hash", "txs", "validators")
OTHER = ("check", "logs", "infos", "events", "block_events", "queries")
TX_FIELDS = ("code", "codespace", "gas_wanted", "gas_used", "data")
RUN_TIMEOUT = 1800


class SourceError(RuntimeError):
    """The source tree to test is not usable (no app/, no generated app/pb)."""


def source_tree(arg: str | None = None) -> Path:
    """The tree whose ``app`` is tested: ``arg``, else $MODELGOV_XPY_SOURCE, else this checkout."""
    tree = Path(arg or os.environ.get("MODELGOV_XPY_SOURCE") or CHECKOUT).resolve()
    if not (tree / "app" / "__init__.py").exists():
        raise SourceError(f"{tree} has no app/ package")
    if not (tree / "app" / "pb" / "modelgov" / "v1" / "tx_pb2.py").exists():
        raise SourceError(
            f"{tree}/app/pb is not generated; run `.venv/bin/python -m chain.engine.protogen` there"
        )
    return tree


def child_env(tree: Path, hash_seed: str) -> dict[str, str]:
    """A child's environment: the tree's app first on the path, a fixed hash seed."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = os.pathsep.join((str(tree), str(TESTS_APP), str(HERE)))
    env["PYTHONHASHSEED"] = hash_seed
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@dataclass
class Run:
    """One replay: which interpreter and seed, where its output is, how it ended."""

    minor: str
    hash_seed: str
    output: Path
    returncode: int = 0
    stderr: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        unicode = self.meta.get("unicode", "?")
        python = self.meta.get("python", self.minor)
        return f"Python {python} (Unicode {unicode}) hash seed {self.hash_seed}"

    def load(self) -> None:
        lines = self.output.read_text().splitlines() if self.output.exists() else []
        parsed = [json.loads(line) for line in lines if line.strip()]
        self.meta = parsed[0] if parsed else {}
        self.records = parsed[1:]


def generate(
    python: Path,
    tree: Path,
    out: Path,
    seed: int,
    blocks: int,
    enabled: Sequence[str],
    only: str = "",
) -> dict[str, Any]:
    """Write the sequence with ``python`` (the tree's protobuf classes) and load it."""
    command = [str(python), str(HERE / "xpy_blocks.py"), str(seed), str(blocks), str(out)]
    command += [",".join(enabled) or "-", only]
    done = subprocess.run(
        command, env=child_env(tree, "0"), capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"generating the sequence failed:\n{done.stderr[-3000:]}")
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def replay(python: Path, tree: Path, sequence: Path, run: Run, workdir: Path) -> Run:
    """Replay the sequence in a fresh process; the run with its output loaded."""
    store = workdir / f"store-{run.minor}-{run.hash_seed}"
    shutil.rmtree(store, ignore_errors=True)
    command = [str(python), str(HERE / "xpy_replay.py"), str(sequence), str(run.output), str(store)]
    try:
        done = subprocess.run(
            command,
            env=child_env(tree, run.hash_seed),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        run.returncode, run.stderr = done.returncode, done.stderr[-3000:]
    except subprocess.TimeoutExpired:
        run.returncode, run.stderr = -1, f"timed out after {RUN_TIMEOUT} s"
    shutil.rmtree(store, ignore_errors=True)
    run.load()
    return run


def run_matrix(
    pythons: dict[str, Path],
    hash_seeds: Sequence[str],
    tree: Path,
    sequence: Path,
    workdir: Path,
    jobs: int = 2,
) -> list[Run]:
    """Every (minor, hash seed) replay, ``jobs`` at a time; the first minor and seed first."""
    runs = [
        Run(minor, seed, workdir / f"run-{minor}-{seed}.jsonl")
        for minor in pythons
        for seed in hash_seeds
    ]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(replay, pythons[r.minor], tree, sequence, r, workdir) for r in runs]
        return [f.result() for f in futures]


# --- comparison -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """The first place two runs differ."""

    height: int
    what: str
    baseline: Any
    other: Any
    label: str = ""

    def describe(self, base: str, other: str) -> str:
        where = f"height {self.height}" + (f", {self.label}" if self.label else "")
        return (
            f"first difference at {where}: {self.what}\n"
            f"    {base}: {_short(self.baseline)}\n"
            f"    {other}: {_short(self.other)}"
        )


def _short(value: Any, limit: int = 600) -> str:
    text = ascii(value)
    return text if len(text) <= limit else text[:limit] + "..."


def tx_label(sequence: dict[str, Any], block: int, index: int) -> str:
    """The generator's label of the ``index``-th tx of the sequence's ``block``-th block."""
    blocks = sequence["blocks"]
    if 0 <= block < len(blocks) and 0 <= index < len(blocks[block]["txs"]):
        return f"tx {index} ({blocks[block]['txs'][index]['label']})"
    return f"tx {index}"


def crash_type(record: dict[str, Any]) -> str | None:
    crash = record.get("crash")
    return crash.split(":", 1)[0] if crash else None


def first_difference(
    base: Run, other: Run, keys: Sequence[str], sequence: dict[str, Any]
) -> Difference | None:
    """The first height where ``keys`` differ between the runs (consensus keys also compare
    crash types and the number of heights replayed)."""
    consensus = tuple(keys) == CONSENSUS
    for a, b in zip(base.records, other.records, strict=False):
        height = a.get("height", -1)
        if consensus and (crash_type(a) != crash_type(b) or a.get("app_hash") != b.get("app_hash")):
            what = "crash" if crash_type(a) or crash_type(b) else "app hash"
            return Difference(
                height,
                what,
                a.get("crash") or a.get("app_hash"),
                b.get("crash") or b.get("app_hash"),
            )
        if not consensus and a.get("crash") != b.get("crash"):
            return Difference(height, "crash message", a.get("crash"), b.get("crash"))
        for key in keys:
            found = _differ(a, b, key, sequence)
            if found is not None:
                return found
    if consensus and len(base.records) != len(other.records):
        return Difference(
            -1,
            "number of heights replayed (a run died?)",
            len(base.records),
            f"{len(other.records)}; {other.stderr[-500:]}",
        )
    return None


def _differ(
    record_a: dict[str, Any], record_b: dict[str, Any], key: str, sequence: dict[str, Any]
) -> Difference | None:
    """Where ``key`` differs between two records of one height, down to the tx or query."""
    a, b = record_a.get(key), record_b.get(key)
    if a == b:
        return None
    height, block = record_a.get("height", -1), record_a.get("block", -1)
    per_tx = key in ("txs", "check", "logs", "infos", "events")
    if per_tx and isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                what = key
                if key == "txs":
                    fields = [f for f, u, v in zip(TX_FIELDS, x, y, strict=True) if u != v]
                    what = "tx result " + ", ".join(fields)
                return Difference(height, what, x, y, tx_label(sequence, block, index))
    if key == "queries" and isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        paths = sequence["blocks"][block]["queries"]
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return Difference(height, f"query {paths[index][0]} {paths[index][1]}", x, y)
    return Difference(height, key, a, b)


@dataclass
class Report:
    """Every run against the first one, and the crashes the baseline saw."""

    runs: list[Run]
    consensus: list[tuple[Run, Difference]]
    other: list[tuple[Run, Difference]]
    crashes: list[str]
    failed_runs: list[Run]
    sequence: dict[str, Any]

    @property
    def consensus_ok(self) -> bool:
        return not self.consensus and not self.failed_runs

    def text(self, coverage: bool = False) -> str:
        base = self.runs[0]
        lines = [f"baseline: {base.name}, {len(base.records) - 1} blocks"]
        for run in self.failed_runs:
            lines.append(f"{run.name}: the replay failed (exit {run.returncode}):\n{run.stderr}")
        for run, diff in self.consensus:
            lines.append(f"CONSENSUS: {run.name}\n  {diff.describe(base.name, run.name)}")
        for run, diff in self.other:
            lines.append(f"logs/queries: {run.name}\n  {diff.describe(base.name, run.name)}")
        if not self.consensus and not self.failed_runs:
            lines.append(f"consensus fields agree across {len(self.runs)} runs")
        lines += [f"CRASH at {c}" for c in self.crashes]
        if coverage:
            lines.append(coverage_text(base, self.sequence))
        return "\n".join(lines)


def compare(runs: list[Run], sequence: dict[str, Any]) -> Report:
    """Compare every run with the first."""
    base = runs[0]
    failed = [r for r in runs if r.returncode != 0 or not r.records]
    consensus, other = [], []
    for run in runs[1:]:
        diff = first_difference(base, run, CONSENSUS, sequence)
        if diff is not None:
            consensus.append((run, diff))
        diff = first_difference(base, run, OTHER, sequence)
        if diff is not None:
            other.append((run, diff))
    crashes = [f"height {r['height']}: {r['crash']}" for r in base.records if r.get("crash")]
    return Report(runs, consensus, other, crashes, failed, sequence)


def coverage_text(run: Run, sequence: dict[str, Any]) -> str:
    """How often each message kind ended in each result (from the logs' error names)."""
    outcomes: Counter[tuple[str, str]] = Counter()
    for record in run.records[1:]:
        specs = sequence["blocks"][record["block"]]["txs"]
        for spec, result, log in zip(
            specs, record.get("txs", []), record.get("logs", []), strict=False
        ):
            words = spec["label"].split(": ", 1)[-1].split(" ")
            outcomes[(words[0], "ok" if result[0] == 0 else log.split(":", 1)[0])] += 1
    kinds = sorted({k for k, _ in outcomes})
    rows = []
    for kind in kinds:
        counts = sorted(((n, o) for (k, o), n in outcomes.items() if k == kind), reverse=True)
        rows.append(f"  {kind}: " + ", ".join(f"{o} {n}" for n, o in counts))
    return "outcomes by message kind:\n" + "\n".join(rows)


# --- the whole check --------------------------------------------------------------------------


def interpreters(minors: Sequence[str]) -> dict[str, Path]:
    """The cached environment of every minor; raises PythonUnavailable naming the first missing."""
    return {minor: ensure_python(minor) for minor in minors}


def check(
    tree: Path,
    workdir: Path,
    seed: int,
    blocks: int,
    enabled: Sequence[str],
    minors: Sequence[str] = SUPPORTED_MINORS,
    hash_seeds: Sequence[str] = DEFAULT_HASH_SEEDS,
    only: str = "",
    jobs: int = 2,
) -> Report:
    """Generate, replay under every (minor, hash seed), compare."""
    pythons = interpreters(minors)
    workdir.mkdir(parents=True, exist_ok=True)
    sequence_path = workdir / "sequence.json"
    sequence = generate(pythons[minors[0]], tree, sequence_path, seed, blocks, enabled, only)
    runs = run_matrix(pythons, hash_seeds, tree, sequence_path, workdir, jobs)
    return compare(runs, sequence)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pythons", default=",".join(SUPPORTED_MINORS))
    parser.add_argument("--hash-seeds", default=",".join(DEFAULT_HASH_SEEDS))
    parser.add_argument("--source", default=None, help="tree whose app/ is tested")
    parser.add_argument("--all-tags", action="store_true", help="include known divergences")
    parser.add_argument("--enable", default="", help="comma-separated tags to include")
    parser.add_argument("--only", default="", help="replay one tag's minimal scenario")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", default=None, help="keep sequence and outputs in this dir")
    args = parser.parse_args(argv)
    enabled = sorted(TAGS) if args.all_tags else [t for t in args.enable.split(",") if t]
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="xpy-"))
    try:
        report = check(
            source_tree(args.source),
            workdir,
            args.seed,
            args.blocks,
            enabled,
            args.pythons.split(","),
            args.hash_seeds.split(","),
            args.only,
            args.jobs,
        )
    except (PythonUnavailable, SourceError) as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report.text(coverage=True))
    return 0 if report.consensus_ok and not report.crashes else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
