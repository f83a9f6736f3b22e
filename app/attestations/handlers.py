"""The attestations message server: any auditor records a run about any published version."""

from __future__ import annotations

from collections.abc import Sequence

from app.attestations import errors, events
from app.attestations.keeper import AttestationsKeeper
from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.text import quote
from app.models.keeper import ModelsReader
from app.models.validation import (
    DIGEST,
    MAX_METRIC_TEXT,
    MAX_SCALE,
    METRIC_NAME,
    check_model_id,
    check_version,
)
from app.pb.modelgov.v1 import federated_pb2, state_pb2, tx_pb2

KINDS = ("evaluation", "training", "validation")


def validate_attest(msg: tx_pb2.Attest, params: state_pb2.Params) -> None:
    """Checks of Attest that need no state."""
    check_model_id(msg.model)
    check_version(msg.version)
    if msg.kind not in KINDS:
        raise TxError(
            errors.INVALID_KIND, f"kind {quote(msg.kind, 64)} is not one of {', '.join(KINDS)}"
        )
    check_optional_digest(msg.dataset_digest, "dataset_digest")
    check_optional_digest(msg.artifact_digest, "artifact_digest")
    validate_metrics(msg.metrics, params)
    if len(msg.method.encode()) > params.max_description_bytes:
        raise TxError(errors.INVALID_FIELD, f"method over {params.max_description_bytes} bytes")
    if not msg.metrics and not msg.method:
        raise TxError(errors.EMPTY, "state at least one metric or the method")


def validate_metrics(metrics: Sequence[tx_pb2.Metric], params: state_pb2.Params) -> None:
    """The registry's metric rules (unique names, int with scale 0-18 or short text), reported
    in this codespace; raises TxError(invalid_field)."""
    if len(metrics) > params.max_metrics_per_version:
        raise TxError(errors.INVALID_FIELD, f"{len(metrics)} metrics, at most the version limit")
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise TxError(errors.INVALID_FIELD, "a metric name is listed twice")
    for metric in metrics:
        _check_metric(metric)


def _check_metric(metric: tx_pb2.Metric) -> None:
    kind = metric.WhichOneof("value")
    if not METRIC_NAME.fullmatch(metric.name) or kind is None:
        raise TxError(
            errors.INVALID_FIELD, f"metric {quote(metric.name, 64)} has no valid name or value"
        )
    if metric.scale > MAX_SCALE or (kind == "text_value" and metric.scale):
        raise TxError(
            errors.INVALID_FIELD, f"metric {quote(metric.name, 64)}: scale 0-18, ints only"
        )
    if kind == "text_value" and len(metric.text_value.encode()) > MAX_METRIC_TEXT:
        raise TxError(errors.INVALID_FIELD, f"metric {quote(metric.name, 64)} text over 256 bytes")


def check_optional_digest(value: str, field: str) -> None:
    """An optional digest is empty or sha256:<64 lowercase hex>; raises TxError(invalid_field)."""
    if value and not DIGEST.fullmatch(value):
        raise TxError(
            errors.INVALID_FIELD, f"{field} {quote(value, 64)} is not sha256:<64 lowercase hex>"
        )


def attest(ctx: MsgContext, msg: tx_pb2.Attest) -> Event:
    """Append an attestation about a published version, naming the sender and its org."""
    if ModelsReader(ctx.state).version(msg.model, msg.version) is None:
        raise TxError(errors.VERSION_NOT_FOUND, f"{msg.model}@{msg.version} is not published")
    record = AttestationsKeeper(ctx.state).append(
        federated_pb2.Attestation(
            model=msg.model,
            version=msg.version,
            kind=msg.kind,
            dataset_digest=msg.dataset_digest,
            metrics=msg.metrics,
            artifact_digest=msg.artifact_digest,
            method=msg.method,
            attester=ctx.sender.address,
            org=ctx.sender.org,
            height=ctx.env.height,
            time=ctx.env.time,
            tx_hash=ctx.tx_hash,
        )
    )
    return Event(
        events.RECORDED,
        (
            ("id", str(record.id)),
            ("model", msg.model),
            ("version", msg.version),
            ("kind", msg.kind),
            ("org", ctx.sender.org),
        ),
    )
