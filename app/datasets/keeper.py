"""The only code that reads and writes the datasets index.

A dataset is a ``Model`` record of kind "dataset" with ordinary versions (``app.models.keeper``
writes them); this keeper indexes which ids are datasets, so that listing them never scans the
models, and which derivative model each receipt of a fine-tune or training use licensed.
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

    def licensed_model(self, receipt_id: int) -> str:
        """The derivative model receipt ``receipt_id`` licensed ("" when none yet)."""
        raw = self.state.get(keys.licensed_key(receipt_id))
        return "" if raw is None else raw.decode()


class DatasetsKeeper(DatasetsReader):
    """Read-write view for the datasets handlers and genesis."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def add(self, dataset_id: str) -> None:
        """Index a newly registered dataset."""
        self.state.set(keys.dataset_key(dataset_id), b"\x01")

    def bind(self, receipt_id: int, model_id: str) -> None:
        """Record that receipt ``receipt_id`` licensed the derivative model ``model_id``."""
        self.state.set(keys.licensed_key(receipt_id), model_id.encode())
