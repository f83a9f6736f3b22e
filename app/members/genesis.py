"""The members domain's genesis: the consortium (``orgs``, ``accounts``, ``params``) and what
governance made of it since (``members``: removed organisations, retired account keys,
proposals and votes, the validators' records), validated field by field before anything is
written.

The same validation runs in ``modelgov genesis`` (before any node starts) and in InitChain, so a
malformed consortium is refused with the field and the reason instead of halting a chain. A
consortium file names ``orgs``, ``accounts`` and ``params``; an exported chain adds ``nonce`` to
its accounts and the ``members`` section. Account names may repeat (governance can add an
account under a name another has); the consortium file's own rule that they do not is
``chain.genesis``'s, where a name picks a key of the keyring.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.crypto import address_of, is_valid_pubkey
from app.core.genesis import MAX_TEXT as MAX_TEXT
from app.core.genesis import (
    GenesisContext,
    check_last_id,
    check_size,
    hex_bytes,
    integer,
    listed,
    no_unknown,
    obj,
    record,
    section,
    text,
    to_json,
)
from app.core.genesis import GenesisError as GenesisError
from app.core.ids import last_id
from app.core.names import ORG_ID
from app.core.text import quote
from app.members import keys
from app.members.keeper import DEFAULT_PARAMS, RETIRED_GAP, MembersKeeper, MembersReader
from app.members.params import PARAM_FIELDS, out_of_range
from app.members.roles import ALL_ROLES, ORG_KINDS
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Overlay, Reader

ACCOUNT_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
ATTRIBUTE_KEY = re.compile(r"\A[a-z][a-z0-9_]{0,63}\Z")
ADDRESS = re.compile(r"\A[0-9a-f]{40}\Z")
MAX_ATTRIBUTES = 64
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
ED25519_KEY_BYTES = 32
COUNTED_BYTES = 32
VOTES = ("VOTE_OPTION_YES", "VOTE_OPTION_NO", "VOTE_OPTION_ABSTAIN")

SECTIONS: tuple[str, ...] = ("orgs", "accounts", "params", "members")
"""The members domain's sections of genesis ``app_state``."""
HISTORY = (
    "removed_orgs",
    "retired_accounts",
    "last_proposal_id",
    "proposals",
    "votes",
    "validators",
    "counted_under",
)
"""The fields of the ``members`` section: what governance changed since the consortium began."""


@dataclass(frozen=True)
class Consortium:
    """A validated members part of genesis, sorted, ready to be written."""

    orgs: tuple[state_pb2.Org, ...]
    accounts: tuple[state_pb2.Account, ...]
    params: state_pb2.Params
    removed_orgs: tuple[state_pb2.Org, ...] = ()
    retired: tuple[tuple[str, int], ...] = ()
    """(address, next nonce) of the keys whose accounts were deleted."""
    last_proposal_id: int = 0
    proposals: tuple[state_pb2.Proposal, ...] = ()
    votes: tuple[tuple[int, str, int], ...] = ()
    """(proposal id, organisation, VoteOption)."""
    validators: tuple[state_pb2.Validator, ...] = ()
    """The validators' records with their names; empty: InitChain writes the engine's."""
    counted_under: bytes = b""
    """The fingerprint the open proposals were last counted under (app.members.governance)."""


def default() -> dict[str, Any]:
    """The members sections of a chain without records (a consortium needs an org to start)."""
    return {"orgs": [], "accounts": [], "params": {}, "members": {}}


def validate(part: Mapping[str, Any], context: GenesisContext) -> Consortium:
    """Validate the members sections (the machine checks which sections there are); the
    members and removed organisations join ``context``. Raises GenesisError naming the first
    bad field."""
    orgs = _parse_orgs(_required(part, "orgs"))
    history = section(part, "members", HISTORY)
    removed = _parse_removed(listed(history, "removed_orgs", "members"), {o.id for o in orgs})
    context.orgs.update(o.id for o in orgs)
    context.removed_orgs.update(o.id for o in removed)
    accounts = _parse_accounts(_required(part, "accounts"), context.orgs)
    retired = _parse_retired(listed(history, "retired_accounts", "members"), accounts)
    _known_accounts(context, accounts, retired)
    last = integer(history, "last_proposal_id", "members")
    proposals = _parse_proposals(listed(history, "proposals", "members"), last, context)
    return Consortium(
        orgs=tuple(sorted(orgs, key=lambda o: o.id)),
        accounts=tuple(sorted(accounts, key=lambda a: a.address)),
        params=_parse_params(part.get("params", {})),
        removed_orgs=tuple(sorted(removed, key=lambda o: o.id)),
        retired=retired,
        last_proposal_id=last,
        proposals=tuple(sorted(proposals, key=lambda p: p.id)),
        votes=_parse_votes(listed(history, "votes", "members"), proposals, context),
        validators=_parse_validators(listed(history, "validators", "members")),
        counted_under=hex_bytes(
            history.get("counted_under", ""), "members.counted_under", (0, COUNTED_BYTES)
        ),
    )


