"""Hostile governance, by kind: ids, heights, powers and names at their extremes.

Every case runs through the driver; a FinalizeBlock that raised would fail the test. A passed
proposal whose action the state refuses is FAILED with a registered code in its result and
sends the engine nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, make_account, started

from app.core.env import BlockEnv
from app.core.errors import ErrorCode
from app.machine import execute_tx
from app.members import errors, keys
from app.members.governance import MAX_TOTAL_POWER, end_block
from app.members.handlers import MAX_OPEN_PER_ORG
from app.members.keeper import DEFAULT_PARAMS
from app.members.validation import MAX_POWER
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Overlay

YES = tx_pb2.VOTE_OPTION_YES
MAX_U64 = 2**64 - 1


def propose(action: tx_pb2.ProposalAction, title: str = "a change") -> tx_pb2.Msg:
    return tx_pb2.Msg(submit_proposal=tx_pb2.SubmitProposal(action=action, title=title))


def vote(proposal_id: int, option: int = YES) -> tx_pb2.Msg:
    return tx_pb2.Msg(cast_vote=tx_pb2.CastVote(proposal_id=proposal_id, option=option))  # type: ignore[arg-type]


def validator(pubkey: bytes, power: int, name: str = "") -> tx_pb2.ProposalAction:
    return tx_pb2.ProposalAction(
        set_validator=tx_pb2.SetValidator(pubkey=pubkey, power=power, name=name)
    )


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


def proposal(driver: Driver, proposal_id: int) -> state_pb2.Proposal:
    answer = driver.query("/members/proposal", {"id": proposal_id})
    assert answer.code == 0, answer.log
    return state_pb2.Proposal.FromString(answer.value)


def passes(
    driver: Driver, action: tx_pb2.ProposalAction
) -> tuple[state_pb2.Proposal, list[tuple[bytes, int]]]:
    """Submit ``action`` and have uni and acme vote yes: the decided proposal and the validator
    updates of the block that decided it."""
    proposal_id = next_id(driver)
    driver.ok("uni-admin", propose(action), vote(proposal_id))
    response = driver.block([driver.sign("acme-admin", [vote(proposal_id)])])
    updates = [(u.pub_key.ed25519, u.power) for u in response.validator_updates]
    return proposal(driver, proposal_id), updates


def next_id(driver: Driver) -> int:
    raw = driver.store.get(keys.LAST_PROPOSAL)
    return (0 if raw is None else int.from_bytes(raw, "big")) + 1


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[Driver]:
    driver = started(tmp_path, params={"voting_period_blocks": 5})
    yield driver
    driver.close()


def test_proposal_ids_exhausted_refuse_a_new_proposal(gov: Driver) -> None:
    gov.app.pending.set(keys.LAST_PROPOSAL, MAX_U64.to_bytes(8, "big"))
    gov.block([])
    expect(gov.run("uni-admin", propose(validator(bytes(32), 1))), errors.IDS_EXHAUSTED)


def test_a_voting_period_past_the_last_height_refuses_the_proposal(gov: Driver) -> None:
    params = state_pb2.Params()
    params.CopyFrom(DEFAULT_PARAMS)
    params.voting_period_blocks = MAX_U64  # as no range check lets it be: written directly
    gov.app.pending.set(keys.PARAMS, params.SerializeToString())
    gov.block([])
    expect(gov.run("uni-admin", propose(validator(bytes(32), 1))), errors.INVALID_PROPOSAL)


@pytest.mark.parametrize("proposal_id", [0, 2, MAX_U64])
def test_votes_on_missing_proposals_are_refused(gov: Driver, proposal_id: int) -> None:
    gov.ok("uni-admin", propose(validator(bytes(32), 1)))
    expect(gov.run("acme-admin", vote(proposal_id)), errors.PROPOSAL_NOT_FOUND)


@pytest.mark.parametrize("option", [0, 4, 2**31 - 1])
def test_unknown_vote_options_are_refused(gov: Driver, option: int) -> None:
    gov.ok("uni-admin", propose(validator(bytes(32), 1)))
    expect(gov.run("acme-admin", vote(1, option)), errors.INVALID_VOTE)


VALIDATORS = [
    ("negative", validator(bytes(32), -1)),
    ("int64-min", validator(bytes(32), -(2**63))),
    ("above-max", validator(bytes(32), MAX_POWER + 1)),
    ("int64-max", validator(bytes(32), 2**63 - 1)),
    ("short-key", validator(bytes(31), 1)),
    ("long-key", validator(bytes(33), 1)),
    ("non-ascii-name", validator(bytes(32), 1, "n\u00e9")),
    ("newline-name", validator(bytes(32), 1, "node\n")),
    ("long-name", validator(bytes(32), 1, "n" * 65)),
]


@pytest.mark.parametrize("action", [c[1] for c in VALIDATORS], ids=[c[0] for c in VALIDATORS])
def test_validator_changes_out_of_range_are_refused(
    gov: Driver, action: tx_pb2.ProposalAction
) -> None:
    expect(gov.run("uni-admin", propose(action)), errors.INVALID_VALIDATOR)


def test_the_largest_power_reaches_the_engine(gov: Driver) -> None:
    decided, updates = passes(gov, validator(bytes(32), MAX_POWER, "big-node"))
    assert decided.status == state_pb2.PROPOSAL_STATUS_PASSED, decided.result
    assert updates == [(bytes(32), MAX_POWER)]


def test_a_change_past_the_engines_total_power_fails_and_reaches_no_engine(gov: Driver) -> None:
    big = state_pb2.Validator(pubkey=b"\x07" * 32, power=MAX_TOTAL_POWER - MAX_POWER)
    gov.app.pending.set(keys.validator_key(big.pubkey), big.SerializeToString())
    gov.block([])
    fits, updates = passes(gov, validator(b"\x01" * 32, 1))
    assert fits.status == state_pb2.PROPOSAL_STATUS_PASSED, fits.result
    assert updates == [(b"\x01" * 32, 1)]
    over, updates = passes(gov, validator(b"\x02" * 32, MAX_POWER))
    assert over.status == state_pb2.PROPOSAL_STATUS_FAILED
    assert over.result.startswith("invalid_validator:") and updates == []
    exact, updates = passes(gov, validator(b"\x01" * 32, MAX_POWER))  # the total is the max
    assert exact.status == state_pb2.PROPOSAL_STATUS_PASSED, exact.result
    assert updates == [(b"\x01" * 32, MAX_POWER)]


ODD_ORGS = ["", "uni\n", "\nuni", "un\u0131", "uni\u00a0", "UNI", "u", "x" * 33]
ODD_ADDRESSES = ["", "a" * 40 + "\n", "A" * 40, "a" * 39, "a" * 41, "\u0661" * 40, "g" * 40]
SPEC = tx_pb2.AccountSpec(
    name="newcomer", pubkey=make_account("newcomer", "beta").pubkey, roles=["consumer"]
)


def add_org(**overrides: Any) -> tx_pb2.ProposalAction:
    fields: dict[str, Any] = {"id": "beta", "name": "Beta Labs", "kind": "commercial"}
    fields.update(overrides)
    return tx_pb2.ProposalAction(add_org=tx_pb2.AddOrg(**fields))


def attributes(**values: Any) -> tx_pb2.ValueMap:
    return tx_pb2.ValueMap(
        entries=[
            tx_pb2.ValueEntry(
                key=k,
                value=tx_pb2.Value(int_value=v)
                if isinstance(v, int)
                else tx_pb2.Value(str_value=v),
            )
            for k, v in sorted(values.items())
        ]
    )


ACTIONS = [
    *[
        pytest.param(tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org=o)), id=f"remove-{i}")
        for i, o in enumerate(ODD_ORGS)
    ],
    *[
        pytest.param(
            tx_pb2.ProposalAction(revoke_account=tx_pb2.RevokeAccount(address=a)), id=f"revoke-{i}"
        )
        for i, a in enumerate(ODD_ADDRESSES)
    ],
    *[
        pytest.param(
            tx_pb2.ProposalAction(set_roles=tx_pb2.SetRoles(address=a, roles=["consumer"])),
            id=f"roles-{i}",
        )
        for i, a in enumerate(ODD_ADDRESSES)
    ],
    *[
        pytest.param(
            tx_pb2.ProposalAction(add_account=tx_pb2.AddAccount(org=o, account=SPEC)),
            id=f"add-account-{i}",
        )
        for i, o in enumerate(ODD_ORGS)
    ],
    *[pytest.param(add_org(id=o), id=f"add-org-id-{i}") for i, o in enumerate(ODD_ORGS)],
    pytest.param(add_org(name=""), id="add-org-empty-name"),
    pytest.param(add_org(name="n" * 257), id="add-org-long-name"),
    pytest.param(add_org(name="\u00e9" * 129), id="add-org-long-utf8-name"),
    pytest.param(add_org(kind="commercial\n"), id="add-org-kind-newline"),
    pytest.param(add_org(attributes=attributes(Tier=1)), id="attribute-uppercase"),
    pytest.param(add_org(attributes=attributes(**{"tier\n": 1})), id="attribute-newline"),
    pytest.param(add_org(attributes=attributes(**{"t\u0131er": 1})), id="attribute-non-ascii"),
    pytest.param(add_org(attributes=attributes(**{"": 1})), id="attribute-empty"),
    pytest.param(add_org(attributes=attributes(**{"1tier": 1})), id="attribute-digit-first"),
    pytest.param(add_org(attributes=attributes(note="x" * 257)), id="attribute-long-text"),
    pytest.param(
        add_org(attributes=attributes(**{f"a{i}": i for i in range(65)})), id="attributes-65"
    ),
    pytest.param(add_org(accounts=[SPEC, SPEC]), id="accounts-twice"),
    pytest.param(
        add_org(accounts=[tx_pb2.AccountSpec(name="n\n", pubkey=SPEC.pubkey, roles=["admin"])]),
        id="account-name-newline",
    ),
]


@pytest.mark.parametrize("action", ACTIONS)
def test_malformed_actions_are_refused_before_they_are_stored(
    gov: Driver, action: tx_pb2.ProposalAction
) -> None:
    result = gov.run("uni-admin", propose(action))
    expect(result, errors.INVALID_PROPOSAL)
    assert result.log.isascii() and result.log.isprintable(), result.log
    assert next_id(gov) == 1


def test_the_largest_valid_org_is_added(gov: Driver) -> None:
    action = add_org(
        id="b" * 32,
        name="\u00e9" * 128,
        attributes=attributes(**{f"a{i:02d}": -(2**63) + 1 + i for i in range(63)}, note="x" * 256),
        accounts=[
            tx_pb2.AccountSpec(name="n" * 64, pubkey=SPEC.pubkey, roles=["admin", "publisher"])
        ],
    )
    decided, _ = passes(gov, action)
    assert decided.status == state_pb2.PROPOSAL_STATUS_PASSED, decided.result
    org = state_pb2.Org.FromString(gov.query("/members/org", {"id": "b" * 32}).value)
    assert len(org.attributes) == 64 and org.name == "\u00e9" * 128


def test_a_failed_actions_result_is_the_same_text_on_every_python(gov: Driver) -> None:
    decided, _ = passes(gov, add_org(id="acme"))
    assert decided.status == state_pb2.PROPOSAL_STATUS_FAILED
    assert decided.result == "org_exists: organisation 'acme' exists"


# --- spam: open proposals per organisation, and what an end of block recounts ----------------


def test_an_org_has_at_most_max_open_proposals(tmp_path: Path) -> None:
    gov = started(tmp_path, params={"voting_period_blocks": 100})
    action = validator(bytes(32), 1)
    gov.ok("uni-admin", *[propose(action) for _ in range(MAX_OPEN_PER_ORG)])
    expect(gov.run("uni-admin", propose(action)), errors.TOO_MANY_OPEN)
    gov.ok("acme-admin", propose(action))  # another organisation's bound is its own
    gov.ok("uni-admin", vote(1))
    gov.ok("acme-admin", vote(1))
    assert proposal(gov, 1).status == state_pb2.PROPOSAL_STATUS_PASSED
    gov.ok("uni-admin", propose(action))  # a decided proposal frees its place
    expect(gov.run("uni-admin", propose(action)), errors.TOO_MANY_OPEN)
    gov.close()


def test_expired_proposals_free_their_places(gov: Driver) -> None:
    action = validator(bytes(32), 1)
    gov.ok("uni-admin", *[propose(action) for _ in range(MAX_OPEN_PER_ORG)])
    for _ in range(5):
        gov.block([])
    assert proposal(gov, MAX_OPEN_PER_ORG).status == state_pb2.PROPOSAL_STATUS_EXPIRED
    gov.ok("uni-admin", *[propose(action) for _ in range(MAX_OPEN_PER_ORG)])


class CountingReader:
    """A store reader that counts the proposal records read through it."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.proposal_reads = 0

    def get(self, key: bytes) -> bytes | None:
        if key.startswith(keys.PROPOSAL):
            self.proposal_reads += 1
        return self.base.get(key)  # type: ignore[no-any-return]

    def iterate(self, prefix: bytes, start_after: bytes | None = None) -> Iterator[Any]:
        return self.base.iterate(prefix, start_after)  # type: ignore[no-any-return]


