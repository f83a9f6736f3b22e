"""Consortium self-government: proposals, one vote per organisation, execution at end of block.

A proposal is open for ``voting_period_blocks``; an organisation has at most MAX_OPEN_PER_ORG
open at a time. At the end of a block the open proposals whose count may have changed are
counted (see ``end_block``); one is decided early once every member organisation has voted or
once it would pass even if every organisation yet to vote voted no, else when its period ends.
Quorum: voting orgs x 100 >= quorum percent x member orgs. Pass: yes x 100 >= threshold
percent x (yes + no), with at least one yes. A passed proposal executes there, in that block;
only the votes of organisations that are still members count.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.context import MsgContext
from app.core.crypto import address_of, is_valid_pubkey
from app.core.env import BlockEnv, Event, ValidatorChange
from app.core.errors import TxError
from app.core.names import ORG_ID
from app.core.text import quote
from app.core.valuemap import to_data, validate_params
from app.licenses import errors as license_errors
from app.members import errors, keys
from app.members import events as event_types
from app.members.genesis import ACCOUNT_NAME, ATTRIBUTE_KEY, MAX_ATTRIBUTES
from app.members.genesis import MAX_TEXT as MAX_ORG_TEXT
from app.members.keeper import MembersKeeper
from app.members.params import out_of_range
from app.members.roles import ALL_ROLES, ORG_KINDS
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Overlay

ED25519_KEY_BYTES = 32
MAX_POWER = 2**50
MAX_TOTAL_POWER = (2**63 - 1) // 8
"""CometBFT's MaxTotalVotingPower (MaxInt64 / 8): the engine halts on a validator update that
would make the set's total power exceed it, so the app refuses such a change itself."""
YES, NO, ABSTAIN = tx_pb2.VOTE_OPTION_YES, tx_pb2.VOTE_OPTION_NO, tx_pb2.VOTE_OPTION_ABSTAIN
MAX_TEXT = 4096
MAX_OPEN_PER_ORG = 8
"""Open proposals one organisation may have at a time: bounds what an end of block recounts
when the members or parameters change (and the records one admin can pile up)."""
MAX_NEW_ACCOUNTS = 64
ADDRESS = re.compile(r"\A[0-9a-f]{40}\Z")
"""An account address: hex of the first 20 bytes of sha256(public key), as crypto.address_of."""


# --- transactions ---------------------------------------------------------------------------


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


def submit_proposal(ctx: MsgContext, msg: tx_pb2.SubmitProposal) -> Event:
    """Open a proposal to the member organisations' votes.

    Raises TxError(too_many_open_proposals) when the sender's organisation already has
    MAX_OPEN_PER_ORG open, (invalid_proposal) when the voting period would end past the last
    height a uint64 holds.
    """
    keeper = MembersKeeper(ctx.state)
    if keeper.open_proposals_of(ctx.sender.org) >= MAX_OPEN_PER_ORG:
        raise TxError(
            errors.TOO_MANY_OPEN, f"{ctx.sender.org} has {MAX_OPEN_PER_ORG} proposals open"
        )
    end = ctx.env.height + ctx.params.voting_period_blocks
    if end > keys.MAX_U64:
        raise TxError(errors.INVALID_PROPOSAL, f"the voting period would end at {end}")
    proposal = keeper.add_proposal(
        state_pb2.Proposal(
            action=msg.action,
            title=msg.title,
            description=msg.description,
            proposer=ctx.sender.address,
            proposer_org=ctx.sender.org,
            submit_height=ctx.env.height,
            voting_end_height=end,
            status=state_pb2.PROPOSAL_STATUS_VOTING,
        )
    )
    kind = msg.action.WhichOneof("kind") or ""
    return Event(event_types.PROPOSAL, (("id", str(proposal.id)), ("action", kind)))


def validate_vote(msg: tx_pb2.CastVote, params: state_pb2.Params) -> None:
    """Checks of CastVote that need no state."""
    if msg.option not in (YES, NO, ABSTAIN):
        raise TxError(errors.INVALID_VOTE, "vote yes, no or abstain")