def _known_accounts(
    context: GenesisContext,
    accounts: list[state_pb2.Account],
    retired: tuple[tuple[str, int], ...],
) -> None:
    """The accounts join ``context`` (for records that name an account beside its
    organisation), and with them the keys whose account was deleted at some time: retired
    keys, and keys admitted again since (``reuse_nonce`` starts them past RETIRED_GAP)."""
    context.accounts.update((a.address, a.org) for a in accounts)
    context.former_accounts.update(address for address, _ in retired)
    context.former_accounts.update(a.address for a in accounts if a.nonce >= RETIRED_GAP)


def init(state: Overlay, parsed: Consortium) -> None:
    """Write the validated members part (the engine's validators, when the part names none,
    are the machine's to write)."""
    keeper = MembersKeeper(state)
    init_genesis(keeper, parsed)
    for removed in parsed.removed_orgs:
        keeper.restore_removed_org(removed)
    for address, nonce in parsed.retired:
        keeper.restore_retired(address, nonce)
    keeper.restore_last_proposal(parsed.last_proposal_id)
    for proposal in parsed.proposals:
        keeper.restore_proposal(proposal)
    for proposal_id, org, option in parsed.votes:
        keeper.restore_vote(proposal_id, org, option)
    for validator in parsed.validators:
        keeper.set_validator(validator)
    if parsed.counted_under:
        keeper.set_counted_under(parsed.counted_under)


def init_genesis(keeper: MembersKeeper, consortium: Consortium) -> None:
    """Write a validated consortium's parameters, organisations and accounts."""
    keeper.set_params(consortium.params)
    for org in consortium.orgs:
        keeper.set_org(org)
    for account in consortium.accounts:
        keeper.set_account(account)


def export(state: Reader) -> dict[str, Any]:
    """Every record of the members domain, in store-key order."""
    params = MembersReader(state).params()
    return {
        "orgs": [_org_json(state_pb2.Org.FromString(v)) for _, v in state.iterate(keys.ORG)],
        "accounts": [
            _account_json(state_pb2.Account.FromString(v)) for _, v in state.iterate(keys.ACCOUNT)
        ],
        "params": {name: getattr(params, name) for name in PARAM_FIELDS},
        "members": {
            "removed_orgs": [
                _org_json(state_pb2.Org.FromString(v)) for _, v in state.iterate(keys.REMOVED)
            ],
            "retired_accounts": [
                {"address": k[len(keys.RETIRED) :].decode(), "nonce": int.from_bytes(v, "big")}
                for k, v in state.iterate(keys.RETIRED)
            ],
            "last_proposal_id": last_id(state, keys.LAST_PROPOSAL),
            "proposals": [
                to_json(state_pb2.Proposal.FromString(v)) for _, v in state.iterate(keys.PROPOSAL)
            ],
            "votes": [_vote_json(k, v) for k, v in state.iterate(keys.VOTE)],
            "validators": [
                to_json(state_pb2.Validator.FromString(v)) for _, v in state.iterate(keys.VALIDATOR)
            ],
            "counted_under": (state.get(keys.COUNTED) or b"").hex(),
        },
    }


# --- organisations and accounts -----------------------------------------------------------------


def _required(part: Mapping[str, Any], name: str) -> list[Any]:
    value = part.get(name)
    if not isinstance(value, list):
        raise GenesisError(name, "must be a list")
    return value


def _parse_orgs(items: list[Any]) -> list[state_pb2.Org]:
    if not items:
        raise GenesisError("orgs", "a consortium needs at least one organisation")
    return _parse_org_list(items, "orgs", set())


def _parse_removed(items: list[Any], members: set[str]) -> list[state_pb2.Org]:
    return _parse_org_list(items, "members.removed_orgs", members)


def _parse_org_list(items: list[Any], where: str, taken: set[str]) -> list[state_pb2.Org]:
    """Organisation records; an id may appear once here and not at all in ``taken``."""
    orgs: dict[str, state_pb2.Org] = {}
    for i, item in enumerate(items):
        org = _parse_org(item, f"{where}[{i}]")
        if org.id in orgs or org.id in taken:
            raise GenesisError(
                f"{where}[{i}].id", f"organisation {quote(org.id, 64)} appears twice"
            )
        orgs[org.id] = org
    return list(orgs.values())


