"""Counting a proposal's votes: one vote per member organisation, decided by the parameters.

Quorum: voting orgs x 100 >= quorum percent x member orgs. Pass: yes x 100 >= threshold percent
x (yes + no), with at least one yes. Only the votes of organisations that are still members
count. The same count answers ``/members/votes`` and decides at the end of a block.
"""

from __future__ import annotations

from app.pb.modelgov.v1 import state_pb2, tx_pb2

YES, NO, ABSTAIN = tx_pb2.VOTE_OPTION_YES, tx_pb2.VOTE_OPTION_NO, tx_pb2.VOTE_OPTION_ABSTAIN


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