def cast_vote(ctx: MsgContext, msg: tx_pb2.CastVote) -> Event:
    """Record the sender's organisation's vote (replacing its earlier one)."""
    keeper = MembersKeeper(ctx.state)
    proposal = keeper.proposal(msg.proposal_id)
    if proposal is None:
        raise TxError(errors.PROPOSAL_NOT_FOUND, f"no proposal {msg.proposal_id}")
    if proposal.status != state_pb2.PROPOSAL_STATUS_VOTING:
        status = state_pb2.ProposalStatus.Name(proposal.status)
        raise TxError(errors.VOTING_CLOSED, f"proposal {msg.proposal_id} is {status}")
    keeper.set_vote(msg.proposal_id, ctx.sender.org, msg.option)
    option = tx_pb2.VoteOption.Name(msg.option).removeprefix("VOTE_OPTION_").lower()
    return Event(
        event_types.VOTE,
        (("id", str(msg.proposal_id)), ("org", ctx.sender.org), ("option", option)),
    )


# --- end of block -----------------------------------------------------------------------------


def end_block(
    state: Overlay, env: BlockEnv
) -> tuple[tuple[Event, ...], tuple[ValidatorChange, ...]]:
    """Count the open proposals whose count may have changed; decide and execute those whose
    time has come.

    A proposal's tally changes only when a vote is cast on it, when the member list changes,
    and its decision also when the parameters change or its period ends. So a block counts the
    proposals voted on in it and those whose period ends at its height, and every open proposal
    only when the members or the parameters differ from those of the last block's count. A
    block's cost therefore follows its own votes (each a transaction) and, on a membership or
    parameter change, the open proposals, which MAX_OPEN_PER_ORG bounds per organisation.
    """
    keeper = MembersKeeper(state)
    basis = _Basis.read(keeper)
    candidates = _candidates(keeper, basis, env.height)
    events: list[Event] = []
    changes: list[ValidatorChange] = []
    for proposal_id in candidates:
        proposal = keeper.proposal(proposal_id)
        if proposal is None or proposal.status != state_pb2.PROPOSAL_STATUS_VOTING:
            raise RuntimeError(f"open proposal {proposal_id} has no open record")
        tally = count(keeper.votes(proposal_id), basis.members)
        voted = tally.yes + tally.no + tally.abstain
        settled = voted == tally.eligible or certain_to_pass(tally, basis.params)
        if not settled and env.height < proposal.voting_end_height:
            continue
        proposal.tally.CopyFrom(tally)
        proposal.decided_height = env.height
        proposal.status = decide(tally, basis.params)
        if proposal.status == state_pb2.PROPOSAL_STATUS_PASSED:
            _execute(state, proposal, changes)
            basis = _Basis.read(keeper)  # what it changed counts for the proposals after it
        keeper.set_proposal(proposal)
        status = state_pb2.ProposalStatus.Name(proposal.status).removeprefix("PROPOSAL_STATUS_")
        events.append(
            Event(event_types.DECIDED, (("id", str(proposal_id)), ("status", status.lower())))
        )
    return tuple(events), _last_per_key(changes)


@dataclass(frozen=True)
class _Basis:
    """What a count depends on besides the votes: the member list and the parameters."""

    members: list[str]
    params: state_pb2.Params
    fingerprint: bytes

    @classmethod
    def read(cls, keeper: MembersKeeper) -> _Basis:
        """The current members and parameters, read once, with their fingerprint."""
        members, params = keeper.org_ids(), keeper.params()
        digest = hashlib.sha256("\n".join(members).encode())
        digest.update(b"\x00" + params.SerializeToString(deterministic=True))
        return cls(members, params, digest.digest())


