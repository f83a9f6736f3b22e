"""The members section of an exported chain: removed organisations, retired keys, proposals,
votes, validators and the count fingerprint, each malformed kind refused naming its field."""

from __future__ import annotations

from typing import Any

import pytest
from genesis_scenario import changed, doubled, exported

from app.core.genesis import GenesisContext, GenesisError
from app.machine import parse_genesis
from app.members import genesis

SHORT_KEY = "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA=="


def _retire_a_live_account() -> dict[str, Any]:
    state = exported()
    live = parse_genesis(state).accounts[0].address
    state["members"]["retired_accounts"][0]["address"] = live
    return state


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("section-not-object", changed("members", []), "members"),
    ("unknown-field", changed("members.bogus", 1), "members.bogus"),
    ("removed-not-list", changed("members.removed_orgs", {}), "members.removed_orgs"),
    ("removed-id", changed("members.removed_orgs[0].id", "New"), "members.removed_orgs[0].id"),
    (
        "removed-is-member",
        changed("members.removed_orgs[0].id", "uni"),
        "members.removed_orgs[0].id",
    ),
    ("removed-twice", doubled("members.removed_orgs"), "members.removed_orgs[1].id"),
    ("removed-kind", changed("members.removed_orgs[0].kind", "x"), "members.removed_orgs[0].kind"),
    ("account-of-removed", changed("accounts[0].org", "newco"), "accounts[0].org"),
    (
        "retired-address",
        changed("members.retired_accounts[0].address", "XYZ"),
        "members.retired_accounts[0].address",
    ),
    (
        "retired-nonce",
        changed("members.retired_accounts[0].nonce", -1),
        "members.retired_accounts[0].nonce",
    ),
    ("retired-live", _retire_a_live_account(), "members.retired_accounts[0].address"),
    ("retired-twice", doubled("members.retired_accounts"), "members.retired_accounts[2].address"),
    ("last-id-below", changed("members.last_proposal_id", 1), "members.proposals[1].id"),
    ("last-id-text", changed("members.last_proposal_id", "6"), "members.last_proposal_id"),
    ("proposal-twice", doubled("members.proposals", 2), "members.proposals[6].id"),
    ("proposal-id-zero", changed("members.proposals[0].id", "0"), "members.proposals[0].id"),
    ("proposal-field", changed("members.proposals[0].bogus", 1), "members.proposals[0]"),
    ("proposal-type", changed("members.proposals[0].submit_height", "x"), "members.proposals[0]"),
    (
        "proposal-negative",
        changed("members.proposals[0].submit_height", -1),
        "members.proposals[0]",
    ),
    ("proposal-not-object", changed("members.proposals[0]", 7), "members.proposals[0]"),
    (
        "proposal-status",
        changed("members.proposals[0].status", "PROPOSAL_STATUS_UNSPECIFIED"),
        "members.proposals[0].status",
    ),
    (
        "proposal-org",
        changed("members.proposals[0].proposer_org", "nobody"),
        "members.proposals[0].proposer_org",
    ),
    (
        "vote-option",
        changed("members.votes[0].option", "VOTE_OPTION_MAYBE"),
        "members.votes[0].option",
    ),
    ("vote-option-number", changed("members.votes[0].option", 1), "members.votes[0].option"),
    ("vote-proposal", changed("members.votes[0].proposal_id", 99), "members.votes[0].proposal_id"),
    ("vote-org", changed("members.votes[0].org", "nobody"), "members.votes[0].org"),
    ("vote-field", changed("members.votes[0].weight", 2), "members.votes[0].weight"),
    ("vote-twice", doubled("members.votes"), "members.votes[11]"),
    (
        "validator-key",
        changed("members.validators[0].pubkey", SHORT_KEY),
        "members.validators[0].pubkey",
    ),
    ("validator-base64", changed("members.validators[0].pubkey", "A"), "members.validators[0]"),
    ("validator-power", changed("members.validators[0].power", "0"), "members.validators[0].power"),
    ("validator-name", changed("members.validators[0].name", "-x"), "members.validators[0].name"),
    ("validator-twice", doubled("members.validators"), "members.validators[1].pubkey"),
    ("counted-hex", changed("members.counted_under", "zz"), "members.counted_under"),
    ("counted-size", changed("members.counted_under", "ab"), "members.counted_under"),
    ("counted-upper", changed("members.counted_under", "AB" * 32), "members.counted_under"),
]


@pytest.mark.parametrize(("state", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_members_section_is_refused(state: dict[str, Any], field: str) -> None:
    with pytest.raises(GenesisError) as refused:
        parse_genesis(state)
    assert refused.value.field == field
    assert str(refused.value).startswith(field + ": ")


def test_the_exported_members_section_is_what_validate_reads() -> None:
    state = exported()
    parsed = genesis.validate({k: state[k] for k in genesis.SECTIONS}, context := GenesisContext())
    assert "newco" in context.removed_orgs and "newco" not in context.orgs
    assert [p.id for p in parsed.proposals] == list(range(1, 7))
    assert parsed.proposals[-1].status == 1  # the last one is still open
    assert [(v.name, v.power) for v in parsed.validators] == [("val-a", 5)]
    assert len(parsed.counted_under) == 32


def test_the_members_section_may_be_left_out() -> None:
    state = exported()
    part = {"orgs": state["orgs"], "accounts": state["accounts"]}
    parsed = genesis.validate(part, GenesisContext())
    assert (parsed.proposals, parsed.removed_orgs, parsed.validators) == ((), (), ())
