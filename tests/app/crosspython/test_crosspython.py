"""The same answer on every Python (issue 9, item 4).

A seeded, randomized sequence of blocks (every message kind, hostile values in every field,
hostile license scripts) is replayed in fresh processes under CPython 3.11, 3.12 and 3.13 and
several PYTHONHASHSEEDs (``xpy_compare``); every height's app hash and every tx result must agree.
The interpreters come from the per-machine cache of ``chain.engine.pythons`` (built on first use;
the tests skip, with the reason, where a minor cannot be had). ``MODELGOV_XPY_SOURCE=DIR`` tests
another checkout's ``app``; ``MODELGOV_XPY_BLOCKS`` changes the sequence length (the long run is
``xpy_compare.py``'s command line, see its docstring).

Known divergences are feature tags (``xpy_values.TAGS``) listed in ``KNOWN`` with the reason:
the main sequence leaves their values out, and each tag's minimal scenario is an expected
failure until the app is fixed. Fixing one means deleting its line in ``KNOWN``: the scenario
must then pass, and the main sequence draws that tag's values again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from xpy_compare import (
    CONSENSUS,
    DEFAULT_HASH_SEEDS,
    Difference,
    Report,
    Run,
    SourceError,
    check,
    first_difference,
    interpreters,
    source_tree,
)
from xpy_values import (
    TAGS,
)

from chain.engine.pythons import SUPPORTED_MINORS, PythonUnavailable

KNOWN: dict[str, str] = {}
SEED = 1
BLOCKS = int(os.environ.get("MODELGOV_XPY_BLOCKS", "500"))
ENABLED = sorted(set(TAGS) - set(KNOWN))


@pytest.fixture(scope="module")
def tree() -> Path:
    try:
        return source_tree()
    except SourceError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def pythons() -> dict[str, Path]:
    try:
        return interpreters(SUPPORTED_MINORS)
    except PythonUnavailable as exc:
        pytest.skip(f"cross-Python check skipped: {exc}")


@pytest.fixture(scope="module")
def report(
    tree: Path, pythons: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Report:
    workdir = tmp_path_factory.mktemp("xpy")
    return check(tree, workdir, SEED, BLOCKS, ENABLED, tuple(pythons), DEFAULT_HASH_SEEDS)


def test_every_python_and_hash_seed_computes_the_same_chain(report: Report) -> None:
    assert len(report.runs) == len(SUPPORTED_MINORS) * len(DEFAULT_HASH_SEEDS)
    assert {r.meta.get("unicode") for r in report.runs} == {"14.0.0", "15.0.0", "15.1.0"}
    assert report.consensus_ok, report.text()


def test_no_block_of_the_sequence_crashes_the_app(report: Report) -> None:
    assert not report.crashes, report.text()


def test_logs_checktx_and_queries_agree_too(report: Report) -> None:
    assert not report.other, report.text()


def test_the_sequence_exercises_every_message_kind(report: Report) -> None:
    """Every routed message kind succeeds somewhere and fails somewhere, and scripts run into
    their limits: a sequence that never reaches the handlers would compare nothing."""
    from app.pb.modelgov.v1 import tx_pb2

    kinds = {f.name for f in tx_pb2.Msg.DESCRIPTOR.oneofs_by_name["sum"].fields}
    ok, failed, logs = outcomes(report)
    assert kinds <= ok, f"never succeeded: {sorted(kinds - ok)}"
    assert kinds <= failed, f"never failed: {sorted(kinds - failed)}"
    for name in ("out_of_gas", "script_failed", "invalid_script", "fee_above_max", "denied"):
        assert logs[name] > 0, f"no use or deploy ended in {name}"
    for name in ("terms_narrowed", "version_gone"):  # a lease's or a buy's pinned terms
        assert logs.get(name, 0) > 0, f"no lease or buy ended in {name}"


def outcomes(report: Report) -> tuple[set[str], set[str], dict[str, int]]:
    """Kinds that succeeded, kinds that failed, and a count per error name (baseline run)."""
    sequence: dict[str, Any] = report.sequence
    ok: set[str] = set()
    failed: set[str] = set()
    names: dict[str, int] = {}
    for record in report.runs[0].records[1:]:
        specs = sequence["blocks"][record["block"]]["txs"]
        for spec, result, log in zip(
            specs, record.get("txs", []), record.get("logs", []), strict=False
        ):
            (ok if result[0] == 0 else failed).update(spec["kinds"])
            name = log.split(":", 1)[0] if result[0] else "ok"
            names[name] = names.get(name, 0) + 1
    return ok, failed, names


@pytest.mark.parametrize("tag", sorted(TAGS))
def test_minimal_scenario_of_each_divergence_agrees(
    tag: str,
    tree: Path,
    pythons: dict[str, Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    if tag in KNOWN:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN[tag]))
    result = check(tree, tmp_path, 0, 0, sorted(TAGS), tuple(pythons), ("0",), only=tag)
    assert result.consensus_ok and not result.crashes, result.text()


# --- the comparison itself ----------------------------------------------------------------------


def fake_run(seed: str, hashes: list[str], txs: list[list[Any]]) -> Run:
    run = Run("3.11", seed, Path("/nonexistent"))
    run.meta = {"python": "3.11.7", "unicode": "14.0.0"}
    run.records = [{"height": 0, "app_hash": "00"}] + [
        {
            "height": h + 1,
            "block": h,
            "app_hash": a,
            "accept": True,
            "txs": t,
            "validators": [],
            "crash": None,
        }
        for h, (a, t) in enumerate(zip(hashes, txs, strict=True))
    ]
    return run


SEQUENCE = {
    "blocks": [{"txs": [{"label": "a: use x"}, {"label": "b: deploy y"}], "queries": []}] * 3
}


@pytest.mark.parametrize(
    ("other_hashes", "other_txs", "expected"),
    [
        (["a", "b", "c"], [[[0, "", 1, 1, ""], [5, "licenses", 1, 1, ""]]] * 3, None),
        (
            ["a", "b", "c"],
            [[[0, "", 1, 1, ""], [5, "licenses", 1, 1, ""]]] * 2
            + [[[0, "", 1, 1, ""], [2, "licenses", 1, 1, ""]]],
            Difference(
                3,
                "tx result code",
                [5, "licenses", 1, 1, ""],
                [2, "licenses", 1, 1, ""],
                "tx 1 (b: deploy y)",
            ),
        ),
        (
            ["a", "x", "c"],
            [[[0, "", 1, 1, ""], [5, "licenses", 1, 1, ""]]] * 3,
            Difference(2, "app hash", "b", "x"),
        ),
        (
            ["a", "b", "c"],
            [[[0, "", 1, 2, ""], [5, "licenses", 1, 1, ""]]]
            + [[[0, "", 1, 1, ""], [5, "licenses", 1, 1, ""]]] * 2,
            Difference(
                1, "tx result gas_used", [0, "", 1, 1, ""], [0, "", 1, 2, ""], "tx 0 (a: use x)"
            ),
        ),
    ],
)
def test_the_first_difference_names_height_tx_and_field(
    other_hashes: list[str], other_txs: list[list[Any]], expected: Difference | None
) -> None:
    base = fake_run("0", ["a", "b", "c"], [[[0, "", 1, 1, ""], [5, "licenses", 1, 1, ""]]] * 3)
    other = fake_run("1", other_hashes, other_txs)
    assert first_difference(base, other, CONSENSUS, SEQUENCE) == expected


def test_a_run_that_stopped_early_is_a_difference() -> None:
    base = fake_run("0", ["a", "b"], [[], []])
    other = fake_run("1", ["a"], [[]])
    found = first_difference(base, other, CONSENSUS, SEQUENCE)
    assert found is not None and found.what.startswith("number of heights")


def test_a_crash_is_compared_by_its_exception_type() -> None:
    base = fake_run("0", ["a"], [[]])
    other = fake_run("1", ["a"], [[]])
    other.records[1]["crash"] = "ValueError: out of range [keeper.py:1 f]"
    found = first_difference(base, other, CONSENSUS, SEQUENCE)
    assert found == Difference(1, "crash", "a", "ValueError: out of range [keeper.py:1 f]")
