"""The app's log says what each committed block was: height, txs, app hash, time taken."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from driver import register, started


def test_each_commit_logs_height_txs_app_hash_and_ms(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    driver = started(tmp_path)
    with caplog.at_level(logging.INFO, logger="modelgov.app"):
        driver.block([driver.sign("uni-pub", [register("uni", "m")])])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("committed")]
    assert len(lines) == 1, lines
    found = re.fullmatch(
        r"committed height (\d+): (\d+) txs, app hash ([0-9a-f]{64}), (\d+) ms", lines[0]
    )
    assert found is not None, lines[0]
    assert int(found[1]) == driver.height and found[2] == "1"
    assert bytes.fromhex(found[3]) == driver.store.root
    driver.close()
