"""The weights cache hands out only what still hashes to its digest: a hit is verified again,
a damaged or half-written entry is removed (and so downloaded again)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from chain.weights.cache import cached, copy_out, default_cache

CONTENT = b"weights bytes"
DIGEST = "sha256:" + hashlib.sha256(CONTENT).hexdigest()


def entry(cache: Path, content: bytes = CONTENT, index: object = None) -> Path:
    """A cache entry for DIGEST holding ``content`` (as a download would leave it)."""
    folder = cache / "sha256" / DIGEST.removeprefix("sha256:")
    folder.mkdir(parents=True)
    (folder / "m.safetensors").write_bytes(content)
    record = {"path": "m.safetensors", "ref": "o/m@1"} if index is None else index
    (folder.with_name(folder.name + ".json")).write_text(json.dumps(record))
    return folder


def test_a_verified_hit_is_handed_out(tmp_path: Path) -> None:
    folder = entry(tmp_path)
    assert cached(tmp_path, DIGEST) == folder / "m.safetensors"
    copied = copy_out(folder / "m.safetensors", tmp_path / "out")
    assert copied.read_bytes() == CONTENT


def test_nothing_cached_is_a_miss(tmp_path: Path) -> None:
    assert cached(tmp_path, DIGEST) is None


DAMAGED = [
    ("altered bytes", {"content": b"weights bytez"}),
    ("index names a missing file", {"index": {"path": "gone.bin"}}),
    ("index is not an object", {"index": [1, 2]}),
    ("index names a path outside", {"index": {"path": "../../etc/passwd"}}),
]


@pytest.mark.parametrize("change", [d[1] for d in DAMAGED], ids=[d[0] for d in DAMAGED])
def test_a_damaged_entry_is_removed(tmp_path: Path, change: dict[str, object]) -> None:
    folder = entry(tmp_path, **change)  # type: ignore[arg-type]
    assert cached(tmp_path, DIGEST) is None
    assert not folder.exists() and not folder.with_name(folder.name + ".json").exists()


def test_a_malformed_digest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="sha256"):
        cached(tmp_path, "md5:abc")


def test_the_cache_directory_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELGOV_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache() == tmp_path / "xdg" / "modelgov"
    monkeypatch.setenv("MODELGOV_CACHE", str(tmp_path / "c"))
    assert default_cache() == tmp_path / "c"
