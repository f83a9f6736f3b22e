"""FedAvg of small tensors: weighted by samples, order-independent, byte-reproducible."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from chain.weights.digest import WeightsError
from chain.weights.fedavg import Update, fedavg, write_aggregate
from chain.weights.torch_io import load_state_dict


def updates() -> list[Update]:
    def state(scale: float) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(int(scale * 10))
        return {
            "layer.weight": torch.randn(4, 3, generator=generator) * scale,
            "layer.bias": torch.full((4,), scale, dtype=torch.float32),
            "half": torch.full((2,), scale, dtype=torch.float16),
            "steps": torch.tensor([int(scale * 10)], dtype=torch.int64),
        }

    return [
        Update("uni", 100, state(1.0)),
        Update("acme", 300, state(2.0)),
        Update("openml", 600, state(3.0)),
    ]


def test_fedavg_weights_by_sample_count_and_keeps_dtypes() -> None:
    average = fedavg(updates())
    assert torch.allclose(average["layer.bias"], torch.full((4,), 2.5))
    assert average["half"].dtype == torch.float16 and average["steps"].dtype == torch.int64
    assert average["steps"].item() == 25
    manual = torch.zeros(4, 3, dtype=torch.float64)
    for update in updates():
        manual += update.state["layer.weight"].double() * update.sample_count
    manual /= 1000
    assert torch.equal(average["layer.weight"], manual.float())


def test_the_same_updates_in_any_order_give_the_same_digest(tmp_path: Path) -> None:
    forward = write_aggregate(updates(), tmp_path / "a.safetensors")
    again = write_aggregate(updates(), tmp_path / "b.safetensors")
    backward = write_aggregate(list(reversed(updates())), tmp_path / "c.safetensors")
    assert forward == again == backward and forward.startswith("sha256:")
    loaded = load_state_dict(tmp_path / "a.safetensors", expected_digest=forward)
    assert sorted(loaded) == ["half", "layer.bias", "layer.weight", "steps"]


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [Update("uni", 0, {"w": torch.zeros(2)})],
        [Update("uni", 1, {"w": torch.zeros(2)}), Update("acme", 1, {"v": torch.zeros(2)})],
        [Update("uni", 1, {"w": torch.zeros(2)}), Update("acme", 1, {"w": torch.zeros(3)})],
    ],
    ids=["none", "no-samples", "other-names", "other-shape"],
)
def test_mismatched_updates_are_refused(bad: list[Update]) -> None:
    with pytest.raises(WeightsError):
        fedavg(bad)
