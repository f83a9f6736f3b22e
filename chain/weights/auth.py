"""Signed store requests, bound to the store they are sent to.

Header::

    Authorization: Modelgov-Signature store=<origin>,pubkey=<hex>,time=<unix>,nonce=<token>,
                   signature=<hex>

The signed bytes are ``modelgov-weights-v2\\n<store>\\n<METHOD>\\n<path with query>\\n<time>\\n
<nonce>`` (secp256k1 ECDSA over SHA-256, 64-byte low-S, like transactions). ``<store>`` is the
origin of the store the request is for (``http://127.0.0.1:26662``: scheme, lowercase host and
port), so a store, or anyone who sees a request on its way, cannot replay it to another store: a
server refuses a request signed for an origin that is not its own. It refuses a time more than
``MAX_SKEW`` seconds from its clock, and a nonce the same key used within the window.

Nonces are kept per key, in insertion order, each for ``2 * MAX_SKEW`` seconds (after that its
time can no longer pass the skew check): checking and remembering are O(1), expired nonces are
dropped from the front as new ones come, and both the nonces per key and the keys are bounded.
Only requests the ledger allowed are remembered, so strangers cannot fill the book.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from app.core import crypto

SCHEME = "Modelgov-Signature"
MAX_SKEW = 120
DOMAIN = "modelgov-weights-v2"
MAX_NONCES_PER_KEY = 20_000
MAX_KEYS = 50_000
MAX_HEADER = 1024
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_HEX_KEY = re.compile(r"[0-9a-f]{66}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{128}")
_TIME = re.compile(r"[0-9]{1,12}")


class AuthError(Exception):
    """The request's signature is missing, malformed, stale, replayed, for another store or
    wrong (HTTP 401)."""


class BusyError(Exception):
    """The nonce book is full: the key, or the store, is asked too often (HTTP 429 or 503)."""


@dataclass(frozen=True)
class SignedBy:
    """Who signed a request, and the nonce it used."""

    pubkey: bytes
    address: str
    nonce: str


def origin(url: str) -> str:
    """A store's identity: ``scheme://host:port`` of its URL, lowercase, with the port."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a store URL (http[s]://host[:port]): {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    host = parts.hostname.lower()
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"


def signed_message(store: str, method: str, path: str, when: int, nonce: str) -> bytes:
    """The exact bytes a request signature covers."""
    return f"{DOMAIN}\n{store}\n{method.upper()}\n{path}\n{when}\n{nonce}".encode()


def authorization(private_key: bytes, method: str, path: str, store: str) -> str:
    """The Authorization header value for one request to the store at URL ``store``."""
    home = origin(store)
    when, nonce = int(time.time()), secrets.token_hex(16)
    signature = crypto.sign(private_key, signed_message(home, method, path, when, nonce))
    pubkey = crypto.public_key_of(private_key).hex()
    return (
        f"{SCHEME} store={home},pubkey={pubkey},time={when},nonce={nonce},"
        f"signature={signature.hex()}"
    )


class Verifier:
    """Checks request signatures for one store (one or more origins it answers as)."""

    def __init__(self, origins: list[str], max_skew: int = MAX_SKEW) -> None:
        self.origins = [origin(url) for url in origins]
        self.max_skew = max_skew
        self.nonces = NonceBook(2 * max_skew)

    def verify(self, header: str | None, method: str, path: str) -> SignedBy:
        """The signer of a request whose nonce is not used yet; raises AuthError saying what is
        wrong. The nonce is remembered only by ``accept``, once the ledger allowed it."""
        fields = _parse(header)
        store = fields.get("store", "")
        if store not in self.origins:
            raise AuthError(
                f"the request is signed for store {store[:100]!r}; this store is "
                f"{' or '.join(self.origins)}"
            )
        pubkey, signature, when, nonce = _fields(fields)
        now = int(time.time())
        if abs(now - when) > self.max_skew:
            raise AuthError(f"request time {when} is more than {self.max_skew}s from {now}")
        if self.nonces.seen(pubkey, nonce):
            raise AuthError("this nonce was already used: a replayed request")
        message = signed_message(store, method, path, when, nonce)
        if not crypto.is_valid_pubkey(pubkey) or not crypto.verify(pubkey, message, signature):
            raise AuthError("the signature does not match the request, store and key")
        return SignedBy(pubkey, crypto.address_of(pubkey), nonce)

    def accept(self, signed: SignedBy) -> None:
        """Remember the nonce of an allowed request; raises AuthError if another request with
        it got there first, BusyError if the book is full."""
        self.nonces.remember(signed.pubkey, signed.nonce, time.monotonic())


