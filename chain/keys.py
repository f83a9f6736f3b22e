"""A keyring: one JSON file per named secp256k1 key, readable only by its owner.

Private keys leave a key file only when a caller asks for them; listings show names, addresses
and public keys.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from app.core.crypto import SECP256K1_ORDER, address_of, public_key_of

KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeyringError(Exception):
    """A key is missing, exists already, or its file is unreadable."""


@dataclass(frozen=True)
class Key:
    """A named key pair; ``private_key`` is 32 raw bytes."""

    name: str
    private_key: bytes

    @property
    def pubkey(self) -> bytes:
        """Compressed public key."""
        return public_key_of(self.private_key)

    @property
    def address(self) -> str:
        """The account address the chain knows this key by."""
        return address_of(self.pubkey)

    def public_view(self) -> dict[str, str]:
        """What ``keys list`` and ``keys show`` print."""
        return {"name": self.name, "address": self.address, "pubkey": self.pubkey.hex()}


def default_keyring() -> Path:
    """``$MODELGOV_HOME/keys``, else the user's ``modelgov config set keyring DIR``, else
    ``~/.modelgov/keys``."""
    from chain import config

    home = os.environ.get("MODELGOV_HOME")
    configured = "" if home else config.get("keyring")
    if configured:
        return Path(configured).expanduser()
    return Path(home or str(Path.home() / ".modelgov")) / "keys"


def new_private_key() -> bytes:
    """32 random bytes that are a valid secp256k1 scalar."""
    while True:
        candidate = secrets.token_bytes(32)
        if 0 < int.from_bytes(candidate, "big") < SECP256K1_ORDER:
            return candidate


class Keyring:
    """The key files of one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        """The file of key ``name``; raises KeyringError for a name that is not a plain token."""
        if not KEY_NAME.match(name):
            raise KeyringError(f"key name {name!r}: use letters, digits, '.', '_', '-'")
        return self.directory / f"{name}.json"

    def add(self, name: str, private_key: bytes | None = None) -> Key:
        """Create (or import) key ``name``; refuses to overwrite an existing one."""
        path = self.path(name)
        if path.exists():
            raise KeyringError(f"key {name!r} already exists in {self.directory}")
        key = Key(name, private_key or new_private_key())
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        record = {**key.public_view(), "private_key": key.private_key.hex()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=2)
            handle.write("\n")
        return key

    def get(self, name: str) -> Key:
        """Load key ``name``; raises KeyringError saying how to create it when missing."""
        path = self.path(name)
        if not path.exists():
            raise KeyringError(
                f"no key {name!r} in {self.directory}; create it with `modelgov keys add {name}`"
            )
        try:
            record = json.loads(path.read_text())
            return Key(name, bytes.fromhex(record["private_key"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"key file {path} is unreadable: {exc}") from None

    def public(self, name: str) -> tuple[str, bytes]:
        """(address, public key) of key ``name``, read from its file's public part: no
        passphrase is needed to name an account by its key."""
        path = self.path(name)
        if not path.exists():
            raise KeyringError(f"no key {name!r} in {self.directory}")
        try:
            record = json.loads(path.read_text())
            pubkey = bytes.fromhex(record["pubkey"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"key file {path} is unreadable: {exc}") from None
        return address_of(pubkey), pubkey

    def names(self) -> list[str]:
        """Names of the keys in this keyring, sorted."""
        if not self.directory.exists():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json"))
