"""Stateless checks of attestation messages (``validate_basic``): they need no state to refuse."""

from __future__ import annotations

from collections.abc import Sequence

from app.attestations import errors
from app.core import names
from app.core.errors import TxError
from app.core.gas import ATTEST_GAS, LIST_ITEM_GAS
from app.core.text import quote
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2

KINDS = ("evaluation", "training", "validation")


def validate_attest(msg: tx_pb2.Attest, params: state_pb2.Params) -> None:
    """Checks of Attest that need no state."""
    names.check_model_id(msg.model, model_errors.INVALID_NAME)
    names.check_version(msg.version, model_errors.INVALID_VERSION)
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


def attest_gas(msg: tx_pb2.Attest) -> int:
    """The gas of an attestation beyond the fixed costs: its writes, and each metric's check
    and bytes (app.core.gas)."""
    return ATTEST_GAS + LIST_ITEM_GAS * len(msg.metrics)


def validate_metrics(metrics: Sequence[tx_pb2.Metric], params: state_pb2.Params) -> None:
    """The registry's metric rules (app.core.names), reported in this codespace, and at most
    the version limit of them; raises TxError(invalid_field)."""
    if len(metrics) > params.max_metrics_per_version:
        raise TxError(errors.INVALID_FIELD, f"{len(metrics)} metrics, at most the version limit")
    names.check_metrics(metrics, errors.INVALID_FIELD)


def check_optional_digest(value: str, field: str) -> None:
    """An optional digest is empty or sha256:<64 lowercase hex>; raises TxError(invalid_field)."""
    if value and not names.DIGEST.fullmatch(value):
        raise TxError(
            errors.INVALID_FIELD, f"{field} {quote(value, 64)} is not sha256:<64 lowercase hex>"
        )
