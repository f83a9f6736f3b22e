"""A keyring: one JSON file per named secp256k1 key, readable only by its owner, its private key
encrypted under a passphrase unless it is a testnet's key.

Private keys leave a key file only when a caller asks for them; listings show names, addresses
and public keys (read from the files' public parts, with no passphrase).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        if is_private_key(candidate):
            return candidate


def is_private_key(raw: bytes) -> bool:
    """Whether ``raw`` is a secp256k1 private key: 32 bytes, a scalar in 1..n-1."""
    return len(raw) == 32 and 0 < int.from_bytes(raw, "big") < SECP256K1_ORDER


Passphrase = str | Callable[[str], str] | None
"""A key's passphrase, or a function of the key's name that asks for it (a prompt)."""

PASSPHRASE_ENV = "MODELGOV_KEYRING_PASSPHRASE"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
"""Scrypt's cost for new key files: about 32 MiB and a fraction of a second per unlock."""
MAX_SCRYPT_N, MAX_SCRYPT_R, MAX_SCRYPT_P = 2**20, 16, 4
"""The most a key file may ask of scrypt (a hostile file cannot make unlocking take hours)."""
AAD = b"modelgov-key-v1:"


def seal(private_key: bytes, passphrase: str) -> dict[str, Any]:
    """The private key encrypted under ``passphrase``: scrypt (hashlib) derives a 256-bit key
    from it and a random salt; ChaCha20-Poly1305 (the ``cryptography`` package) encrypts and
    authenticates, bound to the public key (associated data), so a file whose public part was
    swapped does not decrypt."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    pubkey = public_key_of(private_key).hex()
    derived = _derive(passphrase, salt, SCRYPT["n"], SCRYPT["r"], SCRYPT["p"])
    sealed = ChaCha20Poly1305(derived).encrypt(nonce, private_key, AAD + pubkey.encode())
    return {
        "kdf": "scrypt",
        **SCRYPT,
        "salt": salt.hex(),
        "cipher": "chacha20-poly1305",
        "nonce": nonce.hex(),
        "ciphertext": sealed.hex(),
    }


def unseal(encryption: dict[str, Any], pubkey_hex: str, passphrase: str) -> bytes:
    """The private key of an encrypted key file; raises KeyringError for a wrong passphrase, a
    tampered file or costs past the bounds."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    try:
        n, r, p = int(encryption["n"]), int(encryption["r"]), int(encryption["p"])
        if encryption["kdf"] != "scrypt" or encryption["cipher"] != "chacha20-poly1305":
            raise ValueError("unknown kdf or cipher")
        if not (1 < n <= MAX_SCRYPT_N and 0 < r <= MAX_SCRYPT_R and 0 < p <= MAX_SCRYPT_P):
            raise ValueError(f"scrypt costs n={n} r={r} p={p} are past the bounds")
        salt, nonce = bytes.fromhex(encryption["salt"]), bytes.fromhex(encryption["nonce"])
        sealed = bytes.fromhex(encryption["ciphertext"])
    except (KeyError, ValueError, TypeError) as exc:
        raise KeyringError(f"the key file's encryption is malformed: {exc}") from None
    derived = _derive(passphrase, salt, n, r, p)
    try:
        private = ChaCha20Poly1305(derived).decrypt(nonce, sealed, AAD + pubkey_hex.encode())
    except (InvalidTag, ValueError):
        raise KeyringError("wrong passphrase (or the key file was altered)") from None
    return private


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """Scrypt of the passphrase's UTF-8 bytes; bytes that were not UTF-8 (a non-UTF-8
    environment or terminal hands them over as lone surrogates) are used as they came, so such
    a passphrase works, and a wrong one is "wrong passphrase", not a UnicodeEncodeError."""
    memory = 128 * r * (n + p + 2) + 1024 * 1024
    secret = passphrase.encode("utf-8", "surrogateescape")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=memory, dklen=32)


