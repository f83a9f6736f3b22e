"""Consortium self-government: proposals, one vote per organisation, execution at end of block.

A proposal is open for ``voting_period_blocks``. At the end of every block each open proposal
is counted; it is decided early once every member organisation has voted or once it would pass
even if every organisation yet to vote voted no, else when its period ends.
Quorum: voting orgs x 100 >= quorum percent x member orgs. Pass: yes x 100 >= threshold
percent x (yes + no), with at least one yes. A passed proposal executes there, in that block;
only the votes of organisations that are still members count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.core.context import MsgContext
from app.core.crypto import address_of, is_valid_pubkey
from app.core.env import BlockEnv, Event, ValidatorChange
from app.core.errors import TxError
from app.licenses.params import to_data, validate_params
from app.members import errors
from app.members.genesis import ACCOUNT_NAME, ORG_ID, PARAM_FIELDS, U64_PARAMS
from app.members.keeper import MembersKeeper
from app.members.roles import ALL_ROLES, ORG_KINDS
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Overlay

ED25519_KEY_BYTES = 32
MAX_POWER = 2**50
YES, NO, ABSTAIN = tx_pb2.VOTE_OPTION_YES, tx_pb2.VOTE_OPTION_NO, tx_pb2.VOTE_OPTION_ABSTAIN
MAX_TEXT = 4096


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
    """Open a proposal to the member organisations' votes."""
    keeper = MembersKeeper(ctx.state)
    proposal = keeper.add_proposal(
        state_pb2.Proposal(
            action=msg.action,
            title=msg.title,
            description=msg.description,
            proposer=ctx.sender.address,
            proposer_org=ctx.sender.org,
            submit_height=ctx.env.height,
            voting_end_height=ctx.env.height + ctx.params.voting_period_blocks,
            status=state_pb2.PROPOSAL_STATUS_VOTING,
        )
    )
    kind = msg.action.WhichOneof("kind") or ""
    return Event("gov.proposal", (("id", str(proposal.id)), ("action", kind)))


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
        "gov.vote",
        (("id", str(msg.proposal_id)), ("org", ctx.sender.org), ("option", option)),
    )


# --- end of block -----------------------------------------------------------------------------


def end_block(
    state: Overlay, env: BlockEnv
) -> tuple[tuple[Event, ...], tuple[ValidatorChange, ...]]:
    """Count every open proposal; decide and execute those whose time has come."""
    keeper = MembersKeeper(state)
    events: list[Event] = []
    changes: list[ValidatorChange] = []
    for proposal_id in keeper.active_proposals():
        proposal = keeper.proposal(proposal_id)
        if proposal is None:
            raise RuntimeError(f"active proposal {proposal_id} has no record")
        members = keeper.org_ids()
        tally = count(keeper.votes(proposal_id), members)
        voted = tally.yes + tally.no + tally.abstain
        settled = voted == tally.eligible or certain_to_pass(tally, keeper.params())
        if not settled and env.height < proposal.voting_end_height:
            continue
        proposal.tally.CopyFrom(tally)
        proposal.decided_height = env.height
        proposal.status = decide(tally, keeper.params())
        if proposal.status == state_pb2.PROPOSAL_STATUS_PASSED:
            _execute(state, proposal, changes)
        keeper.set_proposal(proposal)
        status = state_pb2.ProposalStatus.Name(proposal.status).removeprefix("PROPOSAL_STATUS_")
        events.append(Event("gov.decided", (("id", str(proposal_id)), ("status", status.lower()))))
    return tuple(events), _last_per_key(changes)


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
    if not ACCOUNT_NAME.match(spec.name):
        raise TxError(errors.INVALID_PROPOSAL, f"account name {spec.name!r} is not valid")
    if not is_valid_pubkey(spec.pubkey):
        raise TxError(errors.INVALID_PROPOSAL, "an account key is a compressed secp256k1 key")
    _check_roles(list(spec.roles))


def _check_roles(roles: list[str]) -> None:
    if not roles or len(set(roles)) != len(roles) or any(r not in ALL_ROLES for r in roles):
        raise TxError(errors.INVALID_PROPOSAL, f"roles: distinct, from {', '.join(ALL_ROLES)}")


def _check_add_org(msg: tx_pb2.AddOrg) -> None:
    if not ORG_ID.match(msg.id) or not msg.name or msg.kind not in ORG_KINDS:
        raise TxError(errors.INVALID_PROPOSAL, "add_org needs an org id, a name and a kind")
    validate_params(msg.attributes)
    for entry in msg.attributes.entries:
        if entry.value.WhichOneof("kind") not in ("int_value", "str_value"):
            raise TxError(errors.INVALID_PROPOSAL, f"attribute {entry.key!r}: integer or string")
    for spec in msg.accounts:
        _check_account(spec)


def _check_validator(msg: tx_pb2.SetValidator) -> None:
    if len(msg.pubkey) != ED25519_KEY_BYTES or not 0 <= msg.power <= MAX_POWER:
        raise TxError(errors.INVALID_VALIDATOR, "an ed25519 key of 32 bytes and a power >= 0")


def _check_params(msg: tx_pb2.SetParams) -> None:
    names = [c.name for c in msg.changes]
    if not names or len(set(names)) != len(names) or any(n not in PARAM_FIELDS for n in names):
        raise TxError(errors.INVALID_PARAMS, f"change known parameters once: {PARAM_FIELDS}")
    for change in msg.changes:
        limit = 2**64 if change.name in U64_PARAMS else 2**32
        if not 0 < change.value < limit:
            raise TxError(errors.INVALID_PARAMS, f"{change.name} must be positive and < {limit}")
        if change.name.endswith("_percent") and change.value > 100:
            raise TxError(errors.INVALID_PARAMS, f"{change.name} is a percentage")


def _check_set_roles(msg: tx_pb2.SetRoles) -> None:
    _check_roles(list(msg.roles))


def _check_add_account(msg: tx_pb2.AddAccount) -> None:
    _check_account(msg.account)


def _no_check(msg: Any) -> None:
    """Actions naming only an existing org or address: the state decides at execution."""


_CHECKS: dict[str, Callable[[Any], None]] = {
    "add_org": _check_add_org,
    "remove_org": _no_check,
    "set_roles": _check_set_roles,
    "add_account": _check_add_account,
    "revoke_account": _no_check,
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
        raise TxError(errors.ORG_EXISTS, f"organisation {msg.id!r} exists")
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
        raise TxError(errors.ACCOUNT_EXISTS, f"key of {spec.name!r} belongs to {address}")
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
        raise TxError(errors.ORG_NOT_FOUND, f"no organisation {msg.org!r}")
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
        raise TxError(errors.ORG_NOT_FOUND, f"no organisation {msg.org!r}")
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