@dataclass
class _KeyNonces:
    """One key's nonces: a set for lookups and their expiries in insertion order."""

    expiry: dict[str, float] = field(default_factory=dict)
    order: deque[tuple[float, str]] = field(default_factory=deque)

    def drop_expired(self, now: float) -> None:
        while self.order and self.order[0][0] <= now:
            _, nonce = self.order.popleft()
            self.expiry.pop(nonce, None)


class NonceBook:
    """Nonces per key for ``keep`` seconds, bounded per key and in keys; O(1) per request."""

    def __init__(
        self, keep: float, per_key: int = MAX_NONCES_PER_KEY, keys: int = MAX_KEYS
    ) -> None:
        self.keep = keep
        self.per_key = per_key
        self.max_keys = keys
        self._keys: OrderedDict[bytes, _KeyNonces] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, pubkey: bytes, nonce: str) -> bool:
        """Whether ``pubkey`` used ``nonce`` within the window."""
        with self._lock:
            entry = self._keys.get(pubkey)
            return entry is not None and entry.expiry.get(nonce, 0.0) > time.monotonic()

    def remember(self, pubkey: bytes, nonce: str, now: float) -> None:
        """Record a nonce; raises AuthError on a replay, BusyError when a bound is reached."""
        with self._lock:
            entry = self._keys.get(pubkey)
            if entry is None:
                self._evict_idle(now)
                if len(self._keys) >= self.max_keys:
                    raise BusyError("this store tracks too many signing keys; retry later")
                entry = self._keys[pubkey] = _KeyNonces()
            self._keys.move_to_end(pubkey)
            entry.drop_expired(now)
            if entry.expiry.get(nonce, 0.0) > now:
                raise AuthError("this nonce was already used: a replayed request")
            if len(entry.order) >= self.per_key:
                raise BusyError(f"over {self.per_key} requests from this key in {self.keep:.0f}s")
            entry.expiry[nonce] = now + self.keep
            entry.order.append((now + self.keep, nonce))

    def _evict_idle(self, now: float) -> None:
        """Forget keys whose every nonce expired, oldest first (at most a few per call)."""
        for _ in range(2):
            if not self._keys:
                return
            oldest, entry = next(iter(self._keys.items()))
            entry.drop_expired(now)
            if entry.order:
                return
            del self._keys[oldest]

    def __len__(self) -> int:
        with self._lock:
            return sum(len(entry.order) for entry in self._keys.values())


def _fields(fields: dict[str, str]) -> tuple[bytes, bytes, int, str]:
    """pubkey, signature, time and nonce, each checked for form before any conversion."""
    pubkey, signature = fields.get("pubkey", ""), fields.get("signature", "")
    when, nonce = fields.get("time", ""), fields.get("nonce", "")
    if not (_HEX_KEY.fullmatch(pubkey) and _HEX_SIGNATURE.fullmatch(signature)):
        raise AuthError("pubkey is 66 hex digits and signature 128 (lowercase)")
    if not _TIME.fullmatch(when):
        raise AuthError("time is unix seconds")
    if not _NONCE.fullmatch(nonce):
        raise AuthError("the nonce is 16 to 64 characters of letters, digits, '-' and '_'")
    return bytes.fromhex(pubkey), bytes.fromhex(signature), int(when), nonce


def _parse(header: str | None) -> dict[str, str]:
    if not header or not header.startswith(SCHEME + " "):
        raise AuthError(f"sign the request: Authorization: {SCHEME} store=...,pubkey=...,...")
    if len(header) > MAX_HEADER:
        raise AuthError(f"the signature header is over {MAX_HEADER} characters")
    fields = {}
    for part in header[len(SCHEME) + 1 :].split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    return fields
