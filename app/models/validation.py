"""Stateless checks of registry messages (``validate_basic``): they need no state to refuse.

Every pattern is anchored with ``\\A`` and ``\\Z`` and built from explicit ASCII classes: ``$``
would accept a trailing newline ("acme/model\\n" was a valid model id), and ``\\s``, ``\\d``,
``\\w`` in a str pattern follow the interpreter's Unicode database. Anchored both ends, a
pattern means the same whether a caller uses ``match`` or ``fullmatch``; callers here use
``fullmatch``. Messages quote user input with ``quote`` so that they read the same on every
Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.core import names
from app.core.errors import TxError
from app.core.gas import FILE_GAS, LIST_ITEM_GAS, PUBLISH_GAS
from app.core.names import LICENSE_ID, MODEL_NAME, ORG_ID
from app.core.text import quote
from app.models import claims, errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2

TOKEN = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,31}\Z")
URI = re.compile(r"\A[a-z][a-z0-9+.-]{0,15}://[\x21-\x7e]{1,500}\Z")
"""A storage URI: scheme, then printable ASCII without spaces (RFC 3986: others are %-encoded)."""
FORMATS = ("gguf", "onnx", "other", "pytorch", "safetensors", "tensorflow")
ALIAS = re.compile(r"\A[a-z][a-z0-9_-]{0,31}\Z")
"""An alias: a lowercase word (no '.', so it never reads like a version number)."""
RESERVED_ALIASES = ("latest",)
MAX_INT64 = 2**63 - 1


def check_model_id(model_id: str) -> None:
    """A model id is "<org>/<name>" (app.core.names); raises TxError(invalid_name)."""
    names.check_model_id(model_id, errors.INVALID_NAME)


def check_version(version: str) -> None:
    """Versions are short tokens like 1.0.0 or 2024-06-rc1; raises TxError(invalid_version)."""
    names.check_version(version, errors.INVALID_VERSION)


def check_digest(digest: str, field: str) -> None:
    """A digest is sha256:<64 lowercase hex>; raises TxError(invalid_digest)."""
    names.check_digest(digest, errors.INVALID_DIGEST, field)


def check_ref(ref: str, field: str) -> None:
    """A version reference is "<org>/<name>@<version>"."""
    model_id, sep, version = ref.rpartition("@")
    if not sep:
        raise TxError(errors.INVALID_FIELD, f"{field} {quote(ref, 128)} is not MODEL@VERSION")
    check_model_id(model_id)
    check_version(version)


def validate_register(msg: tx_pb2.RegisterModel, params: state_pb2.Params) -> None:
    """Checks of RegisterModel that need no state."""
    if not ORG_ID.fullmatch(msg.owner_org):
        raise TxError(
            errors.INVALID_FIELD, f"owner_org {quote(msg.owner_org, 64)} is not an org id"
        )
    if not MODEL_NAME.fullmatch(msg.name):
        raise TxError(errors.INVALID_NAME, f"{quote(msg.name, 64)}: letters, digits, '.', '_', '-'")
    if len(msg.description.encode()) > params.max_description_bytes:
        raise TxError(errors.TOO_MANY, f"description over {params.max_description_bytes} bytes")
    _check_license_field(msg.default_license, "default_license")


def _check_license_field(license_id: str, field: str) -> None:
    """An optional license id: empty, or ORG/NAME."""
    if license_id and not LICENSE_ID.fullmatch(license_id):
        raise TxError(errors.INVALID_FIELD, f"{field} {quote(license_id, 64)} is not ORG/NAME")


def validate_publish(msg: tx_pb2.PublishVersion, params: state_pb2.Params) -> None:
    """Checks of PublishVersion that need no state."""
    check_model_id(msg.model)
    check_version(msg.version)
    check_digest(msg.weights_digest, "weights_digest")
    if msg.size_bytes == 0:
        raise TxError(errors.INVALID_FIELD, "size_bytes must be positive")
    if msg.format not in FORMATS:
        raise TxError(
            errors.INVALID_FIELD,
            f"format {quote(msg.format, 64)} is not one of {', '.join(FORMATS)}",
        )
    if not TOKEN.fullmatch(msg.framework):
        raise TxError(
            errors.INVALID_FIELD, f"framework {quote(msg.framework, 64)} is not a short token"
        )
    _check_license_field(msg.license, "license")
    if len(msg.description.encode()) > params.max_description_bytes:
        raise TxError(errors.TOO_MANY, f"description over {params.max_description_bytes} bytes")
    claims.check_claim_salt(msg.claim_salt)
    _check_lists(msg, params)


def publish_gas(msg: tx_pb2.PublishVersion) -> int:
    """The gas of a publication beyond the fixed costs (app.core.gas): the writes it makes grow
    with the lists it names and, most, with the files of its manifest, which only the
    transaction's size bounds (MSG_GAS alone made a 550-file publication 800 times cheaper
    than the work, so one publisher's blocks could take the validators most of a minute)."""
    items = len(msg.parents) + len(msg.metrics) + len(msg.storage_uris)
    items += len(msg.dataset_digests) + len(msg.consent_receipts)
    return PUBLISH_GAS + LIST_ITEM_GAS * items + FILE_GAS * len(msg.files)


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
        if not URI.fullmatch(uri):
            raise TxError(
                errors.INVALID_FIELD, f"storage uri {quote(uri, 128)} is not scheme://location"
            )
    for parent in msg.parents:
        check_ref(parent, "parent")
    if len(set(msg.parents)) != len(msg.parents):
        raise TxError(errors.INVALID_FIELD, "a parent is listed twice")
    for digest in msg.dataset_digests:
        check_digest(digest, "dataset digest")
    _check_training(msg, params)
    if msg.model_card_digest:
        check_digest(msg.model_card_digest, "model_card_digest")
    _check_metrics(msg.metrics)