def _candidates(keeper: MembersKeeper, basis: _Basis, height: int) -> list[int]:
    """The open proposals this block must count, ascending; clears the touched marks."""
    if keeper.counted_under() != basis.fingerprint:
        active = keeper.active_proposals()
        if active:  # with none open, nothing was counted (and an empty block writes nothing)
            keeper.set_counted_under(basis.fingerprint)
            keeper.forget_touched(keeper.touched_proposals())
        return active
    touched = keeper.touched_proposals()
    keeper.forget_touched(touched)
    return sorted(set(touched).union(keeper.due_proposals(height)))


def _last_per_key(changes: list[ValidatorChange]) -> tuple[ValidatorChange, ...]:
    """One update per validator key (the engine refuses duplicates in a block): the last."""
    latest = {change.pubkey: change for change in changes}
    return tuple(latest.values())


def count(votes: dict[str, int], members: list[str]) -> state_pb2.Tally:
    """Votes of current members only: a removed organisation's vote no longer counts."""
    tally = state_pb2.Tally(eligible=len(members))
    for org in members:
        option = votes.get(org)
        if option == YES:
            tally.yes += 1
        elif option == NO:
            tally.no += 1
        elif option == ABSTAIN:
            tally.abstain += 1
    return tally


def certain_to_pass(tally: state_pb2.Tally, params: state_pb2.Params) -> bool:
    """Whether the proposal passes even if every organisation yet to vote votes no."""
    voted = tally.yes + tally.no + tally.abstain
    worst_no = tally.no + tally.eligible - voted
    quorum = voted * 100 >= params.vote_quorum_percent * tally.eligible
    return (
        quorum
        and tally.yes > 0
        and tally.yes * 100 >= params.vote_threshold_percent * (tally.yes + worst_no)
    )


def decide(tally: state_pb2.Tally, params: state_pb2.Params) -> state_pb2.ProposalStatus.ValueType:
    """PASSED, REJECTED or EXPIRED from a final tally."""
    voted = tally.yes + tally.no + tally.abstain
    if voted * 100 < params.vote_quorum_percent * tally.eligible or voted == 0:
        return state_pb2.PROPOSAL_STATUS_EXPIRED
    if tally.yes > 0 and tally.yes * 100 >= params.vote_threshold_percent * (tally.yes + tally.no):
        return state_pb2.PROPOSAL_STATUS_PASSED
    return state_pb2.PROPOSAL_STATUS_REJECTED


def _execute(state: Overlay, proposal: state_pb2.Proposal, changes: list[ValidatorChange]) -> None:
    """Carry out a passed proposal on its own overlay; a refusal marks it FAILED instead."""
    scratch = Overlay(state)
    kind = proposal.action.WhichOneof("kind") or ""
    try:
        result, change = _ACTIONS[kind](MembersKeeper(scratch), getattr(proposal.action, kind))
    except TxError as err:
        proposal.status = state_pb2.PROPOSAL_STATUS_FAILED
        proposal.result = err.log
        return
    scratch.merge_into(state)
    proposal.result = result
    if change is not None:
        changes.append(change)


# --- actions: a stateless check each, and an execution each ------------------------------------


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

Result = tuple[str, ValidatorChange | None]


def _add_org(keeper: MembersKeeper, msg: tx_pb2.AddOrg) -> Result:
    """Admit an organisation with exactly the proposal's accounts. An id that was removed comes
    back with what it holds (models, licenses, receipts, frozen credits) but none of its old
    accounts: an id names one member for the life of the chain, so a different organisation is
    admitted under a new id."""
    if keeper.org(msg.id) is not None:
        raise TxError(errors.ORG_EXISTS, f"organisation {quote(msg.id, 64)} exists")
    returning = keeper.readmit(msg.id)
    attributes = [
        state_pb2.Attribute(key=k, int_value=v)
        if isinstance(v, int)
        else state_pb2.Attribute(key=k, text_value=str(v))
        for k, v in sorted(to_data(msg.attributes).items())
    ]
    keeper.set_org(state_pb2.Org(id=msg.id, name=msg.name, kind=msg.kind, attributes=attributes))
    for spec in msg.accounts:
        _new_account(keeper, msg.id, spec)
    verb = "re-admitted" if returning else "added"
    return f"{verb} {msg.id} with {len(msg.accounts)} accounts", None


