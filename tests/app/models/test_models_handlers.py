"""The model registry's transactions, table-driven: every refusal with its registered code."""

from __future__ import annotations

from typing import Any

import pytest
from driver import Driver, digest, publish, register, set_status, transfer

from app.core import errors as tx_errors
from app.core.errors import ErrorCode
from app.core.gas import base_gas
from app.models import errors
from app.models.validation import publish_gas
from app.pb.modelgov.v1 import state_pb2, tx_pb2

ACTIVE = tx_pb2.VERSION_STATUS_ACTIVE
DEPRECATED = tx_pb2.VERSION_STATUS_DEPRECATED
REVOKED = tx_pb2.VERSION_STATUS_REVOKED


def _model(d: Driver, model_id: str) -> state_pb2.Model:
    response = d.query("/models/model", {"id": model_id})
    assert response.code == 0, response.log
    return state_pb2.Model.FromString(response.value)


def _version(d: Driver, model_id: str, version: str) -> state_pb2.Version:
    response = d.query("/models/version", {"model": model_id, "version": version})
    assert response.code == 0, response.log
    return state_pb2.Version.FromString(response.value)


def _expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log
    assert result.log.startswith(error.name + ": ")


@pytest.fixture
def registry(chain: Driver) -> Driver:
    """uni/base with version 1.0 published by uni-pub."""
    chain.ok("uni-pub", register("uni", "base", "a base model"))
    chain.ok("uni-pub", publish("uni/base", "1.0"))
    return chain


# --- register -----------------------------------------------------------------------------------


def test_register_model(chain: Driver) -> None:
    result = chain.ok("uni-pub", register("uni", "bert-small", "a small BERT"))
    assert [(e.type, [(a.key, a.value) for a in e.attributes]) for e in result.events] == [
        ("model.registered", [("model", "uni/bert-small"), ("owner", "uni")])
    ]
    model = _model(chain, "uni/bert-small")
    assert model == state_pb2.Model(
        id="uni/bert-small",
        owner_org="uni",
        name="bert-small",
        description="a small BERT",
        created_height=chain.height,
        created_time=chain.time,
        version_count=0,
    )


@pytest.mark.parametrize(
    ("sender", "msg", "error"),
    [
        ("uni-pub", register("acme", "m"), errors.ORG_MISMATCH),
        ("uni-pub", register("uni", "-bad"), errors.INVALID_NAME),
        ("uni-pub", register("uni", "has space"), errors.INVALID_NAME),
        ("uni-pub", register("uni", ""), errors.INVALID_NAME),
        ("uni-pub", register("uni", "x" * 97), errors.INVALID_NAME),
        ("uni-pub", register("uni", "nul\x00"), errors.INVALID_NAME),
        ("uni-pub", register("Uni", "m"), errors.INVALID_FIELD),
        ("uni-pub", register("uni", "m", "d" * 4097), errors.TOO_MANY),
        ("acme-user", register("acme", "m"), tx_errors.MISSING_ROLE),
        ("acme-admin", register("acme", "m"), tx_errors.MISSING_ROLE),
    ],
    ids=[
        "org-mismatch",
        "name-leading-dash",
        "name-space",
        "name-empty",
        "name-too-long",
        "name-nul",
        "owner-org-invalid",
        "description-too-long",
        "consumer",
        "admin-without-publisher",
    ],
)
def test_register_refused(chain: Driver, sender: str, msg: tx_pb2.Msg, error: ErrorCode) -> None:
    _expect(chain.run(sender, msg), error)


def test_register_duplicate(registry: Driver) -> None:
    _expect(registry.run("uni-admin", register("uni", "base")), errors.MODEL_EXISTS)


# --- publish ------------------------------------------------------------------------------------


