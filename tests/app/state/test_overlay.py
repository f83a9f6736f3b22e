"""The Overlay's reads and ordered scans against a dict model (Hypothesis), nested as blocks
and transactions nest them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.state import Overlay
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
