"""The only code that reads and writes the datasets index.

A dataset is a ``Model`` record of kind "dataset" with ordinary versions (``app.models.keeper``
writes them); this keeper indexes which ids are datasets, so that listing them never scans the
models.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.datasets import keys
from app.state import Overlay, Reader


class DatasetsReader:
    """Read-only view of the datasets index."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def listed(self, dataset_id: str) -> bool:
        """Whether ``dataset_id`` is indexed as a dataset."""
        return self.state.get(keys.dataset_key(dataset_id)) is not None

    def dataset_ids(self, after: str = "") -> Iterator[str]:
        """Every dataset id in id order, after ``after``."""
        start = keys.dataset_key(after) if after else None
        for key, _ in self.state.iterate(keys.DATASET, start):
            yield key[len(keys.DATASET) :].decode()


class DatasetsKeeper(DatasetsReader):
    """Read-write view for the datasets handlers and genesis."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def add(self, dataset_id: str) -> None:
        """Index a newly registered dataset."""
        self.state.set(keys.dataset_key(dataset_id), b"\x01")