class Keyring:
    """The key files of one directory.

    A key file holds the key's name, address and public key in the clear, and its private key
    either encrypted under a passphrase (``encryption``: scrypt + ChaCha20-Poly1305, the
    default of ``modelgov keys add``) or, for testnets only, in the clear (``private_key``;
    ``--keyring-backend test``, and the keys ``testnet init`` generates). ``passphrase``
    unlocks encrypted keys: a string, or a function of the key's name that asks for it.
    """

    def __init__(self, directory: Path, passphrase: Passphrase = None) -> None:
        self.directory = directory
        self.passphrase = passphrase

    def path(self, name: str) -> Path:
        """The file of key ``name``; raises KeyringError for a name that is not a plain token."""
        if not KEY_NAME.match(name):
            raise KeyringError(f"key name {name!r}: use letters, digits, '.', '_', '-'")
        return self.directory / f"{name}.json"

    def add(
        self, name: str, private_key: bytes | None = None, passphrase: str | None = None
    ) -> Key:
        """Create (or import) key ``name``, encrypted under ``passphrase`` when one is given
        (else in the clear: the test backend); refuses to overwrite an existing one, and an
        imported key that is not a secp256k1 private key (an empty one is not a request for a
        new key)."""
        path = self.path(name)
        if path.exists():
            raise KeyringError(f"key {name!r} already exists in {self.directory}")
        if private_key is not None and not is_private_key(private_key):
            raise KeyringError(
                f"not a secp256k1 private key ({len(private_key)} bytes): it must be 32 bytes, "
                "a number from 1 to the curve's order less 1"
            )
        key = Key(name, new_private_key() if private_key is None else private_key)
        record: dict[str, Any] = dict(key.public_view())
        if passphrase:
            record["encryption"] = seal(key.private_key, passphrase)
        else:
            record["private_key"] = key.private_key.hex()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=2)
            handle.write("\n")
        return key

    def record(self, name: str) -> dict[str, Any]:
        """The key file of ``name`` as stored; raises KeyringError when missing or unreadable."""
        path = self.path(name)
        if not path.exists():
            raise KeyringError(
                f"no key {name!r} in {self.directory}; create it with `modelgov keys add {name}`"
            )
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or "pubkey" not in record:
                raise ValueError("not a key file")
            return record
        except (OSError, ValueError) as exc:
            raise KeyringError(f"key file {path} is unreadable: {exc}") from None

    def encrypted(self, name: str) -> bool:
        """Whether key ``name``'s private key is encrypted at rest."""
        return "encryption" in self.record(name)

    def get(self, name: str) -> Key:
        """Load key ``name`` (unlocking it with the keyring's passphrase when encrypted);
        raises KeyringError saying how to create it when missing, or why it is locked."""
        record = self.record(name)
        try:
            if "encryption" not in record:
                return Key(name, bytes.fromhex(record["private_key"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"key file {self.path(name)} is unreadable: {exc}") from None
        passphrase = self._passphrase(name)
        key = Key(name, unseal(record["encryption"], str(record["pubkey"]), passphrase))
        if key.pubkey.hex() != record["pubkey"]:
            raise KeyringError(f"key file {self.path(name)}: the private key is not the pubkey's")
        return key

    def _passphrase(self, name: str) -> str:
        found = self.passphrase if isinstance(self.passphrase, str) else None
        found = found or os.environ.get(PASSPHRASE_ENV)
        if not found and callable(self.passphrase):
            found = self.passphrase(name)
        if not found:
            raise KeyringError(
                f"key {name!r} is encrypted: give its passphrase (${PASSPHRASE_ENV}, or a prompt)"
            )
        return found

    def delete(self, name: str) -> None:
        """Remove key ``name``'s file; raises KeyringError when there is none."""
        self.record(name)
        self.path(name).unlink()

    def public(self, name: str) -> tuple[str, bytes]:
        """(address, public key) of key ``name``, read from its file's public part: no
        passphrase is needed to name an account by its key."""
        record = self.record(name)
        try:
            pubkey = bytes.fromhex(record["pubkey"])
        except (ValueError, TypeError) as exc:
            raise KeyringError(f"key file {self.path(name)} is unreadable: {exc}") from None
        return address_of(pubkey), pubkey

    def names(self) -> list[str]:
        """Names of the keys in this keyring, sorted."""
        if not self.directory.exists():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json"))