def test_publish_with_everything(registry: Driver) -> None:
    registry.ok("uni-pub", publish("uni/base", "1.1"))
    metrics = [
        tx_pb2.Metric(name="accuracy", int_value=9134, scale=4),
        tx_pb2.Metric(name="loss", int_value=-12, scale=2),
        tx_pb2.Metric(name="eval/suite", text_value="glue-v2"),
    ]
    msg = publish(
        "uni/base",
        "2.0+ft",
        parents=["uni/base@1.0", "uni/base@1.1"],
        metrics=metrics,
        dataset_digests=[digest("ds-a"), digest("ds-b")],
        model_card_digest=digest("card"),
        storage_uris=["https://a.example/w", "s3://bucket/w", "ipfs://bafy"],
        format="gguf",
        framework="llama.cpp",
        size_bytes=2**40,
    )
    result = registry.ok("uni-pub", msg)
    (event,) = result.events
    assert event.type == "model.version_published"
    assert [(a.key, a.value) for a in event.attributes] == [
        ("model", "uni/base"),
        ("version", "2.0+ft"),
        ("ref", "uni/base@2.0+ft"),
        ("digest", msg.publish_version.weights_digest),
    ]
    version = _version(registry, "uni/base", "2.0+ft")
    assert list(version.parents) == ["uni/base@1.0", "uni/base@1.1"]
    assert list(version.metrics) == metrics
    assert list(version.dataset_digests) == [digest("ds-a"), digest("ds-b")]
    assert version.model_card_digest == digest("card")
    assert version.size_bytes == 2**40
    assert version.status == ACTIVE
    assert version.publisher == registry["uni-pub"].address
    assert version.height == registry.height
    assert version.time == registry.time
    assert len(version.tx_hash) == 32
    assert version.index == 2
    assert _model(registry, "uni/base").version_count == 3


def test_publish_parent_in_another_model(registry: Driver) -> None:
    """Another org's parent needs a receipt of an allowed fine-tune use of it (issue 13)."""
    registry.ok("acme-pub", register("acme", "derived"))
    refused = registry.run("acme-pub", publish("acme/derived", "1", parents=["uni/base@1.0"]))
    _expect(refused, errors.UNLICENSED_INPUT)
    source = "def authorize(ctx):\n    return allow()\n"
    registry.ok("uni-pub", tx_pb2.Msg(deploy_license=tx_pb2.DeployLicense(name="f", source=source)))
    attach = tx_pb2.AttachLicense(model="uni/base", version="1.0", license="uni/f")
    registry.ok("uni-pub", tx_pb2.Msg(attach_license=attach))
    use = tx_pb2.Use(model="uni/base", version="1.0", purpose="fine-tune", quantity=1)
    registry.ok("acme-user", tx_pb2.Msg(use=use))
    derived = publish("acme/derived", "1", parents=["uni/base@1.0"], license_receipts=[1])
    registry.ok("acme-pub", derived)
    assert list(_version(registry, "acme/derived", "1").parents) == ["uni/base@1.0"]


def _metric(**kw: Any) -> tx_pb2.Metric:
    return tx_pb2.Metric(**kw)


PUBLISH_REFUSALS: list[tuple[str, dict[str, Any], ErrorCode]] = [
    ("digest-md5", {"weights_digest": "md5:" + "0" * 32}, errors.INVALID_DIGEST),
    ("digest-upper", {"weights_digest": "sha256:" + "A" * 64}, errors.INVALID_DIGEST),
    ("digest-short", {"weights_digest": "sha256:" + "0" * 63}, errors.INVALID_DIGEST),
    ("digest-empty", {"weights_digest": ""}, errors.INVALID_DIGEST),
    ("dataset-digest", {"dataset_digests": ["sha256:xyz"]}, errors.INVALID_DIGEST),
    ("card-digest", {"model_card_digest": "card"}, errors.INVALID_DIGEST),
    ("version-empty", {"version": ""}, errors.INVALID_VERSION),
    ("version-slash", {"version": "1/0"}, errors.INVALID_VERSION),
    ("version-space", {"version": "1 0"}, errors.INVALID_VERSION),
    ("version-long", {"version": "1" * 65}, errors.INVALID_VERSION),
    ("model-id", {"model": "no-slash"}, errors.INVALID_NAME),
    ("zero-size", {"size_bytes": 0}, errors.INVALID_FIELD),
    ("format", {"format": "pickle"}, errors.INVALID_FIELD),
    ("format-empty", {"format": ""}, errors.INVALID_FIELD),
    ("framework", {"framework": "Py Torch"}, errors.INVALID_FIELD),
    ("framework-empty", {"framework": ""}, errors.INVALID_FIELD),
    ("uri-no-scheme", {"storage_uris": ["weights.bin"]}, errors.INVALID_FIELD),
    ("uri-space", {"storage_uris": ["https://a b"]}, errors.INVALID_FIELD),
    ("uri-too-many", {"storage_uris": [f"https://h/{i}" for i in range(17)]}, errors.TOO_MANY),
    ("parent-ref", {"parents": ["uni/base"]}, errors.INVALID_FIELD),
    ("parent-bad-version", {"parents": ["uni/base@ 1"]}, errors.INVALID_VERSION),
    ("parent-twice", {"parents": ["uni/base@1.0", "uni/base@1.0"]}, errors.INVALID_FIELD),
    ("parents-too-many", {"parents": [f"uni/base@{i}" for i in range(17)]}, errors.TOO_MANY),
    ("parent-unknown", {"parents": ["uni/base@9.9"]}, errors.PARENT_NOT_FOUND),
    ("parent-unknown-model", {"parents": ["acme/x@1"]}, errors.PARENT_NOT_FOUND),
    ("license", {"license": "contract:abc"}, errors.INVALID_FIELD),
    ("metric-no-value", {"metrics": [_metric(name="acc")]}, errors.INVALID_FIELD),
    ("metric-name", {"metrics": [_metric(name="a c", int_value=1)]}, errors.INVALID_FIELD),
    (
        "metric-twice",
        {"metrics": [_metric(name="a", int_value=1), _metric(name="a", int_value=2)]},
        errors.INVALID_FIELD,
    ),
    ("metric-scale", {"metrics": [_metric(name="a", int_value=1, scale=19)]}, errors.INVALID_FIELD),
    (
        "metric-text-scale",
        {"metrics": [_metric(name="a", text_value="x", scale=1)]},
        errors.INVALID_FIELD,
    ),
    (
        "metric-text-long",
        {"metrics": [_metric(name="a", text_value="x" * 257)]},
        errors.INVALID_FIELD,
    ),
    (
        "metrics-too-many",
        {"metrics": [_metric(name=f"m{i}", int_value=i) for i in range(65)]},
        errors.TOO_MANY,
    ),
    ("model-not-found", {"model": "uni/nothing"}, errors.MODEL_NOT_FOUND),
    ("version-exists", {"version": "1.0"}, errors.VERSION_EXISTS),
]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [(o, e) for _, o, e in PUBLISH_REFUSALS],
    ids=[name for name, _, _ in PUBLISH_REFUSALS],
)
def test_publish_refused(registry: Driver, overrides: dict[str, Any], error: ErrorCode) -> None:
    fields = {"model": "uni/base", "version": "2.0", **overrides}
    model, version = fields.pop("model"), fields.pop("version")
    before = _model(registry, "uni/base")
    _expect(registry.run("uni-pub", publish(model, version, **fields)), error)
    assert _model(registry, "uni/base") == before


