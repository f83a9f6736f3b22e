"""Stateless checks of registry messages (``validate_basic``): they need no state to refuse."""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.core.errors import TxError
from app.models import errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
ORG_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
TOKEN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
URI = re.compile(r"^[a-z][a-z0-9+.-]{0,15}://[^\s\x00]{1,500}$")
LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}/[a-z0-9][a-z0-9._-]{0,63}$")
METRIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
FORMATS = ("gguf", "onnx", "other", "pytorch", "safetensors", "tensorflow")
MAX_METRIC_TEXT = 256
MAX_SCALE = 18
MAX_INT64 = 2**63 - 1


def check_model_id(model_id: str) -> None:
    """A model id is "<org>/<name>"; raises TxError(invalid_name)."""
    org, sep, name = model_id.partition("/")
    if not sep or not ORG_ID.match(org) or not MODEL_NAME.match(name):
        raise TxError(errors.INVALID_NAME, f"{model_id!r} is not ORG/NAME")


def check_version(version: str) -> None:
    """Versions are short tokens like 1.0.0 or 2024-06-rc1; raises TxError(invalid_version)."""
    if not VERSION.match(version):
        raise TxError(errors.INVALID_VERSION, f"{version!r}: letters, digits, '.', '_', '+', '-'")


def check_digest(digest: str, field: str) -> None:
    """A digest is sha256:<64 lowercase hex>; raises TxError(invalid_digest)."""
    if not DIGEST.match(digest):
        raise TxError(errors.INVALID_DIGEST, f"{field} {digest!r} is not sha256:<64 lowercase hex>")


def check_ref(ref: str, field: str) -> None:
    """A version reference is "<org>/<name>@<version>"."""
    model_id, sep, version = ref.rpartition("@")
    if not sep:
        raise TxError(errors.INVALID_FIELD, f"{field} {ref!r} is not MODEL@VERSION")
    check_model_id(model_id)
    check_version(version)


def validate_register(msg: tx_pb2.RegisterModel, params: state_pb2.Params) -> None:
    """Checks of RegisterModel that need no state."""
    if not ORG_ID.match(msg.owner_org):
        raise TxError(errors.INVALID_FIELD, f"owner_org {msg.owner_org!r} is not an org id")
    if not MODEL_NAME.match(msg.name):
        raise TxError(errors.INVALID_NAME, f"{msg.name!r}: letters, digits, '.', '_', '-'")
    if len(msg.description.encode()) > params.max_description_bytes:
        raise TxError(errors.TOO_MANY, f"description over {params.max_description_bytes} bytes")


def validate_publish(msg: tx_pb2.PublishVersion, params: state_pb2.Params) -> None:
    """Checks of PublishVersion that need no state."""
    check_model_id(msg.model)
    check_version(msg.version)
    check_digest(msg.weights_digest, "weights_digest")
    if msg.size_bytes == 0:
        raise TxError(errors.INVALID_FIELD, "size_bytes must be positive")
    if msg.format not in FORMATS:
        raise TxError(errors.INVALID_FIELD, f"format {msg.format!r} is not one of {FORMATS}")
    if not TOKEN.match(msg.framework):
        raise TxError(errors.INVALID_FIELD, f"framework {msg.framework!r} is not a short token")
    if msg.license and not LICENSE_ID.match(msg.license):
        raise TxError(errors.INVALID_FIELD, f"license {msg.license!r} is not ORG/NAME")
    _check_lists(msg, params)


def _check_lists(msg: tx_pb2.PublishVersion, params: state_pb2.Params) -> None:
    limits = (
        ("storage_uris", len(msg.storage_uris), params.max_uris_per_version),
        ("parents", len(msg.parents), params.max_parents_per_version),
        ("metrics", len(msg.metrics), params.max_metrics_per_version),
        ("dataset_digests", len(msg.dataset_digests), params.max_datasets_per_version),
    )
    for name, count, limit in limits:
        if count > limit:
            raise TxError(errors.TOO_MANY, f"{count} {name}, at most {limit}")
    for uri in msg.storage_uris:
        if not URI.match(uri):
            raise TxError(errors.INVALID_FIELD, f"storage uri {uri!r} is not scheme://location")
    for parent in msg.parents:
        check_ref(parent, "parent")
    if len(set(msg.parents)) != len(msg.parents):
        raise TxError(errors.INVALID_FIELD, "a parent is listed twice")
    for digest in msg.dataset_digests:
        check_digest(digest, "dataset digest")
    if msg.model_card_digest:
        check_digest(msg.model_card_digest, "model_card_digest")
    _check_metrics(msg.metrics)


def _check_metrics(metrics: Sequence[tx_pb2.Metric]) -> None:
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise TxError(errors.INVALID_FIELD, "a metric name is listed twice")
    for metric in metrics:
        if not METRIC_NAME.match(metric.name):
            raise TxError(errors.INVALID_FIELD, f"metric name {metric.name!r} is not valid")
        kind = metric.WhichOneof("value")
        if kind is None:
            raise TxError(errors.INVALID_FIELD, f"metric {metric.name!r} has no value")
        if metric.scale > MAX_SCALE or (kind == "text_value" and metric.scale):
            raise TxError(errors.INVALID_FIELD, f"metric {metric.name!r}: scale 0-18, ints only")
        if kind == "text_value" and len(metric.text_value.encode()) > MAX_METRIC_TEXT:
            raise TxError(errors.INVALID_FIELD, f"metric {metric.name!r} text over 256 bytes")


def validate_status(msg: tx_pb2.SetVersionStatus, params: state_pb2.Params) -> None:
    """Checks of SetVersionStatus that need no state."""
    check_model_id(msg.model)
    check_version(msg.version)
    allowed = (tx_pb2.VERSION_STATUS_DEPRECATED, tx_pb2.VERSION_STATUS_REVOKED)
    if msg.status not in allowed:
        raise TxError(errors.BAD_STATUS, "a version can only be deprecated or revoked")
    if not msg.reason or len(msg.reason.encode()) > params.max_description_bytes:
        raise TxError(errors.INVALID_FIELD, "a reason is required (at most max_description_bytes)")


def validate_transfer(msg: tx_pb2.TransferModel, params: state_pb2.Params) -> None:
    """Checks of TransferModel that need no state."""
    check_model_id(msg.model)
    if not ORG_ID.match(msg.new_owner_org):
        raise TxError(errors.INVALID_FIELD, f"new_owner_org {msg.new_owner_org!r} is not an org id")


STORE_URL = re.compile(r"^https?://[A-Za-z0-9.\[\]:-]{1,253}(/[^\s\x00]{0,200})?$")


def validate_announce(msg: tx_pb2.AnnounceProvider, params: state_pb2.Params) -> None:
    """Checks of AnnounceProvider that need no state."""
    check_digest(msg.digest, "digest")
    if not STORE_URL.match(msg.url):
        raise TxError(errors.INVALID_FIELD, f"store url {msg.url!r} is not http(s)://host[:port]")
