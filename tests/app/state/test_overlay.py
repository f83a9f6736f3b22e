"""The Overlay's reads and ordered scans against a dict model (Hypothesis), nested as blocks
and transactions nest them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.state import Overlay
from app.state import overlay as overlay_module
from app.store import MerkleStore

KEYS = (
    st.binary(min_size=0, max_size=4)
    .map(lambda b: bytes(x % 4 for x in b))
    .map(lambda b: b.replace(b"\x03", b"\xff"))
)
NON_EMPTY_KEYS = KEYS.filter(bool)
VALUES = st.binary(min_size=1, max_size=3)
WRITES = st.lists(st.tuples(NON_EMPTY_KEYS, st.none() | VALUES), max_size=20)


class DictReader:
    """A Reader over a plain dict, the model of a committed state."""

    def __init__(self, data: dict[bytes, bytes]) -> None:
        self.data = data

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(self.data):
            if key.startswith(prefix) and (start_after is None or key > start_after):
                yield key, self.data[key]


def _apply(
    model: dict[bytes, bytes], overlay: Overlay, writes: list[tuple[bytes, bytes | None]]
) -> None:
    for key, value in writes:
        if value is None:
            overlay.delete(key)
            model.pop(key, None)
        else:
            overlay.set(key, value)
            model[key] = value


def _expected(
    model: dict[bytes, bytes], prefix: bytes, start_after: bytes | None
) -> list[tuple[bytes, bytes]]:
    return [
        (k, model[k])
        for k in sorted(model)
        if k.startswith(prefix) and (start_after is None or k > start_after)
    ]


@settings(max_examples=200, deadline=None)
@given(
    base=st.dictionaries(NON_EMPTY_KEYS, VALUES, max_size=12),
    block_writes=WRITES,
    tx_writes=WRITES,
    commit_tx=st.booleans(),
    prefix=KEYS,
    start_after=st.none() | KEYS,
)
def test_nested_overlays_match_a_dict(
    base: dict[bytes, bytes],
    block_writes: list[tuple[bytes, bytes | None]],
    tx_writes: list[tuple[bytes, bytes | None]],
    commit_tx: bool,
    prefix: bytes,
    start_after: bytes | None,
) -> None:
    model = dict(base)
    block = Overlay(DictReader(dict(base)))
    _apply(model, block, block_writes)
    before_tx = dict(model)
    tx = Overlay(block)
    tx_model = dict(model)
    _apply(tx_model, tx, tx_writes)
    assert list(tx.iterate(prefix, start_after)) == _expected(tx_model, prefix, start_after)
    for key in {k for k, _ in tx_writes} | set(base):
        assert tx.get(key) == tx_model.get(key)
    if commit_tx:
        tx.merge_into(block)
        model = tx_model
    else:
        model = before_tx
    assert list(block.iterate(prefix, start_after)) == _expected(model, prefix, start_after)
    assert list(block.iterate(prefix)) == _expected(model, prefix, None)


@settings(max_examples=30, deadline=None)
@given(
    base=st.dictionaries(NON_EMPTY_KEYS, VALUES, max_size=10),
    writes=WRITES,
    prefix=KEYS,
    start_after=st.none() | KEYS,
)
def test_overlay_over_the_merkle_store(
    tmp_path_factory: pytest.TempPathFactory,
    base: dict[bytes, bytes],
    writes: list[tuple[bytes, bytes | None]],
    prefix: bytes,
    start_after: bytes | None,
) -> None:
    path: Path = tmp_path_factory.mktemp("store")
    with MerkleStore(path / "db") as store:
        if base:
            store.commit(store.stage(dict(base)), 1)
        model = dict(base)
        overlay = Overlay(store)
        _apply(model, overlay, writes)
        assert list(overlay.iterate(prefix, start_after)) == _expected(model, prefix, start_after)


def test_empty_value_refused() -> None:
    overlay = Overlay(DictReader({}))
    with pytest.raises(ValueError):
        overlay.set(b"k", b"")


def test_delete_hides_base_value_and_pending_records_it() -> None:
    overlay = Overlay(DictReader({b"a": b"1", b"b": b"2"}))
    overlay.delete(b"a")
    overlay.set(b"c", b"3")
    assert overlay.get(b"a") is None
    assert list(overlay.iterate(b"")) == [(b"b", b"2"), (b"c", b"3")]
    assert dict(overlay.pending()) == {b"a": None, b"c": b"3"}


class SortingOverlay:
    """The overlay as it was before it kept its keys in order: every scan sorts the buffered
    keys (at its first ``next``) and reads their values as it yields them. The model of the
    semantics the ordered index must keep, scans interleaved with writes included."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.writes[key] if key in self.writes else self.base.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        self.writes[key] = None

    def merge_into(self, target: SortingOverlay) -> None:
        target.writes.update(self.writes)

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        mine = sorted(
            k
            for k in self.writes
            if k.startswith(prefix) and (start_after is None or k > start_after)
        )
        base = iter(self.base.iterate(prefix, start_after))
        i = 0
        for key, value in base:
            while i < len(mine) and mine[i] < key:
                if self.writes[mine[i]] is not None:
                    yield mine[i], self.writes[mine[i]]  # type: ignore[misc]
                i += 1
            if i < len(mine) and mine[i] == key:
                i += 1
                if self.writes[key] is not None:
                    yield key, self.writes[key]  # type: ignore[misc]
                continue
            yield key, value
        for key in mine[i:]:
            if self.writes[key] is not None:
                yield key, self.writes[key]  # type: ignore[misc]


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, 1), NON_EMPTY_KEYS, VALUES),
        st.tuples(st.just("delete"), st.integers(0, 1), NON_EMPTY_KEYS, st.none()),
        st.tuples(st.just("scan"), st.integers(0, 1), KEYS, st.none() | KEYS),
        st.tuples(st.just("step"), st.integers(0, 1), st.integers(0, 3), st.none()),
        st.tuples(st.just("merge"), st.just(1), st.just(b""), st.none()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(base=st.dictionaries(NON_EMPTY_KEYS, VALUES, max_size=12), ops=OPS)
def test_same_answers_as_the_sorting_overlay_with_writes_during_scans(
    base: dict[bytes, bytes], ops: list[tuple[Any, ...]]
) -> None:
    """Random writes, deletes, merges and scans on a block overlay and a transaction overlay
    over it, with scans left open and advanced between writes: every step yields what the
    sorting overlay yields. Chunks of 2 keys make most adds split."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(overlay_module, "CHUNK", 2)
        _compare(base, ops)


def _compare(base: dict[bytes, bytes], ops: list[tuple[Any, ...]]) -> None:
    reader = DictReader(dict(base))
    new_block = Overlay(reader)
    old_block = SortingOverlay(reader)
    pairs = [(new_block, old_block), (Overlay(new_block), SortingOverlay(old_block))]
    scans: list[tuple[Iterator[tuple[bytes, bytes]], Iterator[tuple[bytes, bytes]]]] = []
    for op, level, a, b in ops:
        new, old = pairs[level]
        if op == "set":
            new.set(a, b)
            old.set(a, b)
        elif op == "delete":
            new.delete(a)
            old.delete(a)
        elif op == "scan":
            scans.append((new.iterate(a, b), old.iterate(a, b)))
        elif op == "step" and scans:
            new_scan, old_scan = scans[a % len(scans)]
            assert next(new_scan, None) == next(old_scan, None)
        elif op == "merge":
            pairs[1][0].merge_into(new_block)
            pairs[1][1].merge_into(old_block)
            pairs[1] = (Overlay(new_block), SortingOverlay(old_block))
    for new_scan, old_scan in scans:
        assert list(new_scan) == list(old_scan)
    for new, old in pairs:
        assert list(new.iterate(b"")) == list(old.iterate(b""))


def _narrow_scans(writes: int, scans: int) -> float:
    """Seconds for ``scans`` scans of a one-key prefix in an overlay holding ``writes`` keys
    (the best of three runs)."""
    block = Overlay(DictReader({}))
    for i in range(writes):
        block.set(b"k" + i.to_bytes(4, "big"), b"v")
    probe = b"k" + (writes // 2).to_bytes(4, "big")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(scans):
            assert len(list(Overlay(block).iterate(probe))) == 1
        best = min(best, time.perf_counter() - started)
    return best


def test_a_scan_costs_what_it_yields_not_the_blocks_writes() -> None:
    """A block of transactions that each scan a little: 64 times the writes may cost a log
    factor more per scan, not 64 times (sorting every write per scan did)."""
    small = _narrow_scans(1_000, 2_000)
    large = _narrow_scans(64_000, 2_000)
    assert large < 4 * small + 0.05, (small, large)


def test_a_scan_no_write_can_match_reads_the_base_and_orders_nothing() -> None:
    """A block of uses writes thousands of usage keys and then scans the member list: the scan
    shares no written key's first bytes, so it is the base's scan, and the writes stay
    unordered; a later write under that prefix is seen by the next scan."""
    block = Overlay(DictReader({b"\x01o/a": b"1", b"\x01o/b": b"2"}))
    for i in range(1_000):
        block.set(b"\x04u" + i.to_bytes(4, "big"), b"v")
    assert list(block.iterate(b"\x01o/")) == [(b"\x01o/a", b"1"), (b"\x01o/b", b"2")]
    assert len(block._unordered) == 1_000
    block.set(b"\x01o/c", b"3")
    assert [k for k, _ in block.iterate(b"\x01o/")] == [b"\x01o/a", b"\x01o/b", b"\x01o/c"]
    assert block._unordered == []


def test_sorted_keys_split_and_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overlay_module, "CHUNK", 3)
    keys = overlay_module.SortedKeys()
    for i in (5, 1, 9, 3, 7, 2, 8, 0, 6, 4):
        keys.add(bytes([i]))
    assert len(keys) == 10
    assert list(keys.scan(b"", inclusive=True)) == [bytes([i]) for i in range(10)]
    assert next(keys.scan(b"\x04", inclusive=True)) == b"\x04"
    assert next(keys.scan(b"\x04", inclusive=False)) == b"\x05"
    assert list(keys.scan(b"\x09", inclusive=False)) == []
    open_scan = keys.scan(b"\x03", inclusive=True)
    assert next(open_scan) == b"\x03"
    keys.add(b"\x03\x01")  # added after the scan started: not seen by it
    assert list(open_scan) == [bytes([i]) for i in range(4, 10)]


def test_sorted_keys_bulk_update_keeps_order_and_open_scans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many keys added at once are sorted together with those already there; a scan started
    before sees exactly the keys there were when it started."""
    monkeypatch.setattr(overlay_module, "CHUNK", 3)
    keys = overlay_module.SortedKeys()
    keys.update([bytes([i]) for i in (8, 2, 6)])  # three: the bulk path at CHUNK 3
    open_scan = keys.scan(b"", inclusive=True)
    assert next(open_scan) == b"\x02"
    keys.update([bytes([i]) for i in (9, 1, 5, 3, 7, 0, 4)])
    keys.add(b"\x05\x01")
    assert list(open_scan) == [b"\x06", b"\x08"]
    expected = sorted([bytes([i]) for i in range(10)] + [b"\x05\x01"])
    assert list(keys.scan(b"", inclusive=True)) == expected
    assert len(keys) == 11
    assert next(keys.scan(b"\x05", inclusive=False)) == b"\x05\x01"
