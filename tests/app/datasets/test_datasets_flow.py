"""Datasets as licensed assets (issue 13): one id namespace with models, the same licenses, uses,
receipts and gated stores, and training that must be licensed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, digest, licensed, publish, register, started

from app.core.errors import ErrorCode
from app.core.valuemap import from_data
from app.datasets import errors
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors as usage_errors

DATA = "uni/corpus"
TRAINING_FEE = """
def authorize(ctx):
    if ctx.asset != "dataset":
        return deny("this license is for datasets")
    if ctx.purpose != "training":
        return deny("licensed for training only")
    return allow(fee=ctx.params["price"])
"""


def register_dataset(org: str, name: str, description: str = "") -> tx_pb2.Msg:
    body = tx_pb2.RegisterDataset(owner_org=org, name=name, description=description)
    return tx_pb2.Msg(register_dataset=body)


def publish_dataset(dataset: str, version: str, **overrides: Any) -> tx_pb2.Msg:
    fields: dict[str, Any] = {
        "dataset": dataset,
        "version": version,
        "digest": digest(f"{dataset}@{version}"),
        "size_bytes": 4096,
        "format": "parquet",
    }
    fields.update(overrides)
    return tx_pb2.Msg(publish_dataset=tx_pb2.PublishDataset(**fields))


def deploy(name: str, source: str, **params: Any) -> tx_pb2.Msg:
    body = tx_pb2.DeployLicense(name=name, source=source, params=from_data(params))
    return tx_pb2.Msg(deploy_license=body)


def use(ref: str, purpose: str = "training", max_fee: int = 1000) -> tx_pb2.Msg:
    model, _, version = ref.rpartition("@")
    body = tx_pb2.Use(model=model, version=version, purpose=purpose, quantity=1, max_fee=max_fee)
    return tx_pb2.Msg(use=body)


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


def receipt_id(result: Any) -> int:
    [event] = [e for e in result.events if e.type == "usage.receipt"]
    return int(next(a.value for a in event.attributes if a.key == "id"))


def balance(driver: Driver, org: str) -> int:
    return state_pb2.Balance.FromString(driver.query("/credits/balance", {"org": org}).value).amount


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Driver]:
    """uni publishes uni/corpus@1 under a training license (price 40); acme owns acme/net."""
    driver = started(tmp_path)
    driver.ok("uni-pub", deploy("train", TRAINING_FEE, price=40))
    driver.ok(
        "uni-pub",
        register_dataset("uni", "corpus", "notes"),
        publish_dataset(DATA, "1", license="uni/train"),
    )
    driver.ok("acme-pub", register("acme", "net"))
    yield driver
    driver.close()


def test_a_dataset_is_listed_and_readable(data: Driver) -> None:
    page = state_pb2.Page.FromString(data.query("/datasets/datasets", {}).value)
    assert [state_pb2.Model.FromString(i).id for i in page.items] == [DATA]
    answer = data.query("/datasets/dataset", {"id": DATA}, prove=True)
    found = state_pb2.Model.FromString(answer.value)
    assert (found.kind, found.owner_org, found.version_count) == ("dataset", "uni", 1)
    assert answer.proof_ops.ops  # provable like any record
    assert data.query("/datasets/dataset", {"id": "acme/net"}).code != 0  # a model
    version = data.query("/models/version", {"model": DATA, "version": "1"})
    assert state_pb2.Version.FromString(version.value).format == "parquet"


@pytest.mark.parametrize(
    ("account", "msg", "error"),
    [
        ("acme-pub", register("uni", "corpus"), model_errors.ORG_MISMATCH),
        ("uni-pub", register("uni", "corpus"), model_errors.MODEL_EXISTS),
        ("acme-pub", register_dataset("acme", "net"), errors.ID_TAKEN),
        ("uni-pub", register_dataset("uni", "corpus"), errors.ID_TAKEN),
        ("acme-pub", register_dataset("uni", "x"), errors.ORG_MISMATCH),
        ("uni-pub", publish(DATA, "2"), model_errors.IS_DATASET),
        ("acme-pub", publish_dataset("acme/net", "1"), errors.NOT_DATASET),
        ("acme-pub", publish_dataset(DATA, "2"), model_errors.NOT_OWNER),
        ("uni-pub", publish_dataset(DATA, "1"), model_errors.VERSION_EXISTS),
        ("uni-pub", publish_dataset("uni/none", "1"), model_errors.MODEL_NOT_FOUND),
        ("acme-user", register_dataset("acme", "x"), None),
    ],
    ids=[
        "model-on-dataset-other-org",
        "model-on-dataset-id",
        "dataset-on-model-id",
        "dataset-twice",
        "other-org",
        "model-publish-into-dataset",
        "dataset-publish-into-model",
        "not-owner",
        "immutable",
        "unknown",
        "consumer-role",
    ],
)
def test_one_namespace_and_its_refusals(
    data: Driver, account: str, msg: tx_pb2.Msg, error: ErrorCode | None
) -> None:
    result = data.run(account, msg)
    if error is None:
        assert result.code != 0 and result.codespace == "tx"  # the route's role
    else:
        expect(result, error)


def test_a_training_use_pays_and_its_receipt_grants_the_bytes(data: Driver) -> None:
    ref = f"{DATA}@1"
    denied = data.run("acme-user", use(ref, purpose="inference"))
    expect(denied, usage_errors.DENIED)
    assert "training only" in denied.log
    result = data.ok("acme-user", use(ref))
    assert balance(data, "uni") == 1_000 + 40
    receipt = state_pb2.Receipt.FromString(
        data.query("/usage/receipt", {"id": receipt_id(result)}).value
    )
    assert (receipt.model, receipt.purpose, receipt.fee) == (DATA, "training", 40)
    assert [(p.org, p.amount, p.ref) for p in receipt.payees] == [("uni", 40, "")]
    page = state_pb2.Page.FromString(data.query("/usage/receipts", {"model": DATA}).value)
    assert len(page.items) == 1
    grant = data.query(
        "/models/read_access",
        {"address": data["acme-pub"].address, "digest": digest(f"{ref}")},
    )
    decision = state_pb2.AccessDecision.FromString(grant.value)
    assert decision.allowed and decision.rule == "receipt", decision


def test_nobody_else_reads_or_writes_a_dataset(data: Driver) -> None:
    read = data.query(
        "/models/read_access",
        {"address": data["openml-pub"].address, "digest": digest(f"{DATA}@1")},
    )
    assert not state_pb2.AccessDecision.FromString(read.value).allowed
    write = data.query("/models/write_access", {"address": data["acme-pub"].address, "model": DATA})
    assert not state_pb2.AccessDecision.FromString(write.value).allowed
    own = data.query("/models/write_access", {"address": data["uni-pub"].address, "model": DATA})
    assert state_pb2.AccessDecision.FromString(own.value).allowed


def test_a_dataset_digest_cannot_be_squatted(data: Driver) -> None:
    data.ok("acme-pub", register_dataset("acme", "copy"))
    squat = publish_dataset("acme/copy", "1", digest=digest(f"{DATA}@1"))
    expect(data.run("acme-pub", squat), model_errors.DIGEST_HELD)
    as_weights = publish("acme/net", "1", weights_digest=digest(f"{DATA}@1"))
    expect(data.run("acme-pub", as_weights), model_errors.DIGEST_HELD)


def test_training_needs_a_training_receipt(data: Driver) -> None:
    ref = f"{DATA}@1"
    bare = publish("acme/net", "1", trained_on=[ref])
    refused = data.run("acme-pub", bare)
    expect(refused, model_errors.UNLICENSED_INPUT)
    assert "training" in refused.log
    receipt = receipt_id(data.ok("acme-user", use(ref)))
    data.ok("acme-pub", publish("acme/net", "1", trained_on=[ref], license_receipts=[receipt]))
    lineage = state_pb2.Lineage.FromString(
        data.query("/models/lineage", {"model": "acme/net", "version": "1"}).value
    )
    assert list(lineage.datasets) == [ref] and not list(lineage.ancestors)
    trained = state_pb2.Page.FromString(
        data.query("/datasets/trained", {"dataset": DATA, "version": "1"}).value
    )
    assert [i.decode() for i in trained.items] == ["acme/net@1"]
    version = state_pb2.Version.FromString(
        data.query("/models/version", {"model": "acme/net", "version": "1"}).value
    )
    assert list(version.trained_on) == [ref]


def test_the_owner_trains_without_a_receipt(data: Driver) -> None:
    data.ok("uni-pub", register("uni", "own"), publish("uni/own", "1", trained_on=[f"{DATA}@1"]))


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"trained_on": ["acme/net@1"]}, model_errors.NOT_DATASET),
        ({"trained_on": [f"{DATA}@9"]}, model_errors.NOT_DATASET),
        ({"trained_on": ["uni/none@1"]}, model_errors.NOT_DATASET),
        ({"trained_on": [f"{DATA}@1"], "license_receipts": [999]}, model_errors.UNLICENSED_INPUT),
        ({"trained_on": [f"{DATA}@1", f"{DATA}@1"]}, model_errors.INVALID_FIELD),
        ({"trained_on": [f"{DATA}"]}, model_errors.INVALID_FIELD),
        ({"trained_on": ["uni/c\u00f6rpus@1"]}, model_errors.INVALID_NAME),
        ({"trained_on": [f"{DATA}@1\n"]}, model_errors.INVALID_VERSION),
        ({"trained_on": [f"uni/d{i}@1" for i in range(17)]}, model_errors.TOO_MANY),
        ({"license_receipts": list(range(1, 18))}, model_errors.TOO_MANY),
        ({"license_receipts": [1, 1]}, model_errors.TOO_MANY),
        (
            {"license_receipts": [2**64 - 1], "trained_on": [f"{DATA}@1"]},
            model_errors.UNLICENSED_INPUT,
        ),
    ],
    ids=[
        "a-model",
        "no-version",
        "no-dataset",
        "unknown-receipt",
        "twice",
        "no-version-part",
        "non-ascii",
        "newline",
        "too-many",
        "too-many-receipts",
        "receipt-twice",
        "max-receipt-id",
    ],
)
def test_trained_on_refusals(data: Driver, overrides: dict[str, Any], error: ErrorCode) -> None:
    if overrides.get("trained_on") == ["acme/net@1"]:
        data.ok("acme-pub", publish("acme/net", "1"))
    expect(data.run("acme-pub", publish("acme/net", "2", **overrides)), error)


def test_a_receipt_of_another_org_or_purpose_licenses_nothing(data: Driver) -> None:
    ref = f"{DATA}@1"
    data.ok("uni-pub", deploy("all", "def authorize(ctx):\n    return allow()\n"))
    data.ok(
        "uni-pub",
        tx_pb2.Msg(attach_license=tx_pb2.AttachLicense(model=DATA, version="1", license="uni/all")),
    )
    research = receipt_id(data.ok("acme-user", use(ref, purpose="research")))
    wrong = publish("acme/net", "1", trained_on=[ref], license_receipts=[research])
    expect(data.run("acme-pub", wrong), model_errors.UNLICENSED_INPUT)
    data.ok("openml-pub", register("openml", "m"))
    [uni_own] = licensed(data, "uni-pub", "acme-user", [ref], purpose="training")
    theirs = publish("openml/m", "1", trained_on=[ref], license_receipts=[uni_own])
    expect(data.run("openml-pub", theirs), model_errors.UNLICENSED_INPUT)


def test_a_revoked_dataset_cannot_be_trained_on(data: Driver) -> None:
    revoke = tx_pb2.SetVersionStatus(
        model=DATA, version="1", status=tx_pb2.VERSION_STATUS_REVOKED, reason="leaked pii"
    )
    data.ok("uni-pub", tx_pb2.Msg(set_version_status=revoke))
    refused = data.run(
        "uni-pub", register("uni", "m"), publish("uni/m", "1", trained_on=[f"{DATA}@1"])
    )
    expect(refused, model_errors.NOT_DATASET)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"format": ""}, errors.INVALID_FIELD),
        ({"format": "P\u00e4rquet"}, errors.INVALID_FIELD),
        ({"size_bytes": 0}, errors.INVALID_FIELD),
        ({"digest": "sha256:" + "A" * 64}, model_errors.INVALID_DIGEST),
        ({"card_digest": "card"}, model_errors.INVALID_DIGEST),
        ({"license": "not a license"}, errors.INVALID_FIELD),
        ({"version": "1\n"}, model_errors.INVALID_VERSION),
        ({"dataset": "uni/\u0441orpus"}, model_errors.INVALID_NAME),
        ({"storage_uris": ["ftp://x"] * 17}, model_errors.TOO_MANY),
        ({"storage_uris": ["no scheme"]}, errors.INVALID_FIELD),
        ({"consent_receipts": list(range(17))}, model_errors.TOO_MANY),
        ({"claim_salt": b"\x01" * 31}, model_errors.INVALID_CLAIM),
        ({"license": "uni/none"}, None),
    ],
    ids=[
        "format-empty",
        "format-non-ascii",
        "size-zero",
        "digest-upper",
        "card",
        "license-id",
        "version-newline",
        "cyrillic-name",
        "too-many-uris",
        "uri",
        "too-many-consents",
        "salt",
        "license-not-deployed",
    ],
)
def test_publish_dataset_refusals(
    data: Driver, overrides: dict[str, Any], error: ErrorCode | None
) -> None:
    fields = {"dataset": DATA, "version": "2", **overrides}
    result = data.run(
        "uni-pub", publish_dataset(fields.pop("dataset"), fields.pop("version"), **fields)
    )
    if error is None:
        assert result.code != 0 and result.codespace == "licenses", result.log
    else:
        expect(result, error)
    assert data.query("/models/version", {"model": DATA, "version": "2"}).code != 0