def test_version_is_immutable(registry: Driver) -> None:
    original = _version(registry, "uni/base", "1.0")
    again = publish("uni/base", "1.0", weights_digest=digest("other weights"))
    _expect(registry.run("uni-admin", again), errors.VERSION_EXISTS)
    assert _version(registry, "uni/base", "1.0") == original


def test_publish_not_owner(registry: Driver) -> None:
    _expect(registry.run("acme-pub", publish("uni/base", "2.0")), errors.NOT_OWNER)


def test_publish_with_too_many_dataset_digests(registry: Driver) -> None:
    digests = [digest(f"ds{i}") for i in range(17)]
    _expect(
        registry.run("uni-pub", publish("uni/base", "2", dataset_digests=digests)), errors.TOO_MANY
    )


# --- set_version_status -------------------------------------------------------------------------


def test_deprecate_then_revoke(registry: Driver) -> None:
    result = registry.ok("uni-pub", set_status("uni/base", "1.0", DEPRECATED, "old tokenizer"))
    assert [(a.key, a.value) for a in result.events[0].attributes] == [
        ("model", "uni/base"),
        ("version", "1.0"),
        ("status", "deprecated"),
    ]
    version = _version(registry, "uni/base", "1.0")
    assert (version.status, version.status_reason) == (DEPRECATED, "old tokenizer")
    result = registry.ok("uni-admin", set_status("uni/base", "1.0", REVOKED, "license issue"))
    assert result.events[0].attributes[2].value == "revoked"
    assert _version(registry, "uni/base", "1.0").status == REVOKED


def test_revoke_directly(registry: Driver) -> None:
    registry.ok("uni-pub", set_status("uni/base", "1.0", REVOKED, "leaked data"))
    assert _version(registry, "uni/base", "1.0").status == REVOKED


