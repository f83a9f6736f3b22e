"""Federated averaging of a round's updates, reproducible to the byte.

FedAvg weights each update by its sample count. To make the result the same on every machine,
updates are taken in org-id order, every tensor is accumulated in float64 on the CPU and cast
back to its dtype at the end (integer tensors are rounded), and the file is written with the
tensor names in sorted order. Any member can then recompute the aggregate and compare digests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from app.pb.modelgov.v1 import federated_pb2
from chain.client import Node
from chain.keys import Key
from chain.weights.client import pull
from chain.weights.digest import WeightsError, hash_path
from chain.weights.torch_io import load_state_dict, save_state_dict


@dataclass(frozen=True)
class Update:
    """One organisation's update: its weights and how many samples trained them."""

    org: str
    sample_count: int
    state: Mapping[str, torch.Tensor]


def fedavg(updates: Sequence[Update]) -> dict[str, torch.Tensor]:
    """The sample-weighted mean of the updates' tensors; raises WeightsError on a mismatch."""
    ordered = sorted(updates, key=lambda u: u.org)
    if not ordered or any(u.sample_count <= 0 for u in ordered):
        raise WeightsError("FedAvg needs at least one update, each with a positive sample count")
    names = sorted(ordered[0].state)
    for update in ordered:
        if sorted(update.state) != names:
            raise WeightsError(f"{update.org}'s update has other tensor names than the rest")
    total = sum(u.sample_count for u in ordered)
    return {name: _average(name, ordered, total) for name in names}


def _average(name: str, updates: Sequence[Update], total: int) -> torch.Tensor:
    first = updates[0].state[name]
    accumulator = torch.zeros(first.shape, dtype=torch.float64)
    for update in updates:
        tensor = update.state[name]
        if tensor.shape != first.shape or tensor.dtype != first.dtype:
            raise WeightsError(f"tensor {name!r} of {update.org} differs in shape or dtype")
        accumulator += tensor.detach().cpu().to(torch.float64) * update.sample_count
    mean = accumulator / total
    if first.dtype.is_floating_point:
        return mean.to(first.dtype)
    return torch.round(mean).to(first.dtype)


def write_aggregate(updates: Sequence[Update], to: Path) -> str:
    """Average the updates into a safetensors file at ``to``; returns its digest."""
    save_state_dict(fedavg(updates), to)
    return hash_path(to).digest


def pull_updates(node: Node, key: Key, round_: federated_pb2.Round, workdir: Path) -> list[Update]:
    """Download and digest-check the included (or, before finalize, all submitted) updates."""
    wanted = set(round_.included) or {s.org for s in round_.submissions}
    updates = []
    for submission in sorted(round_.submissions, key=lambda s: s.org):
        if submission.org not in wanted:
            continue
        ref = f"{round_.target_model}@{submission.version}"
        report = pull(node, key, ref, workdir / submission.org)
        state = load_state_dict(report.path, expected_digest=submission.update_digest)
        updates.append(Update(submission.org, submission.sample_count, state))
    return updates
