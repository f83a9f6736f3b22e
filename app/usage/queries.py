"""Queries of receipts, licensor totals, and the dry-run license evaluation."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from app.core.errors import BAD_QUERY, NOT_FOUND, TxError
from app.core.gas import GasMeter, base_gas
from app.core.pause import pause_point
from app.core.query import (
    Handler,
    QueryAnswer,
    id_cursor,
    int_param,
    limit_param,
    record,
    text_param,
)
from app.core.text import quote
from app.members.keeper import MembersReader
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Reader
from app.usage import keys
from app.usage.decision import evaluate_use
from app.usage.expected import LeaseBook
from app.usage.keeper import UsageReader
from app.usage.payment import royalty_shares

MAX_SCAN = 5000
MAX_U64 = 2**64 - 1
FILTERS = ("model", "version", "consumer", "consumer_org", "licensor")


def receipt(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/usage/receipt {"id"}: one receipt."""
    receipt_id = int_param(params, "id", 0, MAX_U64, minimum=1)
    return record(state, keys.receipt_key(receipt_id), f"receipt {receipt_id}")


def receipts(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/usage/receipts: receipts in id (= height) order, filtered by any of model, version
    (with model), consumer (address), consumer_org, licensor, from_height, to_height.

    The most selective index is scanned (the height index when no other filter is given) and the
    other filters applied. Ids grow with height in every index, so the scan stops at the first
    receipt above to_height. A page also ends after MAX_SCAN scanned receipts, with ``next`` set
    to resume where it stopped.
    """
    filters = {name: text_param(params, name, required=False) for name in FILTERS}
    if filters["version"] and not filters["model"]:
        raise TxError(BAD_QUERY, "filtering by version needs the model too")
    low = int_param(params, "from_height", 0, MAX_U64)
    high = int_param(params, "to_height", MAX_U64, MAX_U64)
    after = id_cursor(params)
    limit = limit_param(params)
    reader = UsageReader(state)
    out = state_pb2.Page()
    for scanned, receipt_id in enumerate(_receipt_ids(state, reader, filters, low, after)):
        pause_point()
        found = reader.receipt(receipt_id)
        if found is None or found.height > high:
            break
        if scanned == MAX_SCAN or len(out.items) == limit:
            out.next = str(after)
            break
        if _matches(found, filters, low, high):
            out.items.append(found.SerializeToString())
        after = receipt_id
    return QueryAnswer(out.SerializeToString())


def _receipt_ids(
    state: Reader, reader: UsageReader, filters: dict[str, str], low: int, after: int
) -> Iterator[int]:
    """Receipt ids after ``after`` from the most selective index."""
    prefix = _index(filters)
    if prefix is not None:
        yield from reader.receipt_ids(prefix, after)
        return
    starts = [keys.height_prefix(low - 1) + b"\xff" * 8] if low else []
    previous = reader.receipt(after) if after else None
    if previous is not None:
        starts.append(keys.height_prefix(previous.height) + keys.u64(after))
    for key, _ in state.iterate(keys.BY_HEIGHT, max(starts) if starts else None):
        yield int.from_bytes(key[-8:], "big")


def _index(filters: dict[str, str]) -> bytes | None:
    """The prefix of the index that answers the filters; None for the height index."""
    if filters["version"]:
        return keys.index_prefix(keys.BY_VERSION, filters["model"], filters["version"])
    for name, index in (
        ("model", keys.BY_MODEL),
        ("consumer", keys.BY_CONSUMER),
        ("consumer_org", keys.BY_CONSUMER_ORG),
        ("licensor", keys.BY_LICENSOR),
    ):
        if filters[name]:
            return keys.index_prefix(index, filters[name])
    return None


def _matches(r: state_pb2.Receipt, filters: dict[str, str], low: int, high: int) -> bool:
    values = {
        "model": r.model,
        "version": r.version,
        "consumer": r.consumer,
        "consumer_org": r.consumer_org,
        "licensor": r.licensor_org,
    }
    wanted = all(not filters[k] or filters[k] == values[k] for k in FILTERS)
    return wanted and low <= r.height <= high


def totals(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/usage/totals {"licensor"}: receipts, quantity and fees a licensor has earned."""
    org = text_param(params, "licensor")
    return QueryAnswer(UsageReader(state).totals(org).SerializeToString())


def evaluate(
    state: Reader, params: Mapping[str, Any], leases: LeaseBook | None = None
) -> QueryAnswer:
    """/licenses/evaluate {"address", "model", "version", "purpose", "quantity", "height",
    "time"}: what the license would decide for this account in a block at that height and unix
    time (a dry run; changes nothing). Clients pass the next height and the latest block time
    from the engine's /status. It is metered as the first transaction of a block (nothing
    loaded yet, app.usage.decision): its answer, gas and refusals are that use's."""
    address = text_param(params, "address")
    account = MembersReader(state).account(address)
    if account is None:
        raise TxError(NOT_FOUND, f"account {quote(address, 80)} not found")
    use = tx_pb2.Use(
        model=text_param(params, "model"),
        version=text_param(params, "version"),
        purpose=text_param(params, "purpose"),
        quantity=int_param(params, "quantity", 1, 2**32, minimum=1),
    )
    height = int_param(params, "height", 0, MAX_U64)
    time = int_param(params, "time", 0, 2**63 - 1)
    meter = GasMeter(pins=False)
    found = evaluate_use(state, account, use, height, time, meter, leases)
    d = found.decision
    answer = state_pb2.Decision(
        allowed=d.allowed,
        fee=d.fee,
        note=d.note,
        reason=d.reason,
        gas_used=found.gas_used,
        license=found.license.id,
        code_hash=found.license.code_hash,
        royalties=royalty_shares(d.fee, found.royalties)[0] if d.allowed else [],
        tx_gas_used=base_gas(1) + meter.used,
    )
    return QueryAnswer(answer.SerializeToString())


QUERIES: dict[str, Handler] = {
    "/usage/receipt": receipt,
    "/usage/receipts": receipts,
    "/usage/totals": totals,
    "/licenses/evaluate": evaluate,
}


def queries(leases: LeaseBook) -> dict[str, Handler]:
    """Every query path of the usage domain; the dry run consults ``leases`` as a block does."""
    return {**QUERIES, "/licenses/evaluate": functools.partial(evaluate, leases=leases)}
