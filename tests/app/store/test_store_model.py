"""The store against a dict model (Hypothesis stateful), and pruning of replaced nodes."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from app.store import MerkleStore, verify_proof
from app.store.leveldb_store import NODE_PREFIX
from app.store.smt import decode_node

KEY_UNIVERSE = [b"", b"a", b"ab", b"abc", b"b", b"ba", b"c", b"\x00", b"\xff", b"\xff\x00"]
KEYS = st.sampled_from(KEY_UNIVERSE)
VALUES = st.none() | st.sampled_from([b"1", b"2", b"three"]) | st.binary(min_size=1, max_size=8)


class StoreMachine(RuleBasedStateMachine):
    """Random staged commits of puts/deletes, reopenings and stale commits versus a dict."""

    VALUE_CACHE = 100_000  # every key's value stays cached across commits

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="store-model-")
        self.path = Path(self.dir) / "db"
        self.store = MerkleStore(self.path, node_cache_size=8, value_cache_bytes=self.VALUE_CACHE)
        self.model: dict[bytes, bytes] = {}

    @rule(writes=st.dictionaries(KEYS, VALUES, max_size=6))
    def commit(self, writes: dict[bytes, bytes | None]) -> None:
        self.store.commit(self.store.stage(writes), self.store.height + 1)
        for key, value in writes.items():
            if value is None:
                self.model.pop(key, None)
            else:
                self.model[key] = value

    @rule(a=st.dictionaries(KEYS, VALUES, max_size=4), b=st.dictionaries(KEYS, VALUES, max_size=4))
    def commit_after_another(
        self, a: dict[bytes, bytes | None], b: dict[bytes, bytes | None]
    ) -> None:
        """A second staging of the same base is refused once the first one changed the root."""
        first, second = self.store.stage(a), self.store.stage(b)
        self.commit(a)
        if first.root == first.base_root:
            self.commit(b)  # nothing changed: the second staging is still against the root
            return
        try:
            self.store.commit(second, self.store.height + 1)
        except ValueError:
            return
        raise AssertionError("stale staged commit accepted")

    @rule()
    def reopen(self) -> None:
        root, height = self.store.root, self.store.height
        self.store.close()
        self.store = MerkleStore(self.path, node_cache_size=8, value_cache_bytes=self.VALUE_CACHE)
        assert (self.store.root, self.store.height) == (root, height)

    @rule(key=KEYS)
    def prove(self, key: bytes) -> None:
        proof = self.store.prove(key)
        assert proof.value == self.model.get(key)
        assert verify_proof(self.store.root, key, proof.value, proof)

    @invariant()
    def agrees_with_model(self) -> None:
        assert dict(self.store.iterate(b"")) == self.model
        assert list(self.store.iterate(b"a")) == sorted(
            (k, v) for k, v in self.model.items() if k.startswith(b"a")
        )
        for key in [*KEY_UNIVERSE, b"zz"]:  # twice: a read from LevelDB, then from the cache
            assert self.store.get(key) == self.model.get(key)
            assert self.store.get(key) == self.model.get(key)
        assert self.store.stats()["keys"] == len(self.model)

    @invariant()
    def root_and_nodes_consistent(self) -> None:
        self.store.verify()

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


class TinyValueCacheMachine(StoreMachine):
    """The same with a value cache of two or three entries, so that it starts over often."""

    VALUE_CACHE = 250


TestTinyValueCache = TinyValueCacheMachine.TestCase
TestTinyValueCache.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)


def stored_nodes(store: MerkleStore) -> dict[bytes, bytes]:
    db = store._db
    return {k[1:]: v for k, v in db.iterator(prefix=NODE_PREFIX)}


def reachable(root: bytes, nodes: dict[bytes, bytes]) -> set[bytes]:
    seen: set[bytes] = set()
    stack = [root]
    while stack:
        h = stack.pop()
        if h == bytes(32):
            continue
        assert h in nodes, f"reachable node {h.hex()} is missing"
        seen.add(h)
        is_leaf, left, right = decode_node(nodes[h])
        if not is_leaf:
            stack += [left, right]
    return seen


def test_pruning_keeps_exactly_the_reachable_nodes(tmp_path: Path) -> None:
    rng = random.Random(2024)
    universe = [rng.randbytes(4) for _ in range(400)]
    values = [b"x", b"y", b"z"]  # few values: same-hash nodes reappear often
    with MerkleStore(tmp_path / "db", node_cache_size=64) as store:
        for _ in range(60):
            writes: dict[bytes, bytes | None] = {
                key: None if rng.random() < 0.3 else rng.choice(values)
                for key in rng.sample(universe, rng.randint(1, 80))
            }
            store.commit(store.stage(writes), store.height + 1)
            nodes = stored_nodes(store)
            assert set(nodes) == reachable(store.root, nodes)
            assert store.stats()["nodes"] == len(nodes)
        store.verify()