def _new_account(keeper: MembersKeeper, org: str, spec: tx_pb2.AccountSpec) -> None:
    """Create an account; a key that had an account before continues from its old nonce."""
    address = address_of(spec.pubkey)
    if keeper.account(address) is not None:
        raise TxError(errors.ACCOUNT_EXISTS, f"key of {quote(spec.name, 64)} belongs to {address}")
    keeper.set_account(
        state_pb2.Account(
            address=address,
            pubkey=spec.pubkey,
            org=org,
            roles=sorted(spec.roles),
            name=spec.name,
            nonce=keeper.reuse_nonce(address),
        )
    )


def _remove_org(keeper: MembersKeeper, msg: tx_pb2.RemoveOrg) -> Result:
    """Remove a member (``MembersKeeper.remove_org`` says what that means)."""
    if keeper.org(msg.org) is None:
        raise TxError(errors.ORG_NOT_FOUND, f"no organisation {quote(msg.org, 64)}")
    deleted = keeper.remove_org(msg.org)
    return f"removed {msg.org} and deleted its {deleted} accounts", None


def _set_roles(keeper: MembersKeeper, msg: tx_pb2.SetRoles) -> Result:
    account = keeper.account(msg.address)
    if account is None:
        raise TxError(errors.ACCOUNT_NOT_FOUND, f"no account {msg.address}")
    del account.roles[:]
    account.roles.extend(sorted(msg.roles))
    keeper.set_account(account)
    return f"{msg.address} now has {', '.join(account.roles)}", None


def _add_account(keeper: MembersKeeper, msg: tx_pb2.AddAccount) -> Result:
    if keeper.org(msg.org) is None:
        raise TxError(errors.ORG_NOT_FOUND, f"no organisation {quote(msg.org, 64)}")
    _new_account(keeper, msg.org, msg.account)
    return f"added account {msg.account.name} to {msg.org}", None


def _revoke_account(keeper: MembersKeeper, msg: tx_pb2.RevokeAccount) -> Result:
    account = keeper.account(msg.address)
    if account is None:
        raise TxError(errors.ACCOUNT_NOT_FOUND, f"no account {msg.address}")
    keeper.remove_account(account)
    return f"revoked {msg.address}", None


def _set_validator(keeper: MembersKeeper, msg: tx_pb2.SetValidator) -> Result:
    current = {v.pubkey: v.power for v in keeper.validators()}
    if msg.power == 0 and msg.pubkey not in current:
        raise TxError(errors.INVALID_VALIDATOR, "this key is not a validator")
    current[msg.pubkey] = msg.power
    if sum(1 for p in current.values() if p > 0) == 0:
        raise TxError(errors.INVALID_VALIDATOR, "the last validator cannot be removed")
    total = sum(current.values())
    if total > MAX_TOTAL_POWER:
        raise TxError(errors.INVALID_VALIDATOR, f"total power {total} would pass {MAX_TOTAL_POWER}")
    keeper.set_validator(state_pb2.Validator(pubkey=msg.pubkey, power=msg.power, name=msg.name))
    return f"validator {msg.pubkey.hex()[:16]} power {msg.power}", ValidatorChange(
        msg.pubkey, msg.power
    )


def _set_params(keeper: MembersKeeper, msg: tx_pb2.SetParams) -> Result:
    params = state_pb2.Params()
    params.CopyFrom(keeper.params())
    for change in msg.changes:
        setattr(params, change.name, change.value)
    keeper.set_params(params)
    return "set " + ", ".join(f"{c.name}={c.value}" for c in msg.changes), None


_ACTIONS: dict[str, Callable[[MembersKeeper, Any], Result]] = {
    "add_org": _add_org,
    "remove_org": _remove_org,
    "set_roles": _set_roles,
    "add_account": _add_account,
    "revoke_account": _revoke_account,
    "set_validator": _set_validator,
    "set_params": _set_params,
}
