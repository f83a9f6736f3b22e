"""The only code that reads and writes receipts, their indexes, totals and usage counters.

Receipts are append-only: a receipt is written once under the next id and never changed.
Every integer is checked before it reaches an 8-byte key or a uint64 field: an id or a
consumer's counter that would pass 2^64-1 refuses the use (registered codes, nothing written);
a licensor's totals are statistics and stop at 2^64-1 instead, so that no one (the licensor
itself, or the sole contributor of an aggregate, whose fees move no credit) can make the
licensor's later uses fail by inflating them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from app.core.errors import TxError
from app.core.ids import restore_last_id, take_id
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader
from app.usage import errors, keys

DEFAULT_PERIOD_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Usage:
    """How much an organisation has used a version and its model, all-time and this period."""

    version_total: int
    model_total: int
    version_period: int
    model_period: int
    period_seconds: int
    period_start: int


def _int(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


def period_index(time: int, period_seconds: int) -> int:
    """The period a block time falls in; raises TxError(invalid_period) for a length outside
    1..2^64-1. A time before 1970 (a header the engine allows) counts as period 0, never as a
    negative index that no 8-byte key can hold."""
    if not 1 <= period_seconds <= keys.MAX_U64:
        raise TxError(errors.INVALID_PERIOD, f"period_seconds {period_seconds} is not 1 to 2^64-1")
    return max(time, 0) // period_seconds


def _saturated(value: int) -> int:
    """A statistic that stops at the uint64 maximum instead of overflowing its field."""
    return min(value, keys.MAX_U64)


class UsageReader:
    """Read-only view of receipts and counters."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def usage(self, org: str, model: str, version: str, time: int, period_seconds: int) -> Usage:
        """``org``'s usage of ``model@version`` as of block time ``time``; raises
        TxError(invalid_period)."""
        index = period_index(time, period_seconds)
        get = self.state.get
        return Usage(
            version_total=_int(get(keys.use_key(keys.VERSION_USE, org, model, version))),
            model_total=_int(get(keys.use_key(keys.MODEL_USE, org, model))),
            version_period=_int(
                get(
                    keys.period_key(keys.VERSION_PERIOD, org, model, version, period_seconds, index)
                )
            ),
            model_period=_int(
                get(keys.period_key(keys.MODEL_PERIOD, org, model, "", period_seconds, index))
            ),
            period_seconds=period_seconds,
            period_start=index * period_seconds,
        )

    def receipt(self, receipt_id: int) -> state_pb2.Receipt | None:
        """One receipt, or None."""
        raw = self.state.get(keys.receipt_key(receipt_id))
        return None if raw is None else state_pb2.Receipt.FromString(raw)

    def receipt_ids(self, prefix: bytes, after: int) -> Iterator[int]:
        """Receipt ids listed under an index prefix, ascending, strictly after ``after``."""
        start = prefix + keys.u64(after) if after else None
        for key, _ in self.state.iterate(prefix, start):
            yield int.from_bytes(key[-8:], "big")

    def totals(self, org: str) -> state_pb2.LicensorTotals:
        """A licensor's receipts, quantity and fees so far."""
        raw = self.state.get(keys.totals_key(org))
        if raw is None:
            return state_pb2.LicensorTotals(org=org)
        return state_pb2.LicensorTotals.FromString(raw)


