"""The same blocks give the same chain: a recorded sequence replays to the recorded app hashes.

``recorded/blocks.json.gz`` is 200 blocks of the cross-Python generator (every message kind,
hostile values and scripts; seed 20261202, every tag), and ``recorded/expected.json.gz`` the
app hash and every tx result's consensus fields (code, codespace, gas wanted and used, data) the
app computed for them when they were recorded, before the state machine's modules were moved
into their present layout. Moving code must not change a single one. A change of the rules
themselves (a new check, a repriced gas) changes them on purpose: record again with::

    .venv/bin/python tests/app/test_recorded_replay.py --record
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BLOCKS = HERE / "recorded" / "blocks.json.gz"
EXPECTED = HERE / "recorded" / "expected.json.gz"
REPLAY = HERE / "crosspython" / "xpy_replay.py"


def replay(workdir: Path) -> list[dict[str, Any]]:
    """Replay the recorded blocks with this checkout, in a fresh process; one record a block."""
    sequence = workdir / "blocks.json"
    sequence.write_bytes(gzip.decompress(BLOCKS.read_bytes()))
    out = workdir / "out.jsonl"
    paths = [str(ROOT), str(HERE), str(HERE / "crosspython")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONHASHSEED": "0"}
    subprocess.run(
        [sys.executable, str(REPLAY), str(sequence), str(out), str(workdir / "store")],
        env=env,
        check=True,
        timeout=600,
    )
    records = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    return [
        {"height": r["height"], "app_hash": r["app_hash"], "txs": r.get("txs", []), **_crash(r)}
        for r in records
    ]


def _crash(record: dict[str, Any]) -> dict[str, Any]:
    return {"crash": record["crash"]} if record.get("crash") else {}


def test_the_recorded_blocks_give_the_recorded_app_hashes(tmp_path: Path) -> None:
    expected: list[dict[str, Any]] = json.loads(gzip.decompress(EXPECTED.read_bytes()))
    got = replay(tmp_path)
    assert len(got) == len(expected) == 201
    for want, have in zip(expected, got, strict=True):
        assert have == want, f"height {want['height']} differs"


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        records = replay(Path(work))
    assert not any("crash" in r for r in records), "a recorded block crashed the app"
    EXPECTED.write_bytes(gzip.compress(json.dumps(records, separators=(",", ":")).encode()))
    print(f"recorded {len(records)} blocks into {EXPECTED}")
