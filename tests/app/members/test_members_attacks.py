"""What an admin's proposals make every validator compute, and the gas they pay for it."""

from __future__ import annotations

import hashlib

from driver import Driver

from app.core import crypto
from app.core.gas import LIST_ITEM_GAS, base_gas
from app.members import errors
from app.members.validation import MAX_NEW_ACCOUNTS
from app.pb.modelgov.v1 import tx_pb2


def _spec(seed: str) -> tx_pb2.AccountSpec:
    key = crypto.public_key_of(hashlib.sha256(seed.encode()).digest())
    return tx_pb2.AccountSpec(
        name="a" + hashlib.sha256(seed.encode()).hexdigest()[:8], pubkey=key, roles=["admin"]
    )


def _admission(org: str, accounts: int, attributes: int = 0) -> tx_pb2.Msg:
    entries = [
        tx_pb2.ValueEntry(key=f"k{i:03d}", value=tx_pb2.Value(int_value=i))
        for i in range(attributes)
    ]
    add = tx_pb2.AddOrg(
        id=org,
        name="An organisation",
        kind="academic",
        attributes=tx_pb2.ValueMap(entries=entries),
        accounts=[_spec(f"{org}-{i}") for i in range(accounts)],
    )
    action = tx_pb2.ProposalAction(add_org=add)
    return tx_pb2.Msg(submit_proposal=tx_pb2.SubmitProposal(title="admit", action=action))


def test_an_admission_pays_for_each_account_key_and_attribute_it_checks(chain: Driver) -> None:
    """Sixteen admissions of 64 fresh keys in one transaction took 12 ms of every validator
    (a curve point parsed per key) for the 21 000 gas of sixteen votes."""
    result = chain.run("uni-admin", _admission("newcomer", 64, 10))
    assert result.code == 0, result.log
    assert result.gas_used == base_gas(1) + LIST_ITEM_GAS * (64 + 10)


def test_a_full_transaction_of_admissions_pays_for_every_key(chain: Driver) -> None:
    msgs = [_admission(f"org{i:02d}", MAX_NEW_ACCOUNTS) for i in range(16)]
    result = chain.run("uni-admin", *msgs)
    assert result.codespace == errors.TOO_MANY_OPEN.codespace  # the ninth is over the limit
    assert result.gas_used >= base_gas(16) + 16 * MAX_NEW_ACCOUNTS * LIST_ITEM_GAS


def test_a_refused_admission_pays_only_up_to_what_its_check_reads(chain: Driver) -> None:
    result = chain.run("uni-admin", _admission("crowd", MAX_NEW_ACCOUNTS + 40))
    assert (result.codespace, result.code) == (
        errors.INVALID_PROPOSAL.codespace,
        errors.INVALID_PROPOSAL.code,
    )
    assert result.gas_used == base_gas(1) + LIST_ITEM_GAS * MAX_NEW_ACCOUNTS


def test_other_proposals_cost_what_they_did(chain: Driver) -> None:
    remove = tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="openml"))
    msg = tx_pb2.Msg(submit_proposal=tx_pb2.SubmitProposal(title="remove", action=remove))
    assert chain.run("uni-admin", msg).gas_used == base_gas(1)
