"""The datasets domain's genesis: no section of its own.

A dataset's records travel in the models' section (a ``Model`` of kind "dataset" and its
versions); this domain's one index, which ids are datasets, is derived from them when genesis
is written, so ``init(validate(export(s)))`` writes exactly the index ``s`` holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.genesis import GenesisContext
from app.datasets.keeper import DatasetsKeeper
from app.models.keeper import DATASET, ModelsReader
from app.state import Overlay, Reader

SECTIONS: tuple[str, ...] = ()


def default() -> dict[str, Any]:
    """No sections."""
    return {}


def validate(part: Mapping[str, Any], context: GenesisContext) -> None:
    """Nothing to check: the models' genesis checked the records (kind included)."""
    return None


def init(state: Overlay, parsed: None) -> None:
    """Index every model of kind "dataset" the models' genesis wrote."""
    keeper = DatasetsKeeper(state)
    for model in ModelsReader(state).all_models():
        if model.kind == DATASET:
            keeper.add(model.id)


def export(state: Reader) -> dict[str, Any]:
    """No sections: the index is derived from the models' records."""
    return {}
