"""The CLI answers at once: commands that do not load or train weights never import torch or
numpy (torch alone takes seconds to import)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "numpy")
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
]


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