MAX_LICENSE_RECEIPTS = 16


def _check_training(msg: tx_pb2.PublishVersion, params: state_pb2.Params) -> None:
    """trained_on: at most max_datasets_per_version distinct dataset refs; license_receipts:
    at most MAX_LICENSE_RECEIPTS distinct ids (app.datasets.lineage)."""
    if len(msg.trained_on) > params.max_datasets_per_version:
        limit = params.max_datasets_per_version
        raise TxError(errors.TOO_MANY, f"{len(msg.trained_on)} trained_on, at most {limit}")
    for ref in msg.trained_on:
        check_ref(ref, "trained_on")
    if len(set(msg.trained_on)) != len(msg.trained_on):
        raise TxError(errors.INVALID_FIELD, "a trained_on dataset is listed twice")
    receipts = msg.license_receipts
    if len(receipts) > MAX_LICENSE_RECEIPTS or len(set(receipts)) != len(receipts):
        raise TxError(
            errors.TOO_MANY, f"license_receipts: at most {MAX_LICENSE_RECEIPTS}, each once"
        )


def _check_metrics(metrics: Sequence[tx_pb2.Metric]) -> None:
    names.check_metrics(metrics, errors.INVALID_FIELD)


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
    if not ORG_ID.fullmatch(msg.new_owner_org):
        raise TxError(
            errors.INVALID_FIELD, f"new_owner_org {quote(msg.new_owner_org, 64)} is not an org id"
        )


STORE_URL = re.compile(r"\Ahttps?://[A-Za-z0-9.\[\]:-]{1,253}(/[\x21-\x7e]{0,200})?\Z")


def validate_announce(msg: tx_pb2.AnnounceProvider, params: state_pb2.Params) -> None:
    """Checks of AnnounceProvider that need no state."""
    check_digest(msg.digest, "digest")
    if not STORE_URL.fullmatch(msg.url):
        raise TxError(
            errors.INVALID_FIELD, f"store url {quote(msg.url, 128)} is not http(s)://host[:port]"
        )


def validate_claim(msg: tx_pb2.ClaimDigests, params: state_pb2.Params) -> None:
    """Checks of ClaimDigests that need no state: 1 to MAX_PER_MESSAGE distinct commitments of
    32 bytes each. Raises TxError(invalid_claim)."""
    count = len(msg.commitments)
    if not 1 <= count <= claims.MAX_PER_MESSAGE:
        raise TxError(
            errors.INVALID_CLAIM,
            f"{count} commitments; a claim carries 1 to {claims.MAX_PER_MESSAGE}",
        )
    for index, made in enumerate(msg.commitments):
        if len(made) != claims.COMMITMENT_BYTES:
            raise TxError(
                errors.INVALID_CLAIM,
                f"commitment {index} is {len(made)} bytes, not {claims.COMMITMENT_BYTES}",
            )
    if len(set(msg.commitments)) != count:
        raise TxError(errors.INVALID_CLAIM, "a commitment is listed twice")


def check_alias_name(name: str) -> None:
    """An alias is a lowercase word starting with a letter, never a reserved reference; raises
    TxError(invalid_field)."""
    if not ALIAS.fullmatch(name):
        raise TxError(
            errors.INVALID_FIELD,
            f"alias {quote(name, 64)}: a lowercase letter, then letters, digits, '_' or '-'",
        )
    if name in RESERVED_ALIASES:
        raise TxError(errors.INVALID_FIELD, f"{name} is reserved: MODEL@{name} resolves itself")


def validate_alias(msg: tx_pb2.SetAlias, params: state_pb2.Params) -> None:
    """Checks of SetAlias that need no state."""
    check_model_id(msg.model)
    check_alias_name(msg.alias)
    if msg.version:
        check_version(msg.version)


def validate_default_license(msg: tx_pb2.SetDefaultLicense, params: state_pb2.Params) -> None:
    """Checks of SetDefaultLicense that need no state."""
    check_model_id(msg.model)
    _check_license_field(msg.license, "license")
