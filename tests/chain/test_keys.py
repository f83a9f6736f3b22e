"""The keyring: files readable only by their owner, private keys printed only on request."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.core.crypto import address_of, is_valid_pubkey
from chain.cli.main import cli
from chain.keys import Keyring, KeyringError


def test_add_get_and_list(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "keys")
    key = ring.add("alice")
    assert is_valid_pubkey(key.pubkey)
    assert key.address == address_of(key.pubkey)
    assert ring.get("alice") == key
    assert ring.names() == ["alice"]
    mode = stat.S_IMODE(ring.path("alice").stat().st_mode)
    assert mode == 0o600


def test_refusals(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    ring.add("alice")
    with pytest.raises(KeyringError, match="already exists"):
        ring.add("alice")
    with pytest.raises(KeyringError, match="modelgov keys add bob"):
        ring.get("bob")
    with pytest.raises(KeyringError, match="key name"):
        ring.get("../etc/passwd")


def test_cli_never_prints_a_private_key_unless_asked(tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(cli, ["keys", "add", "bob", "--keyring", str(tmp_path), "-o", "json"])
    assert added.exit_code == 0, added.output
    private = Keyring(tmp_path).get("bob").private_key.hex()
    for args in (["keys", "list"], ["keys", "show", "bob"]):
        shown = runner.invoke(cli, [*args, "--keyring", str(tmp_path)])
        assert shown.exit_code == 0 and private not in shown.output
    asked = runner.invoke(
        cli, ["keys", "show", "bob", "--private", "--keyring", str(tmp_path), "-o", "json"]
    )
    assert json.loads(asked.output)["private_key"] == private
