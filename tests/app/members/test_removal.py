"""What removing a member means: its accounts are gone for good, its votes are withdrawn, what
its id holds stays frozen, and re-admitting the id brings back exactly the proposal's accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import Driver, default_accounts, make_account, register, started

from app.core import errors as tx_errors
from app.core.errors import ErrorCode
from app.pb.modelgov.v1 import state_pb2, tx_pb2

YES = tx_pb2.VOTE_OPTION_YES


def propose(action: tx_pb2.ProposalAction, title: str = "a change") -> tx_pb2.Msg:
    return tx_pb2.Msg(submit_proposal=tx_pb2.SubmitProposal(action=action, title=title))


def vote(proposal_id: int, option: tx_pb2.VoteOption.ValueType) -> tx_pb2.Msg:
    return tx_pb2.Msg(cast_vote=tx_pb2.CastVote(proposal_id=proposal_id, option=option))


def expect(result: object, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log  # type: ignore[attr-defined]


def proposal(driver: Driver, proposal_id: int) -> state_pb2.Proposal:
    answer = driver.query("/members/proposal", {"id": proposal_id})
    assert answer.code == 0, answer.log
    return state_pb2.Proposal.FromString(answer.value)


def carried(gov: Driver, action: tx_pb2.ProposalAction) -> state_pb2.Proposal:
    """uni proposes; uni and openml vote yes, which decides it at once; it must pass."""
    gov.ok("uni-admin", propose(action))
    page = state_pb2.Page.FromString(gov.query("/members/proposals", {"limit": 200}).value)
    proposal_id = state_pb2.Proposal.FromString(page.items[-1]).id
    gov.ok("uni-admin", vote(proposal_id, YES))
    if proposal(gov, proposal_id).status == state_pb2.PROPOSAL_STATUS_VOTING:
        gov.ok("openml-admin", vote(proposal_id, YES))
    decided = proposal(gov, proposal_id)
    assert decided.status == state_pb2.PROPOSAL_STATUS_PASSED, decided.result
    return decided


def remove(org: str) -> tx_pb2.ProposalAction:
    return tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org=org))


def readmit(org: str, *accounts: tuple[str, tuple[str, ...]]) -> tx_pb2.ProposalAction:
    specs = [
        tx_pb2.AccountSpec(name=name, pubkey=make_account(name, org).pubkey, roles=list(roles))
        for name, roles in accounts
    ]
    return tx_pb2.ProposalAction(
        add_org=tx_pb2.AddOrg(id=org, name="Acme Again", kind="commercial", accounts=specs)
    )


def account_exists(gov: Driver, name: str) -> bool:
    return gov.query("/members/account", {"address": gov[name].address}).code == 0


def balance(gov: Driver, org: str) -> int:
    return state_pb2.Balance.FromString(gov.query("/credits/balance", {"org": org}).value).amount


def transfer(to: str, amount: int) -> tx_pb2.Msg:
    return tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org=to, amount=amount))


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[Driver]:
    accounts = default_accounts()
    accounts["openml-admin"] = make_account("openml-admin", "openml", "admin")
    driver = started(tmp_path, accounts=accounts, params={"voting_period_blocks": 20})
    driver.accounts["acme-new"] = make_account("acme-new", "acme", "admin", "publisher")
    yield driver
    driver.close()


def test_removal_deletes_every_account_of_the_org(gov: Driver) -> None:
    gov.ok("acme-pub", register("acme", "kept"))
    decided = carried(gov, remove("acme"))
    assert decided.result == "removed acme and deleted its 3 accounts"
    for name in ("acme-admin", "acme-pub", "acme-user"):
        assert not account_exists(gov, name)
        expect(gov.run(name, register("acme", "x")), tx_errors.UNKNOWN_SENDER)
    listed = state_pb2.Page.FromString(gov.query("/members/accounts", {"org": "acme"}).value)
    assert list(listed.items) == []
    assert gov.query("/members/org", {"id": "acme"}).code != 0
    assert gov.query("/models/model", {"id": "acme/kept"}).code == 0  # records stay


def test_credits_of_a_removed_org_stay_frozen_under_its_id(gov: Driver) -> None:
    before = balance(gov, "acme")
    carried(gov, remove("acme"))
    assert balance(gov, "acme") == before
    total = sum(balance(gov, org) for org in ("uni", "acme", "openml"))
    assert total == sum(gov.credits.values())


def test_readmission_brings_back_exactly_the_proposals_accounts(gov: Driver) -> None:
    carried(gov, remove("acme"))
    frozen = balance(gov, "acme")
    decided = carried(gov, readmit("acme", ("acme-new", ("admin", "publisher"))))
    assert decided.result == "re-admitted acme with 1 accounts"
    for old in ("acme-admin", "acme-pub", "acme-user"):
        assert not account_exists(gov, old)
        expect(gov.run(old, transfer("uni", 1)), tx_errors.UNKNOWN_SENDER)
    listed = state_pb2.Page.FromString(gov.query("/members/accounts", {"org": "acme"}).value)
    addresses = [state_pb2.Account.FromString(a).address for a in listed.items]
    assert addresses == [gov["acme-new"].address]
    gov.ok("acme-new", transfer("uni", 10))  # the id's frozen credits are the member's again
    assert balance(gov, "acme") == frozen - 10


def test_a_removed_orgs_votes_are_withdrawn_even_if_it_returns(gov: Driver) -> None:
    change = tx_pb2.SetParams(changes=[tx_pb2.ParamChange(name="voting_period_blocks", value=9)])
    gov.ok("uni-admin", propose(tx_pb2.ProposalAction(set_params=change)))
    gov.ok("acme-admin", vote(1, YES))  # acme's old admin votes on proposal 1
    carried(gov, remove("acme"))
    carried(gov, readmit("acme", ("acme-new", ("admin",))))
    assert proposal(gov, 1).status == state_pb2.PROPOSAL_STATUS_VOTING
    tally = state_pb2.Tally.FromString(gov.query("/members/votes", {"id": 1}).value)
    assert (tally.yes, tally.eligible) == (0, 3)


def test_a_readmitted_key_continues_from_its_nonce_so_old_txs_never_replay(gov: Driver) -> None:
    old_tx = gov.sign("acme-admin", [transfer("uni", 7)])
    assert gov.block([old_tx]).tx_results[0].code == 0
    carried(gov, remove("acme"))
    carried(gov, readmit("acme", ("acme-admin", ("admin",))))  # the same key, admitted again
    assert account_exists(gov, "acme-admin")
    before = balance(gov, "acme")
    expect(gov.block([old_tx]).tx_results[0], tx_errors.NONCE_REPLAYED)
    assert balance(gov, "acme") == before
    gov["acme-admin"].nonce = gov.committed_nonce("acme-admin")
    gov.ok("acme-admin", transfer("uni", 1))  # its next nonce still works


def test_a_revoked_then_readded_key_cannot_replay_either(gov: Driver) -> None:
    old_tx = gov.sign("acme-pub", [register("acme", "first")])
    assert gov.block([old_tx]).tx_results[0].code == 0
    address = gov["acme-pub"].address
    carried(gov, tx_pb2.ProposalAction(revoke_account=tx_pb2.RevokeAccount(address=address)))
    spec = tx_pb2.AccountSpec(name="acme-pub", pubkey=gov["acme-pub"].pubkey, roles=["publisher"])
    carried(gov, tx_pb2.ProposalAction(add_account=tx_pb2.AddAccount(org="acme", account=spec)))
    expect(gov.block([old_tx]).tx_results[0], tx_errors.NONCE_REPLAYED)
    gov["acme-pub"].nonce = gov.committed_nonce("acme-pub")
    gov.ok("acme-pub", register("acme", "second"))


def test_a_tx_signed_before_removal_that_never_ran_does_not_run_after_readmission(
    gov: Driver,
) -> None:
    """acme's admin signs a transfer; acme is removed before it runs, and a proposer puts it in
    a block anyway: refused (unknown sender), its nonce unused, its bytes public. When the same
    key is admitted again, anyone can send those bytes: the old intent moves the re-admitted
    org's credits."""
    stale = gov.sign("acme-admin", [transfer("uni", 500)])
    carried(gov, remove("acme"))
    expect(gov.block([stale]).tx_results[0], tx_errors.UNKNOWN_SENDER)
    carried(gov, readmit("acme", ("acme-admin", ("admin",))))
    before = balance(gov, "acme")
    expect(gov.block([stale]).tx_results[0], tx_errors.NONCE_REPLAYED)
    assert balance(gov, "acme") == before
    assert gov.committed_nonce("acme-admin") == gov["acme-admin"].nonce - 1 + 2**32
