"""The rendering rules every output follows (chain/render.py), by kind of value and at its
edges: enum short names, RFC 3339 times, exact decimal metrics, lowercase hex."""

from __future__ import annotations

from typing import Any

import pytest

from app.pb.modelgov.v1 import federated_pb2, state_pb2, tx_pb2
from chain.render import decimal, enum_name, metric, plain, rfc3339, tx_hash

ENUMS: list[tuple[Any, int, str]] = [
    (tx_pb2.VersionStatus.DESCRIPTOR, tx_pb2.VERSION_STATUS_ACTIVE, "active"),
    (tx_pb2.VersionStatus.DESCRIPTOR, tx_pb2.VERSION_STATUS_UNSPECIFIED, "unspecified"),
    (state_pb2.ProposalStatus.DESCRIPTOR, state_pb2.PROPOSAL_STATUS_VOTING, "voting"),
    (tx_pb2.VoteOption.DESCRIPTOR, tx_pb2.VOTE_OPTION_ABSTAIN, "abstain"),
    (federated_pb2.RoundStatus.DESCRIPTOR, federated_pb2.ROUND_STATUS_FINALIZED, "finalized"),
    (tx_pb2.VersionStatus.DESCRIPTOR, 99, "99"),
]


@pytest.mark.parametrize(("enum", "number", "shown"), ENUMS)
def test_enums_by_short_lowercase_name(enum: Any, number: int, shown: str) -> None:
    assert enum_name(enum, number) == shown


TIMES: list[tuple[int, str | int]] = [
    (1_764_672_300, "2025-12-02T10:45:00Z"),
    (1, "1970-01-01T00:00:01Z"),
    (-1, "1969-12-31T23:59:59Z"),
    (0, 0),
    (2**63 - 1, 2**63 - 1),
    (-(2**63), -(2**63)),
]


@pytest.mark.parametrize(("seconds", "shown"), TIMES)
def test_times_in_rfc3339_utc(seconds: int, shown: str | int) -> None:
    assert rfc3339(seconds) == shown


DECIMALS: list[tuple[int, int, str]] = [
    (913, 3, "0.913"),
    (5, 0, "5"),
    (100, 2, "1.00"),
    (-15, 1, "-1.5"),
    (1, 18, "0.000000000000000001"),
    (2**63 - 1, 0, "9223372036854775807"),
    (-(2**63), 18, "-9.223372036854775808"),
]


@pytest.mark.parametrize(("value", "scale", "shown"), DECIMALS)
def test_metrics_as_exact_decimals(value: int, scale: int, shown: str) -> None:
    assert decimal(value, scale) == shown
    assert metric(tx_pb2.Metric(name="m", int_value=value, scale=scale)) == {
        "name": "m",
        "value": shown,
    }


def test_a_text_metric_and_a_zero_metric() -> None:
    assert metric(tx_pb2.Metric(name="set", text_value="")) == {"name": "set", "value": ""}
    assert metric(tx_pb2.Metric(name="z", int_value=0)) == {"name": "z", "value": "0"}


def test_a_record_follows_every_rule() -> None:
    version = state_pb2.Version(
        model="a/b",
        tx_hash=b"\xab\xcd",
        status=tx_pb2.VERSION_STATUS_DEPRECATED,
        time=1_764_672_300,
        metrics=[tx_pb2.Metric(name="acc", int_value=913, scale=3)],
    )
    data = plain(version)
    assert (data["tx_hash"], data["status"], data["time"]) == (
        "abcd",
        "deprecated",
        "2025-12-02T10:45:00Z",
    )
    assert data["metrics"] == [{"name": "acc", "value": "0.913"}]
    assert plain(state_pb2.Model(created_time=1))["created_time"] == "1970-01-01T00:00:01Z"


def test_tx_hashes_lowercase() -> None:
    assert tx_hash("ABCDEF") == "abcdef" and tx_hash(b"\xab") == "ab"