def _parse_org(item: Any, where: str) -> state_pb2.Org:
    found = obj(item, where)
    no_unknown(found, ("id", "name", "kind", "attributes"), where)
    org = text(found, "id", where, ORG_ID, "lowercase letters, digits and '-', 2-32 chars")
    kind = text(found, "kind", where)
    if kind not in ORG_KINDS:
        raise GenesisError(
            f"{where}.kind", f"{quote(kind, 64)} is not one of {', '.join(ORG_KINDS)}"
        )
    return state_pb2.Org(
        id=org,
        name=text(found, "name", where),
        kind=kind,
        attributes=_parse_attributes(found.get("attributes", {}), f"{where}.attributes"),
    )


def _parse_attributes(raw: Any, where: str) -> list[state_pb2.Attribute]:
    attributes = []
    items = obj(raw, where)
    if len(items) > MAX_ATTRIBUTES:
        raise GenesisError(where, f"at most {MAX_ATTRIBUTES} attributes")
    for key, value in sorted(items.items()):
        if not isinstance(key, str) or not ATTRIBUTE_KEY.fullmatch(key):
            raise GenesisError(f"{where}.{key}", "attribute names are snake_case identifiers")
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise GenesisError(f"{where}.{key}", "an attribute is an integer or a string")
        if isinstance(value, int):
            if not MIN_INT <= value <= MAX_INT:
                raise GenesisError(f"{where}.{key}", "integer out of the signed 64-bit range")
            attributes.append(state_pb2.Attribute(key=key, int_value=value))
        else:
            check_size(value, f"{where}.{key}")
            attributes.append(state_pb2.Attribute(key=key, text_value=value))
    return attributes


def _org_json(org: state_pb2.Org) -> dict[str, Any]:
    attributes: dict[str, int | str] = {}
    for attribute in org.attributes:
        kind = attribute.WhichOneof("value")
        attributes[attribute.key] = (
            attribute.int_value if kind == "int_value" else attribute.text_value
        )
    return {"id": org.id, "name": org.name, "kind": org.kind, "attributes": attributes}


def _parse_accounts(items: list[Any], org_ids: set[str]) -> list[state_pb2.Account]:
    accounts: dict[str, state_pb2.Account] = {}
    for i, item in enumerate(items):
        where = f"accounts[{i}]"
        found = obj(item, where)
        no_unknown(found, ("name", "org", "pubkey", "roles", "nonce"), where)
        name = text(found, "name", where, ACCOUNT_NAME, "letters, digits, '.', '_', '-'")
        org = text(found, "org", where)
        if org not in org_ids:
            raise GenesisError(f"{where}.org", f"no organisation {quote(org, 64)} in orgs")
        pubkey = _pubkey(text(found, "pubkey", where), f"{where}.pubkey")
        address = address_of(pubkey)
        if address in accounts:
            raise GenesisError(f"{where}.pubkey", "this public key belongs to another account")
        accounts[address] = state_pb2.Account(
            address=address,
            pubkey=pubkey,
            org=org,
            roles=_roles(found.get("roles"), f"{where}.roles"),
            nonce=integer(found, "nonce", where),
            name=name,
        )
    return list(accounts.values())


def _account_json(account: state_pb2.Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "org": account.org,
        "pubkey": account.pubkey.hex(),
        "roles": list(account.roles),
        "nonce": account.nonce,
    }


def _pubkey(value: str, where: str) -> bytes:
    try:
        pubkey = bytes.fromhex(value)
    except ValueError:
        raise GenesisError(where, "not hexadecimal") from None
    if not is_valid_pubkey(pubkey):
        raise GenesisError(where, "not a 33-byte compressed secp256k1 public key")
    return pubkey


def _roles(raw: Any, where: str) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise GenesisError(where, f"a non-empty list of roles from {', '.join(ALL_ROLES)}")
    for role in raw:
        if not isinstance(role, str) or role not in ALL_ROLES:
            shown = quote(role, 64) if isinstance(role, str) else f"of type {type(role).__name__}"
            raise GenesisError(where, f"unknown role {shown} (allowed: {', '.join(ALL_ROLES)})")
    if len(set(raw)) != len(raw):
        raise GenesisError(where, "a role is listed twice")
    return sorted(raw)


