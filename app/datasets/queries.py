"""Queries of the datasets domain: the datasets, one dataset, what was trained on a version,
and which derivative model a receipt licensed.

A dataset's versions, lineage, holder and stores answer at the models' paths (/models/versions,
/models/lineage, ...), since a dataset lives in the models' namespace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from app.core.errors import NOT_FOUND, TxError
from app.core.query import Handler, QueryAnswer, int_param, limit_param, page, record, text_param
from app.core.text import quote
from app.datasets import keys
from app.datasets.keeper import DatasetsReader
from app.models import keys as model_keys
from app.models.keeper import DATASET, ModelsReader, version_ref
from app.state import Reader


def datasets(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/datasets/datasets {"after", "limit"}: every dataset's record (a Model of kind
    "dataset") in id order."""
    after = text_param(params, "after", required=False)

    def items() -> Iterator[tuple[str, bytes]]:
        for dataset_id in DatasetsReader(state).dataset_ids(after):
            raw = state.get(model_keys.model_key(dataset_id))
            if raw is not None:
                yield dataset_id, raw

    return page(items(), limit_param(params))


def dataset(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/datasets/dataset {"id"}: one dataset's record (provable)."""
    dataset_id = text_param(params, "id")
    found = ModelsReader(state).model(dataset_id)
    if found is None or found.kind != DATASET:
        raise TxError(NOT_FOUND, f"dataset {quote(dataset_id, 80)} not found")
    return QueryAnswer(found.SerializeToString(), model_keys.model_key(dataset_id))


def trained(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/datasets/trained {"dataset", "version", "after", "limit"}: the versions trained on a
    dataset version, in ref order (each item the version ref); the cursor is the ref."""
    dataset_id, name = text_param(params, "dataset"), text_param(params, "version")
    after = text_param(params, "after", required=False)
    ref = version_ref(dataset_id, name)
    reader = ModelsReader(state)
    if reader.version(dataset_id, name) is None:
        raise TxError(NOT_FOUND, f"version {quote(ref, 160)} not found")
    items = ((r, r.encode()) for r in reader.trained_on_dataset(ref, after))
    return page(items, limit_param(params))


MAX_U64 = 2**64 - 1


def receipt_binding(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/datasets/receipt_binding {"receipt"}: present once the receipt (of an allowed
    fine-tune or training use) licensed a derivative model, which it then licenses alone
    (app.datasets.lineage); the value is that model's id (provable, like its absence)."""
    receipt_id = int_param(params, "receipt", 0, MAX_U64, minimum=1)
    what = f"a model licensed by receipt {receipt_id}"
    return record(state, keys.licensed_key(receipt_id), what)


QUERIES: dict[str, Handler] = {
    "/datasets/datasets": datasets,
    "/datasets/dataset": dataset,
    "/datasets/trained": trained,
    "/datasets/receipt_binding": receipt_binding,
}
