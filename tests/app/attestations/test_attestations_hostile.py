"""Hostile attestations, by kind: metric values and scales, text sizes and ids at their
extremes. A FinalizeBlock that raised would fail the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, digest, publish, register, started

from app.attestations import errors, keys
from app.core.errors import ErrorCode
from app.members.keeper import DEFAULT_PARAMS
from app.pb.modelgov.v1 import federated_pb2, state_pb2, tx_pb2

MODEL = "uni/base"
MAX_U64 = 2**64 - 1
DESCRIPTION = DEFAULT_PARAMS.max_description_bytes


def attest(**overrides: Any) -> tx_pb2.Msg:
    fields: dict[str, Any] = {
        "model": MODEL,
        "version": "1.0",
        "kind": "evaluation",
        "metrics": [tx_pb2.Metric(name="accuracy", int_value=9134, scale=4)],
        "method": "held-out split",
    }
    fields.update(overrides)
    return tx_pb2.Msg(attest=tx_pb2.Attest(**fields))


def metric(**fields: Any) -> list[tx_pb2.Metric]:
    return [tx_pb2.Metric(name=fields.pop("name", "m"), **fields)]


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Driver]:
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish(MODEL, "1.0"))
    yield driver
    driver.close()


CASES = [
    ("int64-min", {"metrics": metric(int_value=-(2**63))}, None),
    ("int64-max", {"metrics": metric(int_value=2**63 - 1, scale=18)}, None),
    ("scale-above-max", {"metrics": metric(int_value=1, scale=19)}, errors.INVALID_FIELD),
    ("scale-u32-max", {"metrics": metric(int_value=1, scale=2**32 - 1)}, errors.INVALID_FIELD),
    ("text-with-scale", {"metrics": metric(text_value="x", scale=1)}, errors.INVALID_FIELD),
    ("text-256", {"metrics": metric(text_value="x" * 256)}, None),
    ("text-257", {"metrics": metric(text_value="x" * 257)}, errors.INVALID_FIELD),
    ("text-non-ascii", {"metrics": metric(text_value="\u00e9" * 128)}, None),
    ("text-non-ascii-over", {"metrics": metric(text_value="\u00e9" * 129)}, errors.INVALID_FIELD),
    ("no-value", {"metrics": metric()}, errors.INVALID_FIELD),
    ("method-at-limit", {"method": "m" * DESCRIPTION}, None),
    ("method-over-limit", {"method": "m" * (DESCRIPTION + 1)}, errors.INVALID_FIELD),
    ("empty", {"metrics": [], "method": ""}, errors.EMPTY),
    ("kind-unknown", {"kind": "vibes"}, errors.INVALID_KIND),
    ("kind-empty", {"kind": ""}, errors.INVALID_KIND),
    ("kind-newline", {"kind": "evaluation\n"}, errors.INVALID_KIND),
    ("metric-name-newline", {"metrics": metric(name="acc\n", int_value=1)}, errors.INVALID_FIELD),
    (
        "metric-name-non-ascii",
        {"metrics": metric(name="acc\u0131", int_value=1)},
        errors.INVALID_FIELD,
    ),
    ("digest-newline", {"artifact_digest": digest("x") + "\n"}, errors.INVALID_FIELD),
    ("digest-upper", {"dataset_digest": digest("x").upper()}, errors.INVALID_FIELD),
    ("no-version", {"version": "9.9"}, errors.VERSION_NOT_FOUND),
    (
        "too-many-metrics",
        {
            "metrics": [
                tx_pb2.Metric(name=f"m{i}", int_value=i)
                for i in range(DEFAULT_PARAMS.max_metrics_per_version + 1)
            ]
        },
        errors.INVALID_FIELD,
    ),
]


@pytest.mark.parametrize(("fields", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_attesting_at_the_extremes(
    registry: Driver, fields: dict[str, Any], error: ErrorCode | None
) -> None:
    result = registry.run("openml-audit", attest(**fields))
    assert result.log.isascii() and result.log.isprintable(), result.log
    if error is None:
        assert result.code == 0, result.log
        answer = registry.query("/attestations/by_version", {"model": MODEL, "version": "1.0"})
        [raw] = state_pb2.Page.FromString(answer.value).items
        stored = federated_pb2.Attestation.FromString(raw)
        assert list(stored.metrics) == list(fields.get("metrics", attest().attest.metrics))
    else:
        expect(result, error)


def test_attestation_ids_exhausted_refuse_the_next(registry: Driver) -> None:
    registry.app.pending.set(keys.LAST_ID, (MAX_U64 - 1).to_bytes(8, "big"))  # the last given
    registry.block([])
    registry.ok("openml-audit", attest())  # the last id: the next one would not fit
    expect(registry.run("openml-audit", attest()), errors.IDS_EXHAUSTED)
    answer = registry.query("/attestations/by_org", {"org": "openml"})
    [raw] = state_pb2.Page.FromString(answer.value).items
    assert federated_pb2.Attestation.FromString(raw).id == MAX_U64
