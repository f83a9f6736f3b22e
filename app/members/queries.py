"""Queries of the consortium: organisations, accounts, parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.errors import BAD_QUERY, NOT_FOUND, TxError
from app.core.query import (
    Handler,
    QueryAnswer,
    int_param,
    limit_param,
    named_records,
    numbered_records,
    page,
    record,
    text_param,
)
from app.core.text import quote
from app.members import keys
from app.members.keeper import MembersReader
from app.members.tally import count
from app.state import Reader

HEX = frozenset("0123456789abcdef")
MAX_CURSOR_HEX = 128


def org(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/members/org {"id"}: one organisation."""
    org_id = text_param(params, "id")
    return record(state, keys.org_key(org_id), f"organisation {quote(org_id, 80)}")


def orgs(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/members/orgs {"after", "limit"}: organisations in id order."""
    return named_records(state, keys.ORG, params)


def account(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/members/account {"address"}: one account."""
    address = text_param(params, "address")
    return record(state, keys.account_key(address), f"account {quote(address, 80)}")


def accounts(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/members/accounts {"org", "after", "limit"}: the accounts of an organisation."""
    org_id = text_param(params, "org")
    after = text_param(params, "after", required=False)
    prefix = keys.org_account_key(org_id, "")
    start = keys.org_account_key(org_id, after) if after else None

    def items() -> Any:
        for key, _ in state.iterate(prefix, start):
            address = key[len(prefix) :].decode()
            raw = state.get(keys.account_key(address))
            if raw is not None:
                yield address, raw

    return page(items(), limit_param(params))


def params_query(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/members/params: the consortium's parameters."""
    return record(state, keys.PARAMS, "parameters")


def proposal(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/members/proposal {"id"}: one proposal with its final tally once decided."""
    proposal_id = int_param(params, "id", 0, 2**64 - 1, minimum=1)
    return record(state, keys.proposal_key(proposal_id), f"proposal {proposal_id}")


def proposals(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/members/proposals {"after", "limit"}: proposals in id order."""
    return numbered_records(state, keys.PROPOSAL, params)


def votes(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/members/votes {"id"}: the current tally of a proposal, counting current members only."""
    proposal_id = int_param(params, "id", 0, 2**64 - 1, minimum=1)
    reader = MembersReader(state)
    if reader.proposal(proposal_id) is None:
        raise TxError(NOT_FOUND, f"proposal {proposal_id} not found")
    tally = count(reader.votes(proposal_id), reader.org_ids())
    return QueryAnswer(tally.SerializeToString())


def validators(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/members/validators {"after", "limit"}: the validator set as governance last set it, in
    public key order; the cursor is the key in hex."""
    after = text_param(params, "after", required=False)
    if len(after) > MAX_CURSOR_HEX or any(c not in HEX for c in after) or len(after) % 2:
        raise TxError(BAD_QUERY, "'after' is the 'next' of the previous page")
    start = keys.VALIDATOR + bytes.fromhex(after) if after else None
    items = ((k[len(keys.VALIDATOR) :].hex(), v) for k, v in state.iterate(keys.VALIDATOR, start))
    return page(items, limit_param(params))


QUERIES: dict[str, Handler] = {
    "/members/proposal": proposal,
    "/members/proposals": proposals,
    "/members/votes": votes,
    "/members/validators": validators,
    "/members/org": org,
    "/members/orgs": orgs,
    "/members/account": account,
    "/members/accounts": accounts,
    "/members/params": params_query,
}
