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


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:3]) for c in COMMANDS])
def test_a_command_that_moves_no_weights_imports_neither_torch_nor_numpy(
    argv: list[str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "MODELGOV_HOME": str(tmp_path)},
    )
    imported = json.loads(done.stderr.strip().splitlines()[-1])
    assert imported == [], f"{argv} imported {imported}"


@pytest.mark.parametrize("argv", LIGHT, ids=[" ".join(c[:3]) for c in LIGHT])
def test_help_queries_txs_and_hashing_load_no_state_machine(
    argv: list[str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=LOCAL_ONLY), json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "MODELGOV_HOME": str(tmp_path)},
    )
    imported = json.loads(done.stderr.strip().splitlines()[-1])
    assert imported == [], f"{argv} imported {imported}"
