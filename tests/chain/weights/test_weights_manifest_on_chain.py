"""The chain rebuilds a directory's manifest from a PublishVersion's files: its bytes and its
acceptance must match ``chain.weights.digest`` exactly, or a valid directory could not be
published (or a store could be asked for a file the client's manifest does not list)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.errors import TxError
from app.models.manifest import check_files, manifest_bytes
from chain.weights.client import manifest_files
from chain.weights.digest import ManifestEntry, WeightsError, build_manifest

NAME = st.text(alphabet=st.sampled_from("ab.-_ Z\u00e9\u4e2d\U0001f600"), min_size=1, max_size=6)
PATH = st.lists(NAME, min_size=1, max_size=3).map("/".join)
ENTRY = st.builds(
    ManifestEntry,
    path=PATH,
    size=st.integers(min_value=0, max_value=2**40),
    sha256=st.binary(min_size=32, max_size=32).map(lambda b: b.hex()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ENTRY, min_size=1, max_size=8))
def test_the_chain_accepts_exactly_the_manifests_the_client_builds(
    entries: list[ManifestEntry],
) -> None:
    assert_agree(entries)


def assert_agree(entries: list[ManifestEntry]) -> None:
    """The client builds a manifest of ``entries`` iff the chain accepts them, to the byte."""
    try:
        built = build_manifest(entries)
    except WeightsError:
        built = None
    ordered = sorted(entries, key=lambda e: e.path.encode())
    files = manifest_files(ordered)
    digest = "sha256:" + hashlib.sha256(built or manifest_bytes(files)).hexdigest()
    size = sum(e.size for e in entries)
    if built is None:
        with pytest.raises(TxError):
            check_files(files, digest, size)
        return
    assert manifest_bytes(files) == built
    check_files(files, digest, size)


@pytest.mark.parametrize(
    "paths",
    [
        ["a", "a.b", "a/b"],
        ["a", "a b", "a/c"],
        ["a", "a-1", "a-1/x"],
        ["a", "a-1", "a-1.z", "a/q"],
        ["a/b", "a0"],
        ["a", "a0/b"],
        ["x/y", "x/y/z"],
        ["\u00e9", "\u00e9/x"],
        ["d/a", "d/b", "d/b.c", "d/b/c"],
    ],
)
def test_files_under_files_agree_on_tricky_orders(paths: list[str]) -> None:
    entries = [ManifestEntry(p, 1, "ab" * 32) for p in paths]
    assert_agree(entries)
