"""Proposals and votes: one vote per organisation, decided and executed at the end of a block."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import Driver, make_account, register, started

from app.core import errors as tx_errors
from app.core.errors import ErrorCode
from app.core.valuemap import from_data
from app.members import errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2

YES, NO, ABSTAIN = tx_pb2.VOTE_OPTION_YES, tx_pb2.VOTE_OPTION_NO, tx_pb2.VOTE_OPTION_ABSTAIN
NEWCOMER_KEY = make_account("beta-admin", "beta", "admin", "publisher").pubkey


def propose(action: tx_pb2.ProposalAction, title: str = "a change") -> tx_pb2.Msg:
    return tx_pb2.Msg(submit_proposal=tx_pb2.SubmitProposal(action=action, title=title))


def vote(proposal_id: int, option: tx_pb2.VoteOption.ValueType) -> tx_pb2.Msg:
    return tx_pb2.Msg(cast_vote=tx_pb2.CastVote(proposal_id=proposal_id, option=option))


def add_beta() -> tx_pb2.ProposalAction:
    spec = tx_pb2.AccountSpec(name="beta-admin", pubkey=NEWCOMER_KEY, roles=["admin", "publisher"])
    return tx_pb2.ProposalAction(
        add_org=tx_pb2.AddOrg(
            id="beta",
            name="Beta Labs",
            kind="commercial",
            attributes=from_data({"monthly_active_users": 10}),
            accounts=[spec],
        )
    )


def proposal(driver: Driver, proposal_id: int) -> state_pb2.Proposal:
    answer = driver.query("/members/proposal", {"id": proposal_id})
    assert answer.code == 0, answer.log
    return state_pb2.Proposal.FromString(answer.value)


def expect(result: object, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log  # type: ignore[attr-defined]


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[Driver]:
    driver = started(tmp_path, params={"voting_period_blocks": 5, "vote_threshold_percent": 66})
    driver.accounts["beta-admin"] = make_account("beta-admin", "beta", "admin", "publisher")
    yield driver
    driver.close()


def test_an_org_joins_when_the_members_vote_yes(gov: Driver) -> None:
    gov.ok("uni-admin", propose(add_beta()))
    assert proposal(gov, 1).status == state_pb2.PROPOSAL_STATUS_VOTING
    expect(gov.run("beta-admin", register("beta", "m")), tx_errors.UNKNOWN_SENDER)
    gov["beta-admin"].nonce = 0  # the refused tx consumed nothing on chain
    gov.ok("uni-admin", vote(1, YES))
    gov.ok("acme-admin", vote(1, YES))
    decided = proposal(gov, 1)
    assert decided.status == state_pb2.PROPOSAL_STATUS_PASSED, decided.result
    assert (decided.tally.yes, decided.tally.eligible) == (2, 3)
    gov.ok("beta-admin", register("beta", "m"))
    org = state_pb2.Org.FromString(gov.query("/members/org", {"id": "beta"}).value)
    assert org.attributes[0].int_value == 10


def test_one_vote_per_org_the_last_one_counts(gov: Driver) -> None:
    gov.ok("uni-admin", propose(add_beta()))
    gov.ok("uni-admin", vote(1, NO))
    gov.ok("uni-admin", vote(1, YES))
    tally = state_pb2.Tally.FromString(gov.query("/members/votes", {"id": 1}).value)
    assert (tally.yes, tally.no) == (1, 0)


def test_no_and_abstain_and_expiry(gov: Driver) -> None:
    gov.ok(
        "uni-admin",
        propose(add_beta()),
    )
    gov.ok("uni-admin", vote(1, YES))
    gov.ok("acme-admin", vote(1, NO))
    for _ in range(5):
        gov.block([])
    assert proposal(gov, 1).status == state_pb2.PROPOSAL_STATUS_REJECTED
    gov.ok("uni-admin", propose(add_beta(), "again"))
    for _ in range(6):
        gov.block([])
    assert proposal(gov, 2).status == state_pb2.PROPOSAL_STATUS_EXPIRED
    expect(gov.run("uni-admin", vote(2, YES)), errors.VOTING_CLOSED)
    expect(gov.run("uni-admin", vote(9, YES)), errors.PROPOSAL_NOT_FOUND)


def test_a_removed_org_can_no_longer_send_and_its_votes_stop_counting(gov: Driver) -> None:
    remove_acme = tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="acme"))
    gov.ok("uni-admin", propose(add_beta()))
    gov.ok("acme-admin", vote(1, YES))
    gov.ok("uni-admin", propose(remove_acme, "remove acme"))
    gov.ok("uni-admin", vote(2, YES))
    gov.ok("acme-admin", vote(2, ABSTAIN))
    while proposal(gov, 2).status == state_pb2.PROPOSAL_STATUS_VOTING:
        gov.block([])  # one yes and one abstain: decided when the period ends
    assert proposal(gov, 2).status == state_pb2.PROPOSAL_STATUS_PASSED
    expect(gov.run("acme-admin", vote(1, YES)), tx_errors.UNKNOWN_SENDER)  # accounts deleted
    tally = state_pb2.Tally.FromString(gov.query("/members/votes", {"id": 1}).value)
    assert (tally.yes, tally.eligible) == (0, 2)


def test_roles_accounts_and_params_change_by_vote(gov: Driver) -> None:
    user = gov["acme-user"]
    actions = [
        tx_pb2.ProposalAction(
            set_roles=tx_pb2.SetRoles(address=user.address, roles=["consumer", "publisher"])
        ),
        tx_pb2.ProposalAction(
            revoke_account=tx_pb2.RevokeAccount(address=gov["openml-audit"].address)
        ),
        tx_pb2.ProposalAction(
            set_params=tx_pb2.SetParams(
                changes=[tx_pb2.ParamChange(name="max_messages_per_tx", value=2)]
            )
        ),
    ]
    for i, action in enumerate(actions, start=1):
        gov.ok("uni-admin", propose(action))
        gov.ok("uni-admin", vote(i, YES))
        gov.ok("acme-admin", vote(i, YES))
        assert proposal(gov, i).status == state_pb2.PROPOSAL_STATUS_PASSED, proposal(gov, i).result
    gov.ok("acme-user", register("acme", "now-allowed"))
    expect(gov.run("openml-audit", register("openml", "x")), tx_errors.UNKNOWN_SENDER)
    expect(
        gov.run("uni-pub", *[register("uni", f"m{i}") for i in range(3)]),
        tx_errors.TOO_MANY_MESSAGES,
    )


def test_validator_changes_reach_the_engine(gov: Driver) -> None:
    pubkey = bytes(range(32))
    action = tx_pb2.ProposalAction(
        set_validator=tx_pb2.SetValidator(pubkey=pubkey, power=7, name="n5")
    )
    gov.ok("uni-admin", propose(action))
    gov.ok("uni-admin", vote(1, YES))
    response = gov.block([gov.sign("acme-admin", [vote(1, YES)])])
    assert [(u.pub_key.ed25519, u.power) for u in response.validator_updates] == [(pubkey, 7)]
    page = state_pb2.Page.FromString(gov.query("/members/validators", {}).value)
    assert pubkey in [state_pb2.Validator.FromString(i).pubkey for i in page.items]


def test_a_passed_proposal_that_can_no_longer_run_fails_cleanly(gov: Driver) -> None:
    for _ in range(2):
        gov.ok("uni-admin", propose(add_beta()))
    for proposal_id in (1, 2):
        gov.ok("uni-admin", vote(proposal_id, YES))
    gov.block([gov.sign("acme-admin", [vote(1, YES)]), gov.sign("acme-admin", [vote(2, YES)])])
    assert proposal(gov, 1).status == state_pb2.PROPOSAL_STATUS_PASSED
    assert proposal(gov, 2).status == state_pb2.PROPOSAL_STATUS_VOTING  # beta now counts too
    gov.ok("beta-admin", vote(2, YES))
    failed = proposal(gov, 2)
    assert failed.status == state_pb2.PROPOSAL_STATUS_FAILED and "org_exists" in failed.result


@pytest.mark.parametrize(
    ("sender", "msg", "error"),
    [
        ("uni-pub", propose(add_beta()), tx_errors.MISSING_ROLE),
        ("uni-admin", propose(tx_pb2.ProposalAction()), errors.INVALID_PROPOSAL),
        ("uni-admin", propose(add_beta(), ""), errors.INVALID_PROPOSAL),
        (
            "uni-admin",
            propose(tx_pb2.ProposalAction(set_validator=tx_pb2.SetValidator(pubkey=b"x", power=1))),
            errors.INVALID_VALIDATOR,
        ),
        (
            "uni-admin",
            propose(
                tx_pb2.ProposalAction(
                    set_params=tx_pb2.SetParams(changes=[tx_pb2.ParamChange(name="nope", value=1)])
                )
            ),
            errors.INVALID_PARAMS,
        ),
        (
            "uni-admin",
            propose(
                tx_pb2.ProposalAction(
                    set_params=tx_pb2.SetParams(
                        changes=[tx_pb2.ParamChange(name="vote_quorum_percent", value=101)]
                    )
                )
            ),
            errors.INVALID_PARAMS,
        ),
        (
            "uni-admin",
            propose(tx_pb2.ProposalAction(set_roles=tx_pb2.SetRoles(address="a", roles=["owner"]))),
            errors.INVALID_PROPOSAL,
        ),
        ("uni-admin", vote(1, tx_pb2.VOTE_OPTION_UNSPECIFIED), errors.INVALID_VOTE),
    ],
)
def test_refusals(gov: Driver, sender: str, msg: tx_pb2.Msg, error: ErrorCode) -> None:
    expect(gov.run(sender, msg), error)


def test_two_changes_of_one_validator_in_a_block_reach_the_engine_once(gov: Driver) -> None:
    pubkey = bytes(range(32))
    for power in (7, 9):
        action = tx_pb2.ProposalAction(
            set_validator=tx_pb2.SetValidator(pubkey=pubkey, power=power)
        )
        gov.ok("uni-admin", propose(action))
    gov.ok("uni-admin", vote(1, YES), vote(2, YES))
    response = gov.block([gov.sign("acme-admin", [vote(1, YES), vote(2, YES)])])
    assert [(u.pub_key.ed25519, u.power) for u in response.validator_updates] == [(pubkey, 9)]


@pytest.mark.parametrize(
    ("powers", "expected"),
    [
        ((7, 0), []),  # added and removed in one block: the engine never had it
        ((7, 0, 0), []),
        ((0, 7), [7]),  # a removal refused (not a validator yet), then an addition
        ((7, 0, 4), [4]),
    ],
)
def test_a_validator_added_and_removed_in_one_block_sends_the_engine_nothing(
    gov: Driver, powers: tuple[int, ...], expected: list[int]
) -> None:
    """The engine halts (every node: "failed to find validator to remove") on an update that
    removes a key its set does not hold. Proposals adding a new key and removing it again
    that pass in the same block must net out to no update of that key."""
    pubkey, standing = bytes(range(1, 33)), bytes(range(2, 34))
    actions = [
        tx_pb2.ProposalAction(set_validator=tx_pb2.SetValidator(pubkey=key, power=power))
        for key, power in [(standing, 10)] + [(pubkey, power) for power in powers]
    ]
    gov.ok("uni-admin", *(propose(action) for action in actions))
    ids = range(1, len(actions) + 1)
    # the first passes alone (a validator that stays, so no removal is the last), then the rest
    gov.block(
        [gov.sign("uni-admin", [vote(i, YES) for i in ids]), gov.sign("acme-admin", [vote(1, YES)])]
    )
    response = gov.block([gov.sign("acme-admin", [vote(i, YES) for i in ids[1:]])])
    updates = [(u.pub_key.ed25519, u.power) for u in response.validator_updates]
    assert updates == [(pubkey, power) for power in expected]