@pytest.mark.parametrize(
    ("setup", "sender", "msg", "error"),
    [
        ([], "uni-pub", set_status("uni/base", "1.0", ACTIVE), errors.BAD_STATUS),
        ([], "uni-pub", set_status("uni/base", "1.0", 0), errors.BAD_STATUS),
        ([], "uni-pub", set_status("uni/base", "1.0", DEPRECATED, ""), errors.INVALID_FIELD),
        (
            [],
            "uni-pub",
            set_status("uni/base", "1.0", DEPRECATED, "r" * 4097),
            errors.INVALID_FIELD,
        ),
        ([], "uni-pub", set_status("uni/base", "9", DEPRECATED), errors.VERSION_NOT_FOUND),
        ([], "uni-pub", set_status("uni/none", "1.0", DEPRECATED), errors.MODEL_NOT_FOUND),
        ([], "uni-pub", set_status("bad", "1.0", DEPRECATED), errors.INVALID_NAME),
        ([], "uni-pub", set_status("uni/base", "", DEPRECATED), errors.INVALID_VERSION),
        ([], "acme-pub", set_status("uni/base", "1.0", DEPRECATED), errors.NOT_OWNER),
        ([], "acme-user", set_status("uni/base", "1.0", DEPRECATED), tx_errors.MISSING_ROLE),
        (
            [set_status("uni/base", "1.0", DEPRECATED)],
            "uni-pub",
            set_status("uni/base", "1.0", DEPRECATED),
            errors.BAD_STATUS,
        ),
        (
            [set_status("uni/base", "1.0", REVOKED)],
            "uni-pub",
            set_status("uni/base", "1.0", DEPRECATED),
            errors.BAD_STATUS,
        ),
        (
            [set_status("uni/base", "1.0", REVOKED)],
            "uni-pub",
            set_status("uni/base", "1.0", REVOKED),
            errors.BAD_STATUS,
        ),
    ],
    ids=[
        "to-active",
        "to-unspecified",
        "no-reason",
        "reason-too-long",
        "version-not-found",
        "model-not-found",
        "bad-model-id",
        "bad-version",
        "not-owner",
        "consumer",
        "same-status",
        "revoked-is-final",
        "revoked-twice",
    ],
)
def test_set_status_refused(
    registry: Driver, setup: list[tx_pb2.Msg], sender: str, msg: tx_pb2.Msg, error: ErrorCode
) -> None:
    for step in setup:
        registry.ok("uni-pub", step)
    before = _version(registry, "uni/base", "1.0")
    _expect(registry.run(sender, msg), error)
    assert _version(registry, "uni/base", "1.0") == before


# --- transfer -----------------------------------------------------------------------------------


def test_transfer_moves_the_right_to_publish(registry: Driver) -> None:
    result = registry.ok("uni-admin", transfer("uni/base", "acme"))
    assert [(a.key, a.value) for a in result.events[0].attributes] == [
        ("model", "uni/base"),
        ("from", "uni"),
        ("to", "acme"),
    ]
    model = _model(registry, "uni/base")
    assert (model.id, model.owner_org) == ("uni/base", "acme")
    _expect(registry.run("uni-pub", publish("uni/base", "2.0")), errors.NOT_OWNER)
    registry.ok("acme-pub", publish("uni/base", "2.0", parents=["uni/base@1.0"]))
    assert _version(registry, "uni/base", "2.0").index == 1
    _expect(registry.run("uni-admin", transfer("uni/base", "openml")), errors.NOT_OWNER)
    registry.ok("acme-admin", transfer("uni/base", "openml"))
    assert _model(registry, "uni/base").owner_org == "openml"


@pytest.mark.parametrize(
    ("sender", "msg", "error"),
    [
        ("uni-pub", transfer("uni/base", "acme"), tx_errors.MISSING_ROLE),
        ("uni-admin", transfer("uni/base", "nobody"), errors.UNKNOWN_ORG),
        ("uni-admin", transfer("uni/base", "uni"), errors.SAME_OWNER),
        ("uni-admin", transfer("uni/base", "Not An Org"), errors.INVALID_FIELD),
        ("uni-admin", transfer("uni/none", "acme"), errors.MODEL_NOT_FOUND),
        ("uni-admin", transfer("base", "acme"), errors.INVALID_NAME),
        ("acme-admin", transfer("uni/base", "acme"), errors.NOT_OWNER),
    ],
    ids=[
        "publisher-only",
        "unknown-org",
        "same-owner",
        "bad-org",
        "not-found",
        "bad-id",
        "not-owner",
    ],
)
def test_transfer_refused(registry: Driver, sender: str, msg: tx_pb2.Msg, error: ErrorCode) -> None:
    _expect(registry.run(sender, msg), error)
    assert _model(registry, "uni/base").owner_org == "uni"


def test_several_messages_in_one_tx(chain: Driver) -> None:
    first, second = publish("uni/m", "1"), publish("uni/m", "2", parents=["uni/m@1"])
    result = chain.ok("uni-admin", register("uni", "m"), first, second, transfer("uni/m", "openml"))
    assert [e.type for e in result.events] == [
        "model.registered",
        "model.version_published",
        "model.version_published",
        "model.transferred",
    ]
    published = publish_gas(first.publish_version) + publish_gas(second.publish_version)
    assert result.gas_used == base_gas(4) + published
    assert _model(chain, "uni/m").owner_org == "openml"