def _parse_params(raw: Any) -> state_pb2.Params:
    """The defaults with the given parameters, each inside its range (app.members.params)."""
    found = obj(raw, "params")
    no_unknown(found, PARAM_FIELDS, "params")
    params = state_pb2.Params()
    params.CopyFrom(DEFAULT_PARAMS)
    for name, value in sorted(found.items()):
        reason = out_of_range(name, value)
        if reason is not None:
            raise GenesisError(f"params.{name}", reason)
        setattr(params, name, value)
    return params


# --- what governance changed --------------------------------------------------------------------


def _parse_retired(
    items: list[Any], accounts: list[state_pb2.Account]
) -> tuple[tuple[str, int], ...]:
    """(address, next nonce) of deleted accounts' keys: none is a live account's (admitting a
    key again moves its nonce back into its account)."""
    live = {a.address for a in accounts}
    retired: dict[str, int] = {}
    for i, item in enumerate(items):
        where = f"members.retired_accounts[{i}]"
        found = obj(item, where)
        no_unknown(found, ("address", "nonce"), where)
        address = text(found, "address", where, ADDRESS, "40 lowercase hex digits")
        if address in retired or address in live:
            raise GenesisError(f"{where}.address", f"{address} appears twice or is an account")
        retired[address] = integer(found, "nonce", where)
    return tuple(sorted(retired.items()))


def _parse_proposals(
    items: list[Any], last: int, context: GenesisContext
) -> list[state_pb2.Proposal]:
    proposals = []
    for i, item in enumerate(items):
        where = f"members.proposals[{i}]"
        proposal, _ = record(item, state_pb2.Proposal, where)
        context.check_org(proposal.proposer_org, f"{where}.proposer_org")
        if proposal.status not in state_pb2.ProposalStatus.values() or not proposal.status:
            raise GenesisError(f"{where}.status", "not a proposal status")
        proposals.append(proposal)
    check_last_id(last, [p.id for p in proposals], "members.proposals", "proposal")
    return proposals


def _parse_votes(
    items: list[Any], proposals: list[state_pb2.Proposal], context: GenesisContext
) -> tuple[tuple[int, str, int], ...]:
    """Votes on known proposals by organisations of the consortium (members or removed: a
    removed organisation's votes on decided proposals stay), one per organisation each."""
    known = {p.id for p in proposals}
    votes: dict[tuple[int, str], int] = {}
    for i, item in enumerate(items):
        where = f"members.votes[{i}]"
        found = obj(item, where)
        no_unknown(found, ("proposal_id", "org", "option"), where)
        proposal_id = integer(found, "proposal_id", where)
        if proposal_id not in known:
            raise GenesisError(f"{where}.proposal_id", f"no proposal {proposal_id}")
        org = context.check_org(found.get("org"), f"{where}.org")
        option = found.get("option")
        if option not in VOTES:
            raise GenesisError(f"{where}.option", f"must be one of {', '.join(VOTES)}")
        if (proposal_id, org) in votes:
            raise GenesisError(where, f"{org} voted twice on proposal {proposal_id}")
        votes[(proposal_id, org)] = tx_pb2.VoteOption.Value(option)
    return tuple((p, o, option) for (p, o), option in sorted(votes.items()))


def _vote_json(key: bytes, value: bytes) -> dict[str, Any]:
    entry = key[len(keys.VOTE) :]
    return {
        "proposal_id": int.from_bytes(entry[:8], "big"),
        "org": entry[8:].decode(),
        "option": tx_pb2.VoteOption.Name(value[0]),  # type: ignore[arg-type]
    }


def _parse_validators(items: list[Any]) -> tuple[state_pb2.Validator, ...]:
    """Named validator records: ed25519 keys, each once, positive powers (the engine checks
    the set itself, and the machine that it is the engine's)."""
    validators: dict[bytes, state_pb2.Validator] = {}
    for i, item in enumerate(items):
        where = f"members.validators[{i}]"
        validator, _ = record(item, state_pb2.Validator, where)
        if len(validator.pubkey) != ED25519_KEY_BYTES:
            raise GenesisError(f"{where}.pubkey", "an ed25519 public key is 32 bytes")
        if validator.pubkey in validators:
            raise GenesisError(f"{where}.pubkey", "this validator appears twice")
        if validator.power < 1:
            raise GenesisError(f"{where}.power", "a validator's power is at least 1")
        if validator.name and not ACCOUNT_NAME.fullmatch(validator.name):
            raise GenesisError(f"{where}.name", "letters, digits, '.', '_', '-'")
        validators[validator.pubkey] = validator
    return tuple(validators[k] for k in sorted(validators))
