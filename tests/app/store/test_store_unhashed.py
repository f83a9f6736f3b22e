"""Keys under an ``unhashed`` prefix: stored and committed in the same batch, out of the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.store import MerkleStore
from app.store.smt import EMPTY

INDEX = (b"\x04M", b"\x04h")
RECORDS = {b"\x04r1": b"receipt", b"\x02b": b"balance"}
INDEXES = {b"\x04Mmodel\x00id1": b"\x01", b"\x04h" + bytes(8): b"\x01"}


@pytest.fixture
def store(tmp_path: Path) -> MerkleStore:
    return MerkleStore(tmp_path / "db")


def test_unhashed_keys_are_stored_but_leave_the_root_alone(
    store: MerkleStore, tmp_path: Path
) -> None:
    with MerkleStore(tmp_path / "records-only") as plain:
        plain.commit(plain.stage(RECORDS), 1)
        records_root = plain.root
    store.commit(store.stage({**RECORDS, **INDEXES}, INDEX), 1)
    assert store.root == records_root != EMPTY
    assert all(store.get(k) == v for k, v in {**RECORDS, **INDEXES}.items())
    assert [k for k, _ in store.iterate(b"\x04M")] == [b"\x04Mmodel\x00id1"]
    assert store.stats()["keys"] == len(RECORDS)
    assert store.verify(INDEX) == {"keys": len(RECORDS), "nodes": store.stats()["nodes"]}
    assert store.recompute_root(INDEX) == store.root != store.recompute_root()


@pytest.mark.parametrize("writes", [INDEXES, {b"\x04Mmodel\x00id1": None}])
def test_writing_or_deleting_only_unhashed_keys_keeps_the_root(
    store: MerkleStore, writes: dict[bytes, bytes | None]
) -> None:
    store.commit(store.stage({**RECORDS, **INDEXES}, INDEX), 1)
    root = store.root
    store.commit(store.stage(writes, INDEX), 2)
    assert store.root == root and store.height == 2
    for key, value in writes.items():
        assert store.get(key) == value


def test_unhashed_writes_survive_a_reopen(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store:
        store.commit(store.stage({**RECORDS, **INDEXES}, INDEX), 1)
        root = store.root
    with MerkleStore(tmp_path / "db") as store:
        assert store.root == root
        assert all(store.get(k) == v for k, v in INDEXES.items())
        store.verify(INDEX)
