"""The CLI answers at once: commands that do not load or train weights never import torch or
numpy (torch alone takes seconds to import), and the commands that neither build a genesis nor
run a license script load neither the state machine nor the license interpreter (together they
doubled the CLI's start; benchmarks/cli_start.py measures it against a bare Python)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chain.cli import TABLE

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "numpy")
LOCAL_ONLY = ("app.machine", "app.licenses.lang", "chain.genesis")
"""What only genesis building and license checks need: the state machine and the interpreter."""
PROBE = """
import json, runpy, sys
sys.argv = ["modelgov", *json.loads(sys.argv[1])]
try:
    runpy.run_module("chain.cli.main", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""

UNREACHABLE = "http://127.0.0.1:9"
COMMANDS = [
    ["--help"],
    ["query", "balance", "acme", "--node", UNREACHABLE],
    [
        "tx",
        "credits",
        "transfer",
        "--to",
        "acme",
        "--amount",
        "1",
        "--from",
        "nobody",
        "--chain-id",
        "c",
        "--node",
        UNREACHABLE,
    ],
    ["fl", "--help"],
    ["weights", "hash", __file__],
]
LIGHT = COMMANDS[:3] + COMMANDS[4:]  # fl --help lists training commands, still without torch


def imported(argv: list[str], watched: tuple[str, ...], home: Path) -> list[str]:
    """Which of the ``watched`` modules ``modelgov ARGV`` imported, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=watched), json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "MODELGOV_HOME": str(home)},
    )
    found: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:3]) for c in COMMANDS])
def test_a_command_that_moves_no_weights_imports_neither_torch_nor_numpy(
    argv: list[str], tmp_path: Path
) -> None:
    found = imported(argv, HEAVY, tmp_path)
    assert found == [], f"{argv} imported {found}"


@pytest.mark.parametrize("argv", LIGHT, ids=[" ".join(c[:3]) for c in LIGHT])
def test_help_queries_txs_and_hashing_load_no_state_machine(
    argv: list[str], tmp_path: Path
) -> None:
    found = imported(argv, LOCAL_ONLY, tmp_path)
    assert found == [], f"{argv} imported {found}"


COMMAND_MODULES = tuple(f"chain.cli.{module}" for module, _ in TABLE if module != "root")


@pytest.mark.parametrize(
    ("argv", "modules"),
    [
        (["query", "balance", "acme", "--node", UNREACHABLE], ["chain.cli.credits"]),
        (["tx", "model", "--help"], ["chain.cli.model"]),
        (["genesis", "--help"], ["chain.cli.genesis"]),
        (["query", "nonsense"], []),
    ],
    ids=["query balance", "tx model", "genesis", "unknown"],
)
def test_a_command_imports_its_own_module_and_no_other_commands(
    argv: list[str], modules: list[str], tmp_path: Path
) -> None:
    """The command tree loads a command's module on first use (chain/cli/root.py)."""
    assert imported(argv, COMMAND_MODULES, tmp_path) == modules