def proposals_read_by_end_block(driver: Driver, txs: list[bytes]) -> int:
    """Finalize ``txs`` on a counting view of the committed state (nothing is committed)."""
    reader = CountingReader(driver.store)
    state = Overlay(reader)
    env = BlockEnv(driver.chain_id, driver.height + 1, driver.time + 5)
    for raw in txs:
        assert execute_tx(state, env, raw).code == 0
    before = reader.proposal_reads
    end_block(state, env)
    return reader.proposal_reads - before


def test_an_end_of_block_reads_only_the_proposals_that_changed(gov: Driver) -> None:
    action = validator(bytes(32), 1)
    gov.ok("uni-admin", *[propose(action) for _ in range(MAX_OPEN_PER_ORG)])
    gov.ok("acme-admin", *[propose(action) for _ in range(MAX_OPEN_PER_ORG)])
    gov.block([])
    assert proposals_read_by_end_block(gov, []) == 0
    one_vote = gov.sign(
        "acme-admin", [vote(3, tx_pb2.VOTE_OPTION_NO)], nonce=gov["acme-admin"].nonce
    )
    assert proposals_read_by_end_block(gov, [one_vote]) == 1


def test_a_parameter_change_recounts_every_open_proposal(gov: Driver) -> None:
    gov.ok("uni-admin", propose(validator(bytes(32), 1)), vote(1))
    gov.ok("acme-admin", vote(1, tx_pb2.VOTE_OPTION_NO))
    assert proposal(gov, 1).status == state_pb2.PROPOSAL_STATUS_VOTING  # 1 yes of 3 at 66%
    lower = tx_pb2.SetParams(changes=[tx_pb2.ParamChange(name="vote_threshold_percent", value=33)])
    changed, _ = passes(gov, tx_pb2.ProposalAction(set_params=lower))
    assert changed.status == state_pb2.PROPOSAL_STATUS_PASSED, changed.result
    gov.block([])  # the next block counts every open proposal under the new threshold
    decided = proposal(gov, 1)
    assert decided.status == state_pb2.PROPOSAL_STATUS_PASSED
    assert decided.decided_height == changed.decided_height + 1 < decided.voting_end_height


def test_a_membership_change_recounts_every_open_proposal(gov: Driver) -> None:
    gov.ok("uni-admin", propose(validator(bytes(32), 1)), vote(1))
    gov.ok("acme-admin", vote(1, tx_pb2.VOTE_OPTION_ABSTAIN))
    assert proposal(gov, 1).status == state_pb2.PROPOSAL_STATUS_VOTING  # openml has not voted
    removed, _ = passes(gov, tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="openml")))
    assert removed.status == state_pb2.PROPOSAL_STATUS_PASSED, removed.result
    gov.block([])  # every member has now voted
    decided = proposal(gov, 1)
    assert decided.status == state_pb2.PROPOSAL_STATUS_PASSED
    assert (decided.tally.eligible, decided.decided_height) == (2, removed.decided_height + 1)
