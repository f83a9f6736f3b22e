"""The datasets in genesis: their records travel in the models' section (a Model of kind
"dataset"), and the index of dataset ids is derived from them when genesis is written, as is
the model each receipt licensed (from the versions' pinned input terms)."""

from __future__ import annotations

from typing import Any

from driver import EmptyState
from genesis_scenario import exported

from app import machine
from app.datasets import genesis as dataset_genesis
from app.datasets import keys
from app.datasets.keeper import DatasetsReader
from app.state import Overlay


def written(app_state: dict[str, Any]) -> Overlay:
    """Every domain's genesis part written in genesis order (as init_chain does)."""
    state = Overlay(EmptyState())
    genesis = machine.parse_genesis(app_state)
    for name, domain in machine.GENESIS:
        domain.init(state, genesis.parts[name])
    return state


def test_the_index_is_derived_from_the_models_records() -> None:
    app_state = exported()
    assert not any(key.startswith("datasets") for key in app_state)  # no section of its own
    kinds = {m["id"]: m.get("kind", "") for m in app_state["models"]["models"]}
    assert kinds["uni/corpus"] == "dataset" and kinds["uni/base"] == ""
    state = written(app_state)
    assert list(DatasetsReader(state).dataset_ids()) == ["uni/corpus"]
    [receipt] = [
        int(pin["receipt"])
        for version in app_state["models"]["versions"]
        for pin in version.get("input_terms", [])
        if "receipt" in pin
    ]
    assert DatasetsReader(state).licensed_model(receipt) == "acme/mirror"
    assert [k for k, _ in state.iterate(keys.PREFIX)] == [
        keys.dataset_key("uni/corpus"),
        keys.licensed_key(receipt),
    ]


def test_a_model_made_a_dataset_in_genesis_is_indexed_as_one() -> None:
    app_state = exported()
    for model in app_state["models"]["models"]:
        if model["id"] == "uni/base":
            model["kind"] = "dataset"
    state = written(app_state)
    assert list(DatasetsReader(state).dataset_ids()) == ["uni/base", "uni/corpus"]
    assert dataset_genesis.export(state) == {} and dataset_genesis.default() == {}
