"""A CommittedView is one commit: its state, height, root and proofs agree whatever the store
commits after it was opened, and it can be read on another thread meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.store import EMPTY_ROOT, MerkleStore, verify_proof


def test_a_fresh_store_views_as_height_zero(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store, store.view() as view:
        assert (view.height, view.root) == (0, EMPTY_ROOT)
        assert view.get(b"k") is None and list(view.iterate(b"")) == []


def test_a_view_keeps_its_commit(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store:
        store.commit(store.stage({b"a": b"1", b"b": b"2"}), 1)
        old_root = store.root
        with store.view() as view:
            store.commit(store.stage({b"a": b"changed", b"b": None, b"c": b"3"}), 2)
            assert (view.height, view.root) == (1, old_root)
            assert view.get(b"a") == b"1" and view.get(b"c") is None
            assert list(view.iterate(b"")) == [(b"a", b"1"), (b"b", b"2")]
            assert list(view.iterate(b"", b"a")) == [(b"b", b"2")]
            for key in (b"a", b"b", b"c"):
                value = {b"a": b"1", b"b": b"2"}.get(key)
                proof = view.prove(key)  # the nodes it needs were replaced by commit 2
                assert proof.value == value and verify_proof(old_root, key, value, proof)
        with store.view() as view:
            assert (view.height, view.root) == (2, store.root)
            assert view.get(b"a") == b"changed"
            assert verify_proof(store.root, b"b", None, view.prove(b"b"))


def test_a_closed_view_refuses_reads(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store:
        view = store.view()
        view.close()
        with pytest.raises(RuntimeError):
            view.get(b"a")


def test_views_read_on_another_thread_while_the_store_commits(tmp_path: Path) -> None:
    """A reader thread checks, for every view it opens, that the state holds the height the
    view claims (every commit writes its height under b"h")."""
    problems: list[str] = []
    stop = threading.Event()
    with MerkleStore(tmp_path / "db") as store:
        store.commit(store.stage({b"h": (1).to_bytes(8, "big")}), 1)

        def reader() -> None:
            while not stop.is_set():
                with store.view() as view:
                    stored = int.from_bytes(view.get(b"h") or b"", "big")
                    if stored != view.height:
                        problems.append(f"state at {stored}, view at {view.height}")

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for height in range(2, 200):
                writes = {b"h": height.to_bytes(8, "big"), b"k%d" % height: b"v"}
                store.commit(store.stage(writes), height)
        finally:
            stop.set()
            thread.join()
    assert problems == []