class UsageKeeper(UsageReader):
    """Read-write view for the use handler."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def record(self, receipt: state_pb2.Receipt, period_seconds: int) -> state_pb2.Receipt:
        """Append ``receipt`` under the next id, index it, and count its quantity.

        Raises TxError(ids_exhausted | counter_overflow | invalid_period) before any write.
        """
        counters = self._counted(receipt, period_seconds)
        receipt.id = take_id(self.state, keys.LAST_ID, errors.IDS_EXHAUSTED, "receipt")
        self._write(receipt)
        for key, value in counters:
            self.state.set(key, keys.u64(value))
        self._add_to_totals(receipt)
        return receipt

    def _write(self, r: state_pb2.Receipt) -> None:
        """Store a receipt under its id with its index entries."""
        self.state.set(keys.receipt_key(r.id), r.SerializeToString())
        for prefix in (
            keys.index_prefix(keys.BY_MODEL, r.model),
            keys.index_prefix(keys.BY_VERSION, r.model, r.version),
            keys.index_prefix(keys.BY_CONSUMER, r.consumer),
            keys.index_prefix(keys.BY_CONSUMER_ORG, r.consumer_org),
            keys.index_prefix(keys.BY_LICENSOR, r.licensor_org),
            keys.height_prefix(r.height),
        ):
            self.state.set(prefix + keys.u64(r.id), b"\x01")

    def _counted(self, r: state_pb2.Receipt, period_seconds: int) -> list[tuple[bytes, int]]:
        """The consumer's four counters after this use, as (key, value); raises
        TxError(counter_overflow) when one would pass 2^64-1."""
        index = period_index(r.time, period_seconds)
        counters = []
        for key in (
            keys.use_key(keys.VERSION_USE, r.consumer_org, r.model, r.version),
            keys.use_key(keys.MODEL_USE, r.consumer_org, r.model),
            keys.period_key(
                keys.VERSION_PERIOD, r.consumer_org, r.model, r.version, period_seconds, index
            ),
            keys.period_key(keys.MODEL_PERIOD, r.consumer_org, r.model, "", period_seconds, index),
        ):
            value = _int(self.state.get(key)) + r.quantity
            if value > keys.MAX_U64:
                raise TxError(errors.COUNTER_OVERFLOW, f"{r.consumer_org}'s usage of {r.model}")
            counters.append((key, value))
        return counters

    def _add_to_totals(self, r: state_pb2.Receipt) -> None:
        """Count a receipt in its licensor's totals (saturating: see the module's docstring)."""
        totals = self.totals(r.licensor_org)
        totals.receipts = _saturated(totals.receipts + 1)
        totals.quantity = _saturated(totals.quantity + r.quantity)
        totals.fees = _saturated(totals.fees + r.fee)
        self.state.set(keys.totals_key(r.licensor_org), totals.SerializeToString())

    # --- genesis: records as an export read them, with what is derived from them ---------------

    def restore_last_id(self, last: int) -> None:
        """Write the receipt counter: the last id given (genesis)."""
        restore_last_id(self.state, keys.LAST_ID, last)

    def restore(self, r: state_pb2.Receipt) -> None:
        """Write a receipt under its id with its indexes, and count it in its consumer's
        all-time counters and its licensor's totals (genesis). Its period counters are restored
        apart: the period length a use counted under was its license's, which the receipt does
        not record. Raises ValueError when a counter would pass 2^64-1 (genesis checks first)."""
        self._write(r)
        for key in (
            keys.use_key(keys.VERSION_USE, r.consumer_org, r.model, r.version),
            keys.use_key(keys.MODEL_USE, r.consumer_org, r.model),
        ):
            value = _int(self.state.get(key)) + r.quantity
            if value > keys.MAX_U64:
                raise ValueError(f"{r.consumer_org}'s usage of {r.model} passes 2^64-1")
            self.state.set(key, keys.u64(value))
        self._add_to_totals(r)

    def restore_period(self, counter: PeriodCounter) -> None:
        """Write an organisation's quantity within one period (genesis)."""
        kind = keys.VERSION_PERIOD if counter.version else keys.MODEL_PERIOD
        key = keys.period_key(
            kind, counter.org, counter.model, counter.version, counter.seconds, counter.index
        )
        self.state.set(key, keys.u64(counter.quantity))


@dataclass(frozen=True)
class PeriodCounter:
    """An organisation's quantity of a version (or, with no version, of a model) within period
    ``index`` of length ``seconds``."""

    org: str
    model: str
    version: str
    seconds: int
    index: int
    quantity: int
