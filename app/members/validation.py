"""Stateless checks of governance messages (``validate_basic``): a proposal's text and the
stateless check of its action, a vote's option. They need no state to refuse, so a malformed
proposal never reaches a vote; what the state decides (an org that exists, the last validator)
is checked when the proposal executes (app.members.governance).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.core.crypto import is_valid_pubkey
from app.core.errors import TxError
from app.core.gas import LIST_ITEM_GAS
from app.core.names import ORG_ID
from app.core.text import quote
from app.core.valuemap import validate_params
from app.licenses import errors as license_errors
from app.members import errors
from app.members.genesis import ACCOUNT_NAME, ATTRIBUTE_KEY, MAX_ATTRIBUTES
from app.members.genesis import MAX_TEXT as MAX_ORG_TEXT
from app.members.params import out_of_range
from app.members.roles import ALL_ROLES, ORG_KINDS
from app.members.tally import ABSTAIN, NO, YES
from app.pb.modelgov.v1 import state_pb2, tx_pb2

ED25519_KEY_BYTES = 32
MAX_POWER = 2**50
MAX_TEXT = 4096
MAX_NEW_ACCOUNTS = 64
ADDRESS = re.compile(r"\A[0-9a-f]{40}\Z")
"""An account address: hex of the first 20 bytes of sha256(public key), as crypto.address_of."""


def validate_submit(msg: tx_pb2.SubmitProposal, params: state_pb2.Params) -> None:
    """Checks of SubmitProposal that need no state."""
    if not msg.title or len(msg.title.encode()) > 256:
        raise TxError(errors.INVALID_PROPOSAL, "a title of 1 to 256 bytes is required")
    if len(msg.description.encode()) > MAX_TEXT:
        raise TxError(errors.INVALID_PROPOSAL, f"description over {MAX_TEXT} bytes")
    kind = msg.action.WhichOneof("kind")
    if kind is None:
        raise TxError(errors.INVALID_PROPOSAL, "the proposal names no action")
    _CHECKS[kind](getattr(msg.action, kind))


def proposal_gas(msg: tx_pb2.SubmitProposal) -> int:
    """The gas of a proposal's check beyond the fixed costs (app.core.gas): an organisation's
    admission checks each account's key (a curve point parsed, about 10 microseconds) and each
    attribute, so sixteen admissions of 64 accounts in one transaction took 12 ms of every
    validator for the gas of an empty one. Counted up to the most the check looks at."""
    if msg.action.WhichOneof("kind") != "add_org":
        return 0
    add = msg.action.add_org
    accounts = min(len(add.accounts), MAX_NEW_ACCOUNTS)
    attributes = min(len(add.attributes.entries), MAX_ATTRIBUTES)
    return LIST_ITEM_GAS * (accounts + attributes)


def validate_vote(msg: tx_pb2.CastVote, params: state_pb2.Params) -> None:
    """Checks of CastVote that need no state."""
    if msg.option not in (YES, NO, ABSTAIN):
        raise TxError(errors.INVALID_VOTE, "vote yes, no or abstain")


# --- actions: a stateless check each -----------------------------------------------------------


def _check_account(spec: tx_pb2.AccountSpec) -> None:
    if not ACCOUNT_NAME.fullmatch(spec.name):
        raise TxError(errors.INVALID_PROPOSAL, f"account name {quote(spec.name, 64)} is not valid")
    if not is_valid_pubkey(spec.pubkey):
        raise TxError(errors.INVALID_PROPOSAL, "an account key is a compressed secp256k1 key")
    _check_roles(list(spec.roles))


def _check_roles(roles: list[str]) -> None:
    if not roles or len(set(roles)) != len(roles) or any(r not in ALL_ROLES for r in roles):
        raise TxError(errors.INVALID_PROPOSAL, f"roles: distinct, from {', '.join(ALL_ROLES)}")


def _check_org_id(org_id: str) -> None:
    if not ORG_ID.fullmatch(org_id):
        raise TxError(errors.INVALID_PROPOSAL, f"{quote(org_id, 64)} is not an organisation id")


def _check_address(address: str) -> None:
    if not ADDRESS.fullmatch(address):
        raise TxError(errors.INVALID_PROPOSAL, f"{quote(address, 64)} is not an account address")


def _check_add_org(msg: tx_pb2.AddOrg) -> None:
    """The same rules as an organisation of genesis: id, name, kind, attributes, accounts."""
    _check_org_id(msg.id)
    if not 0 < len(msg.name.encode()) <= MAX_ORG_TEXT or msg.kind not in ORG_KINDS:
        raise TxError(errors.INVALID_PROPOSAL, "add_org needs a name of 1-256 bytes and a kind")
    _check_attributes(msg.attributes)
    if len(msg.accounts) > MAX_NEW_ACCOUNTS:
        raise TxError(errors.INVALID_PROPOSAL, f"at most {MAX_NEW_ACCOUNTS} accounts at once")
    names = [spec.name for spec in msg.accounts]
    keys_ = [spec.pubkey for spec in msg.accounts]
    if len(set(names)) != len(names) or len(set(keys_)) != len(keys_):
        raise TxError(errors.INVALID_PROPOSAL, "an account name or key is listed twice")
    for spec in msg.accounts:
        _check_account(spec)


def _check_attributes(attributes: tx_pb2.ValueMap) -> None:
    """Attribute names are genesis's snake_case keys; values integers or texts of genesis's
    sizes, so a script sees the same kinds of attributes for every organisation."""
    validate_params(attributes, license_errors.INVALID_PARAMS)  # the code it always had
    if len(attributes.entries) > MAX_ATTRIBUTES:
        raise TxError(errors.INVALID_PROPOSAL, f"at most {MAX_ATTRIBUTES} attributes")
    for entry in attributes.entries:
        shown = quote(entry.key, 64)
        if not ATTRIBUTE_KEY.fullmatch(entry.key):
            raise TxError(errors.INVALID_PROPOSAL, f"attribute {shown} is not snake_case")
        kind = entry.value.WhichOneof("kind")
        if kind not in ("int_value", "str_value"):
            raise TxError(errors.INVALID_PROPOSAL, f"attribute {shown}: integer or string")
        if kind == "str_value" and len(entry.value.str_value.encode()) > MAX_ORG_TEXT:
            raise TxError(errors.INVALID_PROPOSAL, f"attribute {shown}: over 256 bytes")


def _check_validator(msg: tx_pb2.SetValidator) -> None:
    if len(msg.pubkey) != ED25519_KEY_BYTES or not 0 <= msg.power <= MAX_POWER:
        raise TxError(errors.INVALID_VALIDATOR, "an ed25519 key of 32 bytes and a power 0 to 2^50")
    if msg.name and not ACCOUNT_NAME.fullmatch(msg.name):
        raise TxError(errors.INVALID_VALIDATOR, "a validator name: letters, digits, '.', '_', '-'")


def _check_params(msg: tx_pb2.SetParams) -> None:
    """Known parameters, each once, each inside its range (app.members.params), so no vote
    can leave the chain ungovernable or push a later computation out of its integer field."""
    names = [c.name for c in msg.changes]
    if not names or len(set(names)) != len(names):
        raise TxError(errors.INVALID_PARAMS, "change at least one parameter, each once")
    for change in msg.changes:
        reason = out_of_range(change.name, change.value)
        if reason is not None:
            raise TxError(errors.INVALID_PARAMS, f"{quote(change.name, 64)}: {reason}")


def _check_remove_org(msg: tx_pb2.RemoveOrg) -> None:
    _check_org_id(msg.org)


def _check_set_roles(msg: tx_pb2.SetRoles) -> None:
    _check_address(msg.address)
    _check_roles(list(msg.roles))


def _check_add_account(msg: tx_pb2.AddAccount) -> None:
    _check_org_id(msg.org)
    _check_account(msg.account)


def _check_revoke_account(msg: tx_pb2.RevokeAccount) -> None:
    _check_address(msg.address)


_CHECKS: dict[str, Callable[[Any], None]] = {
    "add_org": _check_add_org,
    "remove_org": _check_remove_org,
    "set_roles": _check_set_roles,
    "add_account": _check_add_account,
    "revoke_account": _check_revoke_account,
    "set_validator": _check_validator,
    "set_params": _check_params,
}
