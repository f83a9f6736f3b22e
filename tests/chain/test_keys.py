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
    added = runner.invoke(
        cli, ["keys", "add", "bob", "--keyring", str(tmp_path), "--keyring-backend", "test"]
    )
    assert added.exit_code == 0, added.output
    private = Keyring(tmp_path).get("bob").private_key.hex()
    for args in (["keys", "list"], ["keys", "show", "bob"]):
        shown = runner.invoke(cli, [*args, "--keyring", str(tmp_path)])
        assert shown.exit_code == 0 and private not in shown.output
    asked = runner.invoke(
        cli, ["keys", "show", "bob", "--private", "--keyring", str(tmp_path), "-o", "json"]
    )
    assert json.loads(asked.output)["private_key"] == private


PASS = {"MODELGOV_KEYRING_PASSPHRASE": "correct horse"}


def test_keys_are_encrypted_at_rest_by_default(tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli, ["keys", "add", "carol", "--keyring", str(tmp_path), "-o", "json"], env=PASS
    )
    assert added.exit_code == 0, added.output
    shown = json.loads(added.output)
    assert shown["encrypted"] is True
    stored = json.loads((tmp_path / "carol.json").read_text())
    assert "private_key" not in stored and stored["encryption"]["kdf"] == "scrypt"
    unlocked = Keyring(tmp_path, "correct horse").get("carol")
    assert unlocked.address == shown["address"]
    assert unlocked.private_key.hex() not in (tmp_path / "carol.json").read_text()
    with pytest.raises(KeyringError, match="wrong passphrase"):
        Keyring(tmp_path, "wrong").get("carol")
    with pytest.raises(KeyringError, match="is encrypted"):
        Keyring(tmp_path).get("carol")
    address = runner.invoke(cli, ["keys", "show", "carol", "-a", "--keyring", str(tmp_path)])
    assert address.output.strip() == shown["address"], "no passphrase needed for the address"


def test_without_a_passphrase_a_script_is_told_how(tmp_path: Path) -> None:
    refused = CliRunner().invoke(cli, ["keys", "add", "dave", "--keyring", str(tmp_path)])
    assert refused.exit_code != 0 and "MODELGOV_KEYRING_PASSPHRASE" in str(refused.exception)
    assert not (tmp_path / "dave.json").exists()


def test_export_import_and_delete(tmp_path: Path) -> None:
    runner = CliRunner()
    ring = Keyring(tmp_path / "a")
    original = ring.add("erin")  # a test-backend key
    exported = runner.invoke(
        cli, ["keys", "export", "erin", "--keyring", str(tmp_path / "a")], env=PASS
    )
    assert exported.exit_code == 0, exported.output
    assert original.private_key.hex() not in exported.output
    (tmp_path / "erin.export").write_text(exported.output)
    imported = runner.invoke(
        cli,
        [
            "keys",
            "import",
            "erin2",
            str(tmp_path / "erin.export"),
            "--keyring",
            str(tmp_path / "b"),
            "-o",
            "json",
        ],
        env=PASS,
    )
    assert imported.exit_code == 0, (imported.output, imported.exception)
    assert Keyring(tmp_path / "b", "correct horse").get("erin2").private_key == original.private_key
    (tmp_path / "raw.hex").write_text(original.private_key.hex() + "\n")
    raw = runner.invoke(
        cli,
        [
            "keys",
            "import",
            "erin3",
            str(tmp_path / "raw.hex"),
            "--hex",
            "--keyring",
            str(tmp_path / "b"),
            "--keyring-backend",
            "test",
        ],
    )
    assert raw.exit_code == 0 and Keyring(tmp_path / "b").get("erin3").address == original.address
    deleted = runner.invoke(
        cli, ["keys", "delete", "erin3", "--yes", "--keyring", str(tmp_path / "b")]
    )
    assert deleted.exit_code == 0 and Keyring(tmp_path / "b").names() == ["erin2"]


HOSTILE = [
    ("huge n", {"n": 2**30}),
    ("zero r", {"r": 0}),
    ("unknown cipher", {"cipher": "rot13"}),
    ("not hex", {"salt": "zz"}),
    ("missing field", {"nonce": None}),
]


@pytest.mark.parametrize("change", [h[1] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_a_hostile_key_file_is_refused_not_obeyed(
    tmp_path: Path, change: dict[str, object]
) -> None:
    ring = Keyring(tmp_path, "pw")
    ring.add("frank", passphrase="pw")
    path = ring.path("frank")
    record = json.loads(path.read_text())
    record["encryption"].update(change)
    record["encryption"] = {k: v for k, v in record["encryption"].items() if v is not None}
    path.write_text(json.dumps(record))
    with pytest.raises(KeyringError):
        ring.get("frank")


def test_a_swapped_public_key_does_not_decrypt(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, "pw")
    ring.add("gina", passphrase="pw")
    other = Keyring(tmp_path).add("harry")
    record = json.loads(ring.path("gina").read_text())
    record["pubkey"] = other.pubkey.hex()
    ring.path("gina").write_text(json.dumps(record))
    with pytest.raises(KeyringError, match="wrong passphrase"):
        ring.get("gina")


@pytest.mark.parametrize(
    ("content", "hex_file", "says"),
    [
        ("x", False, "not a key file of `keys export`"),
        ("[]", False, "no key in it"),
        ("{}", False, "no key in it"),
        ('{"private_key": "zz"}', False, "its private_key is not hex"),
        ('{"private_key": "00"}', False, "not a secp256k1 private key (1 bytes)"),
        ("zz", True, "not a hex private key"),
        ("", True, "not a secp256k1 private key (0 bytes)"),
        ("ff" * 32, True, "not a secp256k1 private key (32 bytes)"),
    ],
)
def test_importing_what_is_not_a_key_is_refused_and_creates_nothing(
    tmp_path: Path, content: str, hex_file: bool, says: str
) -> None:
    """An empty hex file once imported a new random key as if it were the user's."""
    source = tmp_path / "source"
    source.write_text(content)
    argv = ["keys", "import", "ivy", str(source), "--keyring", str(tmp_path / "ring")]
    argv += ["--keyring-backend", "test", *(["--hex"] if hex_file else [])]
    result = CliRunner().invoke(cli, argv)
    assert isinstance(result.exception, KeyringError), result.output
    assert says in str(result.exception)
    assert not (tmp_path / "ring" / "ivy.json").exists()


def test_a_keyring_refuses_an_empty_private_key_instead_of_making_one(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="0 bytes"):
        Keyring(tmp_path).add("jan", b"")
