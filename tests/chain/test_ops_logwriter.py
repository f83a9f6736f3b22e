"""Node logs rotate: the writer starts a new file past its size, keeps a bounded number of old
ones, and exits when its input closes."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from chain.ops.logwriter import copy, rotate
from chain.ops.status import block_age, problem_of


def test_rotation_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = b"".join(f"line {i:04d}\n".encode() for i in range(100))  # 10 bytes each
    copy(io.BytesIO(lines), log, max_bytes=250, keep=2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["app.log", "app.log.1", "app.log.2"]
    assert all(p.stat().st_size <= 250 for p in tmp_path.iterdir())
    assert log.read_bytes().endswith(b"line 0099\n"), "the newest lines are in the live file"
    assert (tmp_path / "app.log.1").read_bytes().endswith(b"line 0074\n")


def test_rotate_with_nothing_there_is_harmless(tmp_path: Path) -> None:
    rotate(tmp_path / "none.log", 3)
    assert list(tmp_path.iterdir()) == []


def test_the_writer_process_exits_when_its_input_closes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chain.ops.logwriter", str(tmp_path / "x.log")],
        input=b"hello\n",
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0 and (tmp_path / "x.log").read_bytes() == b"hello\n"


HEALTH = [
    (10, 2, 30, False, ""),
    (10, 31, 30, False, "no new block for 31 s (last at height 10)"),
    (0, 0, 30, False, "no block committed yet"),
    (10, 2, 30, True, "catching up"),
]


def test_what_is_wrong_is_said_in_words() -> None:
    for height, age, max_age, catching_up, says in HEALTH:
        found = problem_of(height, age, max_age, catching_up)
        assert (says in found) if says else found == "", (height, age, found)
    assert block_age("2026-01-01T00:00:10.123456789Z", 1767225615.0) == 5
    assert block_age("garbage", 0.0) == -1
