"""Fixtures of the app tests: a driver over a fresh store, before and after genesis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import Driver, started


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Driver]:
    """A driver before InitChain."""
    driver = Driver(tmp_path)
    yield driver
    driver.close()


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    """A driver after InitChain and one empty committed block (height 1)."""
    driver = started(tmp_path)
    yield driver
    driver.close()
