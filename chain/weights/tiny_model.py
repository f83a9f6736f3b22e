"""A tiny torch model the demos train in seconds on data they generate: two-feature points,
labelled by which side of a curve they fall on. Real weights, no download from anywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

FEATURES, HIDDEN, CLASSES = 2, 16, 2


def make_data(seed: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points in [-1, 1]^2 and their labels (inside or outside a circle of radius 0.6)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    points = torch.rand(samples, FEATURES, generator=generator) * 2 - 1
    labels = (points.pow(2).sum(dim=1) < 0.36).long()
    return points, labels


def build() -> torch.nn.Module:
    """The network: 2 -> 16 -> 2 with a ReLU."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES)
    )


def train(seed: int, samples: int = 2048, steps: int = 300) -> dict[str, torch.Tensor]:
    """Train from scratch on generated data; the state dict (CPU, float32)."""
    import torch

    torch.manual_seed(seed)
    points, labels = make_data(seed, samples)
    model = build()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(points), labels)
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def accuracy(state: dict[str, torch.Tensor], seed: int, samples: int = 1024) -> float:
    """Share of held-out generated points the weights classify right."""
    import torch

    model = build()
    model.load_state_dict(state)
    points, labels = make_data(seed, samples)
    with torch.no_grad():
        predicted = model(points).argmax(dim=1)
    return float((predicted == labels).float().mean())
