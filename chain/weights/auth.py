"""Signed store requests: the requester's account key signs method, path, time and a nonce.

Header: ``Authorization: Modelgov-Signature pubkey=<hex>,time=<unix>,nonce=<hex>,signature=<hex>``.
The signed bytes are ``modelgov-weights-v1\\n<METHOD>\\n<path with query>\\n<time>\\n<nonce>``
(secp256k1 ECDSA over SHA-256, 64-byte low-S, like transactions). A server refuses a time more
than ``MAX_SKEW`` seconds from its clock and a nonce it has seen within that window.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from app.core import crypto

SCHEME = "Modelgov-Signature"
MAX_SKEW = 120
DOMAIN = "modelgov-weights-v1"


class AuthError(Exception):
    """The request's signature is missing, malformed, stale, replayed or wrong (HTTP 401)."""


@dataclass(frozen=True)
class SignedBy:
    """Who signed a request."""

    pubkey: bytes
    address: str


def signed_message(method: str, path: str, when: int, nonce: str) -> bytes:
    """The exact bytes a request signature covers."""
    return f"{DOMAIN}\n{method.upper()}\n{path}\n{when}\n{nonce}".encode()


def authorization(private_key: bytes, method: str, path: str) -> str:
    """The Authorization header value for one request (fresh time and nonce)."""
    when, nonce = int(time.time()), secrets.token_hex(16)
    signature = crypto.sign(private_key, signed_message(method, path, when, nonce))
    pubkey = crypto.public_key_of(private_key).hex()
    return f"{SCHEME} pubkey={pubkey},time={when},nonce={nonce},signature={signature.hex()}"


class Verifier:
    """Checks request signatures and remembers nonces for the freshness window."""

    def __init__(self, max_skew: int = MAX_SKEW) -> None:
        self.max_skew = max_skew
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def verify(self, header: str | None, method: str, path: str) -> SignedBy:
        """The signer of a request; raises AuthError saying what is wrong."""
        fields = _parse(header)
        try:
            pubkey = bytes.fromhex(fields["pubkey"])
            signature = bytes.fromhex(fields["signature"])
            when = int(fields["time"])
        except (KeyError, ValueError):
            raise AuthError(
                "the signature header needs pubkey, time, nonce and signature"
            ) from None
        nonce = fields.get("nonce", "")
        if not 16 <= len(nonce) <= 64:
            raise AuthError("the nonce must be 16 to 64 characters")
        now = int(time.time())
        if abs(now - when) > self.max_skew:
            raise AuthError(f"request time {when} is more than {self.max_skew}s from {now}")
        if not crypto.is_valid_pubkey(pubkey) or not crypto.verify(
            pubkey, signed_message(method, path, when, nonce), signature
        ):
            raise AuthError("the signature does not match the request and key")
        self._remember(nonce, now)
        return SignedBy(pubkey, crypto.address_of(pubkey))

    def _remember(self, nonce: str, now: int) -> None:
        with self._lock:
            if nonce in self._seen:
                raise AuthError("this nonce was already used: a replayed request")
            self._seen[nonce] = now
            if len(self._seen) > 10_000:
                horizon = now - 2 * self.max_skew
                self._seen = {n: t for n, t in self._seen.items() if t >= horizon}


def _parse(header: str | None) -> dict[str, str]:
    if not header or not header.startswith(SCHEME + " "):
        raise AuthError(f"sign the request: Authorization: {SCHEME} pubkey=...,time=...,...")
    fields = {}
    for part in header[len(SCHEME) + 1 :].split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    return fields
