"""The datasets domain's genesis: no section of its own.

A dataset's records travel in the models' section (a ``Model`` of kind "dataset" and its
versions); this domain's indexes are derived when genesis is written: which ids are datasets,
from those records, and which derivative model each receipt licensed, from the receipts the
versions' pinned input terms and the rounds' base terms name (a round's, its target model). So
``init(validate(export(s)))`` writes exactly the indexes ``s`` holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.genesis import GenesisContext
from app.datasets import lineage
from app.datasets.keeper import DatasetsKeeper
from app.federated import keys as federated_keys
from app.models.keeper import DATASET, ModelsReader
from app.pb.modelgov.v1 import federated_pb2
from app.state import Overlay, Reader

SECTIONS: tuple[str, ...] = ()


def default() -> dict[str, Any]:
    """No sections."""
    return {}


def validate(part: Mapping[str, Any], context: GenesisContext) -> None:
    """Nothing to check: the models' genesis checked the records (kind included)."""
    return None


def init(state: Overlay, parsed: None) -> None:
    """Index every model of kind "dataset" the models' genesis wrote, and the model each
    receipt licensed (genesis runs this domain after the models and the rounds)."""
    keeper = DatasetsKeeper(state)
    models = ModelsReader(state)
    for model in models.all_models():
        if model.kind == DATASET:
            keeper.add(model.id)
        for _, name in models.version_names(model.id):
            version = models.version(model.id, name)
            if version is not None:
                lineage.bind_receipts(state, model.id, version.input_terms)
    for _, raw in state.iterate(federated_keys.ROUND):
        record = federated_pb2.Round.FromString(raw)
        lineage.bind_receipts(state, record.target_model, [record.base_terms])


def export(state: Reader) -> dict[str, Any]:
    """No sections: the index is derived from the models' records."""
    return {}
