"""Stateless checks of dataset messages (``validate_basic``): they need no state to refuse.

Ids, versions and digests follow the models' rules (``app.core.names``), in the models'
codespace, since a dataset lives in their namespace; what only datasets have is checked here.
"""

from __future__ import annotations

import re

from app.core import names
from app.core.errors import TxError
from app.core.names import LICENSE_ID, MODEL_NAME, ORG_ID
from app.core.text import quote
from app.datasets import errors
from app.models import claims
from app.models import errors as model_errors
from app.models.keeper import MAX_CONSENTS
from app.pb.modelgov.v1 import state_pb2, tx_pb2

FORMAT = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,31}\Z")
"""A dataset format is a short lowercase token: csv, jsonl, parquet, arrow, webdataset, ..."""
URI = re.compile(r"\A[a-z][a-z0-9+.-]{0,15}://[\x21-\x7e]{1,500}\Z")
MAX_FILES = 4096


def validate_register(msg: tx_pb2.RegisterDataset, params: state_pb2.Params) -> None:
    """Checks of RegisterDataset that need no state."""
    if not ORG_ID.fullmatch(msg.owner_org):
        raise TxError(
            errors.INVALID_FIELD, f"owner_org {quote(msg.owner_org, 64)} is not an org id"
        )
    if not MODEL_NAME.fullmatch(msg.name):
        raise TxError(
            model_errors.INVALID_NAME, f"{quote(msg.name, 64)}: letters, digits, '.', '_', '-'"
        )
    if len(msg.description.encode()) > params.max_description_bytes:
        raise TxError(
            model_errors.TOO_MANY, f"description over {params.max_description_bytes} bytes"
        )


def validate_publish(msg: tx_pb2.PublishDataset, params: state_pb2.Params) -> None:
    """Checks of PublishDataset that need no state."""
    names.check_model_id(msg.dataset, model_errors.INVALID_NAME)
    names.check_version(msg.version, model_errors.INVALID_VERSION)
    names.check_digest(msg.digest, model_errors.INVALID_DIGEST)
    if msg.size_bytes == 0:
        raise TxError(errors.INVALID_FIELD, "size_bytes must be positive")
    if not FORMAT.fullmatch(msg.format):
        raise TxError(errors.INVALID_FIELD, f"format {quote(msg.format, 64)} is not a short token")
    if msg.card_digest:
        names.check_digest(msg.card_digest, model_errors.INVALID_DIGEST, "card_digest")
    if msg.license and not LICENSE_ID.fullmatch(msg.license):
        raise TxError(errors.INVALID_FIELD, f"license {quote(msg.license, 64)} is not ORG/NAME")
    _check_lists(msg, params)
    claims.check_claim_salt(msg.claim_salt)


def _check_lists(msg: tx_pb2.PublishDataset, params: state_pb2.Params) -> None:
    """Storage URIs, files and consents within the consortium's (and the models') bounds."""
    if len(msg.storage_uris) > params.max_uris_per_version:
        raise TxError(model_errors.TOO_MANY, f"at most {params.max_uris_per_version} storage uris")
    for uri in msg.storage_uris:
        if not URI.fullmatch(uri):
            raise TxError(
                errors.INVALID_FIELD, f"storage uri {quote(uri, 128)} is not scheme://location"
            )
    if len(msg.files) > MAX_FILES:
        raise TxError(model_errors.TOO_MANY, f"{len(msg.files)} files, at most {MAX_FILES}")
    if len(msg.consent_receipts) > MAX_CONSENTS:
        raise TxError(model_errors.TOO_MANY, f"at most {MAX_CONSENTS} consent receipts")
