"""The members message server: an admin submits a proposal or casts its organisation's vote.

Each handler assumes its message passed ``app.members.validation`` and the sender holds the
route's role; it raises ``TxError`` for anything the state refuses. Proposals are counted
(app.members.tally), decided and executed at the end of a block (app.members.governance).
"""

from __future__ import annotations

from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.members import errors, keys
from app.members import events as event_types
from app.members.keeper import MembersKeeper
from app.pb.modelgov.v1 import state_pb2, tx_pb2

MAX_OPEN_PER_ORG = 8
"""Open proposals one organisation may have at a time: bounds what an end of block recounts
when the members or parameters change (and the records one admin can pile up)."""


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
