"""Keys at rest against odd passphrases: a passphrase that is not valid Unicode (bytes from a
non-UTF-8 environment or terminal arrive as lone surrogates) seals and unseals like any other,
and a wrong one is the keyring's own "wrong passphrase" error, never a UnicodeEncodeError."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from chain.keys import Keyring, KeyringError

RAW = b"caf\xe9-latin1".decode("utf-8", "surrogateescape")


def test_a_passphrase_of_raw_bytes_seals_and_unseals(tmp_path: Path) -> None:
    added = Keyring(tmp_path).add("alice", passphrase=RAW)
    assert Keyring(tmp_path, passphrase=RAW).get("alice") == added


def test_a_wrong_raw_passphrase_is_a_keyring_error(tmp_path: Path) -> None:
    Keyring(tmp_path).add("alice", passphrase="right")
    with pytest.raises(KeyringError, match="wrong passphrase"):
        Keyring(tmp_path, passphrase=RAW).get("alice")


def test_key_files_are_the_owners_alone(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        Keyring(tmp_path / "keys").add("alice")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "keys" / "alice.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
