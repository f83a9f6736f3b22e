"""The usage domain's genesis: ``usage``, the receipts, their counter, and the period counters.

Receipts travel as their records' protobuf JSON. Their indexes, each consumer organisation's
all-time counters and each licensor's totals are sums over the receipts, which are append-only:
the keeper derives them when it writes the receipts. The period counters are listed
(``period_counters``): the period length a use counted under was its license's parameter at the
time, which no receipt records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.genesis import (
    MAX_U64,
    GenesisContext,
    GenesisError,
    check_last_id,
    integer,
    key_part,
    listed,
    no_unknown,
    obj,
    record,
    section,
    text,
    to_json,
)
from app.core.ids import last_id
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader
from app.usage import keys
from app.usage.keeper import PeriodCounter, UsageKeeper

SECTIONS: tuple[str, ...] = ("usage",)
FIELDS = ("last_receipt_id", "receipts", "period_counters")
COUNTER_FIELDS = ("kind", "org", "model", "version", "period_seconds", "period", "quantity")
PERIOD_NUMBERS = 16
"""The period length and index that end a period counter's key, 8 bytes each."""


@dataclass(frozen=True)
class Usage:
    """Validated receipts and period counters."""

    last_receipt_id: int = 0
    receipts: tuple[state_pb2.Receipt, ...] = ()
    periods: tuple[PeriodCounter, ...] = ()


def default() -> dict[str, Any]:
    """No use recorded."""
    return {"usage": {"last_receipt_id": 0, "receipts": [], "period_counters": []}}


def validate(part: Mapping[str, Any], context: GenesisContext) -> Usage:
    """Receipts of published versions between organisations of the consortium, ids up to the
    counter, every counter they sum to inside 64 bits; period counters of known versions and
    models. Raises GenesisError naming the first bad field."""
    found = section(part, "usage", FIELDS)
    last = integer(found, "last_receipt_id", "usage")
    receipts = _receipts(listed(found, "receipts", "usage"), context)
    check_last_id(last, [r.id for r in receipts], "usage.receipts", "receipt")
    _check_sums(receipts)
    periods = _periods(listed(found, "period_counters", "usage"), context)
    return Usage(last, tuple(sorted(receipts, key=lambda r: r.id)), periods)


def init(state: Overlay, parsed: Usage) -> None:
    """Write the counter, the receipts with what derives from them, and the period counters."""
    keeper = UsageKeeper(state)
    keeper.restore_last_id(parsed.last_receipt_id)
    for receipt in parsed.receipts:
        keeper.restore(receipt)
    for counter in parsed.periods:
        keeper.restore_period(counter)


def export(state: Reader) -> dict[str, Any]:
    """The counter, every receipt and every period counter, in store-key order."""
    periods = [
        *(_period_json(k, v, keys.VERSION_PERIOD) for k, v in state.iterate(keys.VERSION_PERIOD)),
        *(_period_json(k, v, keys.MODEL_PERIOD) for k, v in state.iterate(keys.MODEL_PERIOD)),
    ]
    return {
        "usage": {
            "last_receipt_id": last_id(state, keys.LAST_ID),
            "receipts": [
                to_json(state_pb2.Receipt.FromString(v)) for _, v in state.iterate(keys.RECEIPT)
            ],
            "period_counters": periods,
        }
    }


def _period_json(key: bytes, value: bytes, kind: bytes) -> dict[str, Any]:
    """A period counter from its key: the kind, org, model[, version], SEP, length, index."""
    body = key[len(kind) :]
    numbers = body[-PERIOD_NUMBERS:]
    names = [part.decode() for part in body[: -PERIOD_NUMBERS - 1].split(keys.SEP)]
    return {
        "kind": "version" if kind == keys.VERSION_PERIOD else "model",
        "org": names[0],
        "model": names[1],
        "version": names[2] if kind == keys.VERSION_PERIOD else "",
        "period_seconds": int.from_bytes(numbers[:8], "big"),
        "period": int.from_bytes(numbers[8:], "big"),
        "quantity": int.from_bytes(value, "big"),
    }


def _receipts(items: list[Any], context: GenesisContext) -> list[state_pb2.Receipt]:
    receipts = []
    for i, item in enumerate(items):
        where = f"usage.receipts[{i}]"
        receipt, _ = record(item, state_pb2.Receipt, where)
        context.check_version(receipt.model, receipt.version, where)
        key_part(receipt.consumer, f"{where}.consumer")
        context.check_org(receipt.consumer_org, f"{where}.consumer_org")
        context.check_org(receipt.licensor_org, f"{where}.licensor_org")
        receipts.append(receipt)
    return receipts


def _check_sums(receipts: list[state_pb2.Receipt]) -> None:
    """Every all-time counter the receipts add up to fits its 8 bytes, as the use that wrote
    each receipt checked (a licensor's totals saturate instead)."""
    sums: dict[tuple[str, ...], int] = {}
    for r in receipts:
        for key in ((r.consumer_org, r.model, r.version), (r.consumer_org, r.model)):
            sums[key] = sums.get(key, 0) + r.quantity
            if sums[key] > MAX_U64:
                raise GenesisError(
                    "usage.receipts", f"{r.consumer_org}'s use of {r.model} > 2^64-1"
                )


def _periods(items: list[Any], context: GenesisContext) -> tuple[PeriodCounter, ...]:
    counters: dict[tuple[str, str, str, int, int], PeriodCounter] = {}
    for i, item in enumerate(items):
        where = f"usage.period_counters[{i}]"
        counter = _period(obj(item, where), where, context)
        key = (counter.org, counter.model, counter.version, counter.seconds, counter.index)
        if key in counters:
            raise GenesisError(where, "this counter appears twice")
        counters[key] = counter
    return tuple(counters[k] for k in sorted(counters))


def _period(found: Mapping[str, Any], where: str, context: GenesisContext) -> PeriodCounter:
    no_unknown(found, COUNTER_FIELDS, where)
    kind = found.get("kind")
    if kind not in ("version", "model"):
        raise GenesisError(f"{where}.kind", "must be 'version' or 'model'")
    model = text(found, "model", where, limit=1024)
    version = text(found, "version", where, limit=1024) if kind == "version" else ""
    if kind == "version":
        context.check_version(model, version, where)
    elif found.get("version", "") != "":
        raise GenesisError(f"{where}.version", "a model's counter names no version")
    elif model not in context.models:
        raise GenesisError(f"{where}.model", "no such model")
    return PeriodCounter(
        org=context.check_org(found.get("org"), f"{where}.org"),
        model=model,
        version=version,
        seconds=integer(found, "period_seconds", where, low=1),
        index=integer(found, "period", where),
        quantity=integer(found, "quantity", where),
    )
