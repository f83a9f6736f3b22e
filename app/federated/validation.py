"""Stateless checks of round messages (``validate_basic``): they need no state to refuse."""

from __future__ import annotations

from app.attestations import errors as attestation_errors
from app.core import names
from app.core.errors import TxError
from app.core.text import quote
from app.federated import errors
from app.models import errors as model_errors
from app.models.claims import check_claim_salt
from app.pb.modelgov.v1 import state_pb2, tx_pb2

MAX_INVITED = 64
MAX_SAMPLES = 2**48


def update_version(target_version: str, org: str) -> str:
    """The version under which an org's update of a round is published in the target model."""
    return f"{target_version}-update-{org}"


def _check_digest(value: str, field: str) -> None:
    if not names.DIGEST.fullmatch(value):
        raise TxError(
            errors.INVALID_FIELD, f"{field} {quote(value, 64)} is not sha256:<64 lowercase hex>"
        )


def _check_orgs(orgs: list[str], field: str) -> None:
    if not orgs or len(orgs) > MAX_INVITED:
        raise TxError(errors.INVALID_FIELD, f"{field}: 1 to {MAX_INVITED} organisations")
    if len(set(orgs)) != len(orgs):
        raise TxError(errors.INVALID_FIELD, f"{field}: an organisation is listed twice")
    for org in orgs:
        if not names.ORG_ID.fullmatch(org):
            raise TxError(errors.INVALID_FIELD, f"{field}: {quote(org, 64)} is not an org id")


MAX_LICENSE_RECEIPTS = 16


def validate_open(msg: tx_pb2.OpenRound, params: state_pb2.Params) -> None:
    """Checks of OpenRound that need no state."""
    names.check_model_id(msg.base_model, model_errors.INVALID_NAME)
    names.check_version(msg.base_version, model_errors.INVALID_VERSION)
    names.check_model_id(msg.target_model, model_errors.INVALID_NAME)
    names.check_version(msg.target_version, model_errors.INVALID_VERSION)
    _check_orgs(list(msg.invited_orgs), "invited_orgs")
    for org in msg.invited_orgs:
        if not names.VERSION.fullmatch(update_version(msg.target_version, org)):
            raise TxError(errors.INVALID_FIELD, "target_version too long to name its updates")
    if not 1 <= msg.min_participants <= len(msg.invited_orgs):
        raise TxError(errors.INVALID_FIELD, "min_participants is 1 to the number invited")
    if msg.deadline_height == 0:
        raise TxError(errors.INVALID_FIELD, "deadline_height is required")
    receipts = msg.license_receipts
    if len(receipts) > MAX_LICENSE_RECEIPTS or len(set(receipts)) != len(receipts):
        raise TxError(
            errors.INVALID_FIELD, f"license_receipts: at most {MAX_LICENSE_RECEIPTS}, each once"
        )


def validate_submit(msg: tx_pb2.SubmitUpdate, params: state_pb2.Params) -> None:
    """Checks of SubmitUpdate that need no state."""
    if msg.round_id == 0:
        raise TxError(errors.INVALID_FIELD, "round_id is required")
    _check_digest(msg.update_digest, "update_digest")
    if msg.size_bytes == 0:
        raise TxError(errors.INVALID_FIELD, "size_bytes must be positive")
    if not 1 <= msg.sample_count <= MAX_SAMPLES:
        raise TxError(errors.INVALID_FIELD, f"sample_count is 1 to 2^48, not {msg.sample_count}")
    if len(msg.metrics) > params.max_metrics_per_version:  # they become a training attestation
        count = len(msg.metrics)
        raise TxError(
            attestation_errors.INVALID_FIELD, f"{count} metrics, at most the version limit"
        )
    names.check_metrics(msg.metrics, attestation_errors.INVALID_FIELD)
    check_claim_salt(msg.claim_salt)


def validate_finalize(msg: tx_pb2.FinalizeRound, params: state_pb2.Params) -> None:
    """Checks of FinalizeRound that need no state."""
    if msg.round_id == 0:
        raise TxError(errors.INVALID_FIELD, "round_id is required")
    _check_digest(msg.aggregate_digest, "aggregate_digest")
    if msg.size_bytes == 0:
        raise TxError(errors.INVALID_FIELD, "size_bytes must be positive")
    _check_orgs(list(msg.included), "included")
    check_claim_salt(msg.claim_salt)
