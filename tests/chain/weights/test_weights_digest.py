"""The weights digest: single files, directory manifests, and a strict manifest parser."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.weights.digest import (
    MANIFEST_HEADER,
    ManifestEntry,
    WeightsError,
    build_manifest,
    check_digest,
    digest_of_bytes,
    hash_path,
    parse_manifest,
    sha256_file,
)

HEX_A = "a" * 64
HEX_B = "b" * 64

# Relative path -> content. "B" sorts before "a" in bytes; "a-b" sorts before "a/…" ('-' < '/');
# "é" (2 UTF-8 bytes) sorts after "z"; os.listdir order is not sorted at all.
TREE = {
    "z.bin": b"zzz",
    "a/x.safetensors": b"x" * 1000,
    "a/b/deep.pt": b"",
    "a-b": b"dash",
    "B.json": b'{"k": 1}',
    "é/名前 with space.bin": "ünïcödé".encode(),
}


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Create ``files`` under ``root`` in the dict's order."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def manifest_by_hand(files: dict[str, bytes]) -> bytes:
    """The manifest of ``files`` written out independently of the module under test."""
    lines = ["modelgov-manifest-v1\n"]
    for rel in sorted(files, key=lambda p: p.encode("utf-8")):
        data = files[rel]
        lines.append(f"{hashlib.sha256(data).hexdigest()} {len(data)} {rel}\n")
    return "".join(lines).encode("utf-8")


# ---------------------------------------------------------------------------------- single files


def test_a_file_digest_is_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "w.bin"
    path.write_bytes(data)
    hashed = hash_path(path)
    assert hashed.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert hashed.size == len(data)
    assert hashed.manifest is None
    assert hashed.entries == ()
    assert sha256_file(path) == (hashlib.sha256(data).hexdigest(), len(data))


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils sha256sum")
def test_a_file_digest_agrees_with_sha256sum(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(os.urandom(1 << 20))
    out = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True)
    assert hash_path(path).digest == "sha256:" + out.stdout.split()[0]


def test_an_empty_file_has_the_digest_of_no_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    assert hash_path(path).digest == digest_of_bytes(b"")


def test_progress_callback_sees_every_byte(tmp_path: Path) -> None:
    files = {"a.bin": os.urandom(9 * 1024 * 1024), "b.bin": b"tail"}
    root = make_tree(tmp_path / "w", files)
    seen: list[int] = []
    hash_path(root, progress=seen.append)
    assert sum(seen) == sum(len(data) for data in files.values())
    assert max(seen) <= 8 * 1024 * 1024


# ----------------------------------------------------------------------------------- directories


def test_a_directory_digest_is_the_sha256_of_its_manifest(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "w", TREE)
    (root / "empty-dir" / "nested").mkdir(parents=True)  # contributes nothing
    expected = manifest_by_hand(TREE)
    hashed = hash_path(root)
    assert hashed.manifest == expected
    assert hashed.digest == "sha256:" + hashlib.sha256(expected).hexdigest()
    assert hashed.size == sum(len(data) for data in TREE.values())
    assert [entry.path for entry in hashed.entries] == [
        "B.json",
        "a-b",
        "a/b/deep.pt",
        "a/x.safetensors",
        "z.bin",
        "é/名前 with space.bin",
    ]
    assert parse_manifest(expected) == hashed.entries


def test_creation_order_does_not_change_the_digest(tmp_path: Path) -> None:
    forward = make_tree(tmp_path / "one", TREE)
    backward = make_tree(tmp_path / "two", dict(reversed(list(TREE.items()))))
    assert hash_path(forward).digest == hash_path(backward).digest


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda root: (root / "z.bin").write_bytes(b"zzZ"), id="changed-byte"),
        pytest.param(lambda root: (root / "z.bin").rename(root / "y.bin"), id="renamed"),
        pytest.param(lambda root: (root / "a" / "new").write_bytes(b""), id="added-empty"),
        pytest.param(lambda root: (root / "a-b").unlink(), id="removed"),
        pytest.param(lambda root: (root / "a" / "b" / "deep.pt").write_bytes(b"\0"), id="grown"),
    ],
)
def test_any_change_to_the_tree_changes_the_digest(
    tmp_path: Path, change: Callable[[Path], object]
) -> None:
    root = make_tree(tmp_path / "w", TREE)
    before = hash_path(root).digest
    change(root)
    assert hash_path(root).digest != before


def test_a_symlink_inside_a_directory_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "w", {"real.bin": b"1"})
    (root / "link.bin").symlink_to(root / "real.bin")
    with pytest.raises(WeightsError, match="symbolic link"):
        hash_path(root)


def test_a_symlinked_directory_inside_a_directory_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "w", {"real.bin": b"1"})
    make_tree(tmp_path / "outside", {"secret.bin": b"2"})
    (root / "sub").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(WeightsError, match="symbolic link"):
        hash_path(root)


def test_a_special_file_inside_a_directory_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "w", {"real.bin": b"1"})
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.bind(str(root / "s.sock"))
        except OSError:
            os.mkfifo(root / "s.sock")
        with pytest.raises(WeightsError, match="special file"):
            hash_path(root)


def test_a_directory_without_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "w" / "only" / "dirs").mkdir(parents=True)
    with pytest.raises(WeightsError, match="no file"):
        hash_path(tmp_path / "w")


def test_a_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not a file or a directory"):
        hash_path(tmp_path / "absent")


def test_a_name_with_a_newline_or_backslash_is_refused(tmp_path: Path) -> None:
    for name in ("new\nline.bin", "back\\slash.bin"):
        root = make_tree(tmp_path / f"w{len(name)}", {name: b"1"})
        with pytest.raises(WeightsError, match="contains"):
            hash_path(root)


def test_a_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "w", {"ok.bin": b"1"})
    try:
        os.close(os.open(os.fsencode(root) + b"/\xff.bin", os.O_CREAT | os.O_WRONLY))
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    with pytest.raises(WeightsError, match="UTF-8"):
        hash_path(root)


# -------------------------------------------------------------------------------------- manifests


def line(hexdigest: str, size: int | str, path: str) -> bytes:
    return f"{hexdigest} {size} {path}\n".encode()


GOOD = MANIFEST_HEADER + line(HEX_A, 1, "a.bin") + line(HEX_B, 22, "dir/b.bin")


def test_a_canonical_manifest_parses() -> None:
    assert parse_manifest(GOOD) == (
        ManifestEntry("a.bin", 1, HEX_A),
        ManifestEntry("dir/b.bin", 22, HEX_B),
    )
    assert build_manifest(reversed(parse_manifest(GOOD))) == GOOD


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "first line"),
        (b"modelgov-manifest-v2\n" + line(HEX_A, 1, "a"), "first line"),
        (b"modelgov-manifest-v1\r\n" + line(HEX_A, 1, "a"), "first line"),
        (b" modelgov-manifest-v1\n" + line(HEX_A, 1, "a"), "first line"),
        (MANIFEST_HEADER, "no file"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a")[:-1], "newline"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a") + b"\n", "not '<sha256>"),
        (MANIFEST_HEADER + line(HEX_A, 1, "b") + line(HEX_A, 1, "a"), "out of order"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a/x") + line(HEX_A, 1, "a-x"), "out of order"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a") + line(HEX_B, 2, "a"), "twice"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a") + line(HEX_B, 2, "a/b"), "under the file"),
        (MANIFEST_HEADER + line(HEX_A, 1, "/etc/passwd"), "absolute"),
        (MANIFEST_HEADER + line(HEX_A, 1, "../escape"), "'..'"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a/../../escape"), "'..'"),
        (MANIFEST_HEADER + line(HEX_A, 1, "./a"), "'.'"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a//b"), "empty"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a/"), "empty"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a\\b"), "contains"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a\x00b"), "contains"),
        (MANIFEST_HEADER + line(HEX_A, 1, "a\r"), "contains"),
        (MANIFEST_HEADER + line(HEX_A, 1, ""), "empty"),
        (MANIFEST_HEADER + line("A" * 64, 1, "a"), "hex"),
        (MANIFEST_HEADER + line("a" * 63, 1, "a"), "hex"),
        (MANIFEST_HEADER + line("g" * 64, 1, "a"), "hex"),
        (MANIFEST_HEADER + line(HEX_A, "01", "a"), "decimal"),
        (MANIFEST_HEADER + line(HEX_A, "-1", "a"), "decimal"),
        (MANIFEST_HEADER + line(HEX_A, "+1", "a"), "decimal"),
        (MANIFEST_HEADER + line(HEX_A, "", "a"), "decimal"),
        (MANIFEST_HEADER + line(HEX_A, "\uff11", "a"), "decimal"),
        (MANIFEST_HEADER + f"{HEX_A}  1 a\n".encode(), "decimal"),
        (MANIFEST_HEADER + f"{HEX_A}\t1 a\n".encode(), "not '<sha256>"),
        (MANIFEST_HEADER + f"{HEX_A} 1 a\r\n".encode(), "contains"),
        (MANIFEST_HEADER + HEX_A.encode() + b" 1 \xff\n", "UTF-8"),
    ],
)
def test_a_non_canonical_manifest_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(WeightsError, match=reason):
        parse_manifest(data)


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ([], "no file"),
        ([ManifestEntry("a", 1, HEX_A), ManifestEntry("a", 1, HEX_A)], "twice"),
        ([ManifestEntry("a", 1, HEX_A), ManifestEntry("a/b", 1, HEX_A)], "under the file"),
        ([ManifestEntry("/abs", 1, HEX_A)], "absolute"),
        ([ManifestEntry("a/../b", 1, HEX_A)], "'..'"),
        ([ManifestEntry("a", -1, HEX_A)], "non-negative"),
        ([ManifestEntry("a", 1, HEX_A.upper())], "hex"),
        ([ManifestEntry("\udcff", 1, HEX_A)], "UTF-8"),
    ],
)
def test_build_manifest_refuses_what_parse_would_refuse(
    entries: list[ManifestEntry], reason: str
) -> None:
    with pytest.raises(WeightsError, match=reason):
        build_manifest(entries)


NAME = st.text(
    alphabet=st.characters(exclude_characters="/\\\n\r\x00", exclude_categories=["Cs"]),
    min_size=1,
    max_size=12,
).filter(lambda name: name not in (".", ".."))
PATH = st.lists(NAME, min_size=1, max_size=4).map("/".join)
HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


def no_file_under_a_file(paths: list[str]) -> bool:
    files = set(paths)
    return not any(
        "/".join(p.split("/")[:depth]) in files
        for p in paths
        for depth in range(1, p.count("/") + 1)
    )


ENTRIES = (
    st.lists(PATH, min_size=1, max_size=12, unique=True)
    .filter(no_file_under_a_file)
    .flatmap(
        lambda paths: st.tuples(
            *[st.builds(ManifestEntry, st.just(p), st.integers(0, 2**63), HEX) for p in paths]
        )
    )
)


@given(ENTRIES)
def test_parse_inverts_build(entries: tuple[ManifestEntry, ...]) -> None:
    data = build_manifest(entries)
    parsed = parse_manifest(data)
    assert parsed == tuple(sorted(entries, key=lambda e: e.path.encode("utf-8")))
    assert build_manifest(parsed) == data


# ---------------------------------------------------------------------------------------- digests


@pytest.mark.parametrize(
    "text",
    ["", "sha256:", "sha256:" + "A" * 64, "sha256:" + "a" * 63, "SHA256:" + "a" * 64,
     "sha512:" + "a" * 64, "a" * 64, "sha256:" + "a" * 64 + "\n", " sha256:" + "a" * 64],
)  # fmt: skip
def test_a_malformed_digest_is_refused(text: str) -> None:
    with pytest.raises(WeightsError, match="not a weights digest"):
        check_digest(text)


def test_a_good_digest_gives_its_hex() -> None:
    assert check_digest("sha256:" + HEX_A) == HEX_A
    assert check_digest(digest_of_bytes(b"x")) == hashlib.sha256(b"x").hexdigest()
