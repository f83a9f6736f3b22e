"""Attestations through the whole app: auditors of any org record runs about any version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, digest, publish, register, started

from app.attestations import errors
from app.core.errors import MISSING_ROLE, ErrorCode
from app.pb.modelgov.v1 import federated_pb2, state_pb2, tx_pb2

MODEL = "uni/base"


def attest(**overrides: Any) -> tx_pb2.Msg:
    fields: dict[str, Any] = {
        "model": MODEL,
        "version": "1.0",
        "kind": "evaluation",
        "dataset_digest": digest("heldout"),
        "metrics": [
            tx_pb2.Metric(name="accuracy", int_value=9134, scale=4),
            tx_pb2.Metric(name="suite", text_value="glue-v2"),
        ],
        "artifact_digest": digest("report"),
        "method": "5-fold cross-validation on the held-out split",
    }
    fields.update(overrides)
    return tx_pb2.Msg(attest=tx_pb2.Attest(**fields))


def listing(
    driver: Driver, path: str, **params: Any
) -> tuple[list[federated_pb2.Attestation], str]:
    answer = driver.query(path, params)
    assert answer.code == 0, answer.log
    page = state_pb2.Page.FromString(answer.value)
    return [federated_pb2.Attestation.FromString(i) for i in page.items], page.next


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Driver]:
    """uni publishes uni/base@1.0."""
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish(MODEL, "1.0"))
    yield driver
    driver.close()


def test_an_auditor_attests_and_the_record_names_it(registry: Driver) -> None:
    result = registry.ok("openml-audit", attest())
    assert [e.type for e in result.events] == ["attestation.recorded"]
    [record], nxt = listing(registry, "/attestations/by_version", model=MODEL, version="1.0")
    assert (record.id, record.kind, record.org, nxt) == (1, "evaluation", "openml", "")
    assert record.attester == registry["openml-audit"].address
    assert record.height == registry.height and record.time == registry.time
    assert record.metrics[0].int_value == 9134 and record.metrics[1].text_value == "glue-v2"
    assert record.dataset_digest == digest("heldout")


def test_attestations_are_append_only_and_page_by_id(registry: Driver) -> None:
    for kind in ("training", "evaluation", "validation"):
        registry.ok("openml-audit", attest(kind=kind))
    first, nxt = listing(registry, "/attestations/by_org", org="openml", limit=2)
    assert [a.id for a in first] == [1, 2] and nxt == "2"
    rest, nxt = listing(registry, "/attestations/by_org", org="openml", after=nxt)
    assert [a.kind for a in rest] == ["validation"] and nxt == ""
    assert listing(registry, "/attestations/by_org", org="uni")[0] == []


def test_method_alone_is_enough(registry: Driver) -> None:
    registry.ok("openml-audit", attest(metrics=[], dataset_digest="", artifact_digest=""))


@pytest.mark.parametrize(
    ("sender", "msg", "error"),
    [
        ("openml-audit", attest(kind="inference"), errors.INVALID_KIND),
        ("openml-audit", attest(dataset_digest="md5:abc"), errors.INVALID_FIELD),
        ("openml-audit", attest(artifact_digest="sha256:XY"), errors.INVALID_FIELD),
        ("openml-audit", attest(method="x" * 5000), errors.INVALID_FIELD),
        (
            "openml-audit",
            attest(metrics=[tx_pb2.Metric(name="a", int_value=1)] * 2),
            errors.INVALID_FIELD,
        ),
        (
            "openml-audit",
            attest(metrics=[tx_pb2.Metric(name="a", int_value=1, scale=19)]),
            errors.INVALID_FIELD,
        ),
        ("openml-audit", attest(metrics=[tx_pb2.Metric(name="a")]), errors.INVALID_FIELD),
        ("openml-audit", attest(metrics=[], method=""), errors.EMPTY),
        ("openml-audit", attest(version="9.9"), errors.VERSION_NOT_FOUND),
        ("uni-pub", attest(), MISSING_ROLE),
    ],
    ids=[
        "bad-kind",
        "bad-dataset",
        "bad-artifact",
        "long-method",
        "duplicate-metric",
        "big-scale",
        "no-value",
        "empty",
        "no-version",
        "not-auditor",
    ],
)
def test_refused_attestations_leave_no_record(
    registry: Driver, sender: str, msg: tx_pb2.Msg, error: ErrorCode
) -> None:
    expect(registry.run(sender, msg), error)
    assert listing(registry, "/attestations/by_version", model=MODEL, version="1.0")[0] == []
