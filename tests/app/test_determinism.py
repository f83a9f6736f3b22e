"""Determinism: the same blocks give the same app hashes in fresh processes whatever the hash
seed, and they match an in-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from determinism_run import run_blocks

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _run_in_subprocess(path: Path, seed: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = seed
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE)])
    completed = subprocess.run(
        [sys.executable, str(HERE / "determinism_run.py"), str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def test_same_blocks_same_hashes_across_hash_seeds(tmp_path: Path) -> None:
    first = _run_in_subprocess(tmp_path / "seed1", "1")
    second = _run_in_subprocess(tmp_path / "seed2", "2")
    assert first == second
    here = json.loads(json.dumps(run_blocks(tmp_path / "inproc")))
    assert here == first
    hashes = first["hashes"]
    assert len(hashes) == 8
    assert len(set(hashes)) == 7  # the empty block (height 4) repeats height 3's hash
    assert hashes[3] == hashes[4]
    codes = first["codes"]
    assert codes[0] == [["", 0], ["", 0], ["", 0], ["tx", 9]]
    assert codes[1] == [["", 0], ["", 0], ["", 0], ["models", 9], ["tx", 1]]
    # others' parents without fine-tune receipts (issue 13: unlicensed_input)
    assert codes[2] == [["models", 37], ["models", 7], ["tx", 6], ["tx", 7]]
    assert codes[4] == [["", 0], ["", 0], ["", 0], ["models", 9]]
    assert codes[5] == [["", 0], ["models", 11], ["", 0], ["", 0]]
    assert codes[6] == [["", 0], ["tx", 5], ["models", 4]]  # a malformed license reference
