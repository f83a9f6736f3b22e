"""Roots of the sparse Merkle tree: known values, order independence, a naive reference."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from pathlib import Path

import pytest

from app.store import EMPTY_ROOT, MerkleStore
from app.store.smt import build_root


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_root(pairs: dict[bytes, bytes]) -> bytes:
    """Naive reference: paths as 256-character bit strings, split by filtering at each level."""
    leaves = {format(int.from_bytes(h(k), "big"), "0256b"): (h(k), h(v)) for k, v in pairs.items()}

    def subtree(prefix: str) -> bytes:
        under = [path for path in leaves if path.startswith(prefix)]
        if not under:
            return bytes(32)
        if len(under) == 1:
            key_hash, value_hash = leaves[under[0]]
            return h(b"\x00" + key_hash + value_hash)
        return h(b"\x01" + subtree(prefix + "0") + subtree(prefix + "1"))

    return subtree("")


def commit(store: MerkleStore, writes: Mapping[bytes, bytes | None]) -> None:
    store.commit(store.stage(writes), store.height + 1)


def test_empty_store(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store:
        assert store.root == EMPTY_ROOT == bytes(32)
        assert store.height == 0
        assert store.get(b"a") is None
        assert list(store.iterate(b"")) == []
        assert store.stats()["keys"] == 0
        assert store.stage({}).root == EMPTY_ROOT


def test_single_leaf_root(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store:
        commit(store, {b"key": b"value"})
        expected = h(b"\x00" + h(b"key") + h(b"value"))
        assert store.root == expected
        assert store.height == 1
        assert store.get(b"key") == b"value"
        assert store.verify() == {"keys": 1, "nodes": 1}


def test_two_leaves_root(tmp_path: Path) -> None:
    pairs = {b"a": b"1", b"b": b"2"}
    with MerkleStore(tmp_path / "db") as store:
        commit(store, dict(pairs))
        assert store.root == reference_root(pairs)


def test_insertion_order_and_batching_do_not_matter(tmp_path: Path) -> None:
    rng = random.Random(7)
    pairs = {
        rng.randbytes(rng.randint(0, 12)): rng.randbytes(rng.randint(1, 20)) for _ in range(300)
    }
    roots = set()
    for trial in range(4):
        items = list(pairs.items())
        rng.shuffle(items)
        with MerkleStore(tmp_path / f"db{trial}") as store:
            # Noise that is later overwritten or deleted must leave no trace either.
            commit(store, {b"noise" + bytes([trial]): b"x", items[0][0]: b"old"})
            i = 0
            while i < len(items):
                step = rng.randint(1, 60)
                commit(store, dict(items[i : i + step]))
                i += step
            commit(store, {b"noise" + bytes([trial]): None})
            roots.add(store.root)
            store.verify()
    assert roots == {reference_root(pairs)}
    assert build_root((h(k), h(v)) for k, v in pairs.items()) == reference_root(pairs)


def test_delete_everything_gives_empty_root(tmp_path: Path) -> None:
    rng = random.Random(3)
    keys = [rng.randbytes(8) for _ in range(200)]
    with MerkleStore(tmp_path / "db") as store:
        commit(store, {k: b"v" + k for k in keys})
        assert store.root != EMPTY_ROOT
        rng.shuffle(keys)
        commit(store, {k: None for k in keys[:150]})
        commit(store, {k: None for k in keys[150:]} | {b"never-there": None})
        assert store.root == EMPTY_ROOT
        assert store.stats()["keys"] == 0
        assert store.stats()["nodes"] == 0
        assert store.verify() == {"keys": 0, "nodes": 0}


@pytest.mark.parametrize("seed", range(5))
def test_matches_reference_over_random_commits(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    universe = [rng.randbytes(rng.randint(1, 6)) for _ in range(120)]
    model: dict[bytes, bytes] = {}
    with MerkleStore(tmp_path / "db") as store:
        for _ in range(15):
            writes: dict[bytes, bytes | None] = {}
            for key in rng.sample(universe, rng.randint(0, 40)):
                writes[key] = None if rng.random() < 0.35 else rng.choice([b"a", b"bb", key])
            commit(store, writes)
            for key, value in writes.items():
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
            assert store.root == reference_root(model)
            assert store.stats()["keys"] == len(model)


def test_stage_is_pure_and_repeatable(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store:
        commit(store, {b"a": b"1", b"b": b"2"})
        root, height = store.root, store.height
        first = store.stage({b"c": b"3"})
        second = store.stage({b"a": None})
        again = store.stage({b"c": b"3"})
        assert (store.root, store.height, store.get(b"c")) == (root, height, None)
        assert first == again
        assert second.root == reference_root({b"b": b"2"})
        store.commit(second, height + 1)
        assert store.root == reference_root({b"b": b"2"})


def test_commit_refuses_stale_staged_commit_and_old_height(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store:
        commit(store, {b"a": b"1"})
        first = store.stage({b"b": b"2"})
        second = store.stage({b"c": b"3"})
        with pytest.raises(ValueError, match="height"):
            store.commit(first, 1)
        store.commit(first, 2)
        with pytest.raises(ValueError, match="stale"):
            store.commit(second, 3)
        assert store.get(b"c") is None
        assert (store.height, store.root) == (2, reference_root({b"a": b"1", b"b": b"2"}))


def test_stage_rejects_bad_values(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store:
        with pytest.raises(ValueError):
            store.stage({b"a": b""})
        with pytest.raises(TypeError):
            store.stage({b"a": "text"})  # type: ignore[dict-item]


def test_same_value_rewrite_keeps_nodes(tmp_path: Path) -> None:
    rng = random.Random(11)
    pairs = {rng.randbytes(5): rng.randbytes(5) for _ in range(100)}
    with MerkleStore(tmp_path / "db") as store:
        commit(store, dict(pairs))
        before = store.root
        staged = store.stage(dict(list(pairs.items())[:30]))
        assert staged.root == before
        assert staged.new_nodes == () and staged.deleted_nodes == ()
        store.commit(staged, store.height + 1)
        assert store.verify()["keys"] == 100


def test_iterate_prefix_and_start_after(tmp_path: Path) -> None:
    keys = [b"a", b"ab", b"abc", b"abd", b"ac", b"b", b"\xff", b"\xff\xff", b"\xff\xff\x01"]
    with MerkleStore(tmp_path / "db") as store:
        commit(store, {k: b"v" + k for k in keys})
        assert [k for k, _ in store.iterate(b"")] == sorted(keys)
        assert [k for k, _ in store.iterate(b"ab")] == [b"ab", b"abc", b"abd"]
        assert [k for k, _ in store.iterate(b"ab", start_after=b"abc")] == [b"abd"]
        assert [k for k, _ in store.iterate(b"ab", start_after=b"a")] == [b"ab", b"abc", b"abd"]
        assert [k for k, _ in store.iterate(b"ab", start_after=b"b")] == []
        assert [k for k, _ in store.iterate(b"\xff")] == [b"\xff", b"\xff\xff", b"\xff\xff\x01"]
        assert [k for k, _ in store.iterate(b"\xff\xff")] == [b"\xff\xff", b"\xff\xff\x01"]
        assert dict(store.iterate(b"a"))[b"abd"] == b"vabd"
