"""Consortium self-government at the end of a block: proposals counted, decided, executed.

A proposal is open for ``voting_period_blocks``; an organisation has at most MAX_OPEN_PER_ORG
open at a time (app.members.handlers). At the end of a block the open proposals whose count may
have changed are counted (see ``end_block``, and app.members.tally for quorum and pass); one is
decided early once every member organisation has voted or once it would pass even if every
organisation yet to vote voted no, else when its period ends. A passed proposal executes there,
in that block, on its own overlay: a refusal of the state marks it failed instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.crypto import address_of
from app.core.env import BlockEnv, Event, ValidatorChange
from app.core.errors import TxError
from app.core.text import quote
from app.core.valuemap import to_data
from app.members import errors
from app.members import events as event_types
from app.members.keeper import MembersKeeper
from app.members.tally import certain_to_pass, count, decide
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Overlay

MAX_TOTAL_POWER = (2**63 - 1) // 8
"""CometBFT's MaxTotalVotingPower (MaxInt64 / 8): the engine halts on a validator update that
would make the set's total power exceed it, so the app refuses such a change itself."""


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
    engine_has = {v.pubkey for v in keeper.validators()} if candidates else set()
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
    return tuple(events), _last_per_key(changes, engine_has)


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


def _last_per_key(
    changes: list[ValidatorChange], engine_has: set[bytes]
) -> tuple[ValidatorChange, ...]:
    """One update per validator key (the engine refuses duplicates in a block): the last,
    except the removal of a key the engine's set does not hold (added and removed again in
    this block): the engine halts on it ("failed to find validator to remove"), so it is
    dropped, leaving the engine as it was."""
    latest = {change.pubkey: change for change in changes}
    return tuple(
        change for change in latest.values() if change.power or change.pubkey in engine_has
    )


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


# --- actions: an execution each ----------------------------------------------------------------


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
    keeper.open_account(
        state_pb2.Account(
            address=address, pubkey=spec.pubkey, org=org, roles=sorted(spec.roles), name=spec.name
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
