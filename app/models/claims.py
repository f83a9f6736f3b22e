"""Claims: commit to a digest in one block, publish it in a later one, and nobody can take it.

A PublishVersion waits in the mempool in the clear. Without claims, a member that reads the
weights digest there could publish it first and so hold it (``app.models.keeper``): it gets no
byte (stores check who uploaded their copy), but the owner's own publication is then refused
with ``digest_held``, for every new digest the owner publishes.

So a publisher first records a commitment with ``ClaimDigests``:
``sha256("modelgov/claim/v1" 0x00 digest 0x00 org 0x00 salt)``, with a fresh random 32-byte
salt. It names no digest and binds the organisation: nobody learns the digest from it, and a
copied commitment or salt is worth nothing to another organisation (its own reveal computes
another commitment). In a later block the PublishVersion carries the salt
(``claim_salt``); the chain recomputes the commitment for the sender's organisation and the
version's weights digest, and the claim's height becomes the priority of the holding it takes:
a claim made in an earlier block than the current holder's priority (its own claim's height,
else the height of its first version) takes that holding over, for the weights digest and for
every file the version lists (a manifest's digest commits to its files). Whoever publishes a
copied digest after seeing it in a mempool can only have claimed it after the owner did.

Bounds, all checked before anything is written: at most MAX_PER_MESSAGE distinct 32-byte
commitments per message, each charged GAS_PER_CLAIM; at most MAX_OPEN claims stored per
organisation; a claim made at height h can be revealed by a publication at heights h+1 to
h+TTL_BLOCKS-1 and is then deleted (a claim reveals once). Expired claims are pruned, oldest
first, when their organisation claims again, so what an organisation stores is bounded whatever
it sends. A claim belongs to the organisation id: a removed organisation cannot claim (its
accounts are gone), and an id re-admitted within a claim's life may reveal it (an id names one
member for the life of the chain). A holding is final once every claim older than it has
expired: TTL_BLOCKS after its priority height at most.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from app.core.errors import TxError
from app.models import errors, keys
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader

DOMAIN = b"modelgov/claim/v1"
SALT_BYTES = 32
COMMITMENT_BYTES = 32
MAX_PER_MESSAGE = 16
MAX_OPEN = 1024
TTL_BLOCKS = 10_000
"""About three hours at one block a second: a publication follows its claim by one block."""
GAS_PER_CLAIM = 2_000
"""A claim writes two new keys, about 0.2 ms of commit work each claim (measured through the
test driver: 16 claims in one message cost 3 ms more than one); a transaction's base gas
covers the writes of an ordinary message, not sixteen pairs of them (app.core.gas)."""
MAX_U64 = 2**64 - 1
COUNT_BYTES = 4


def commitment(digest: str, org: str, salt: bytes) -> bytes:
    """The commitment an organisation records for ``digest`` with ``salt`` (digest and org ids
    hold no NUL, so the parts cannot be shifted into one another)."""
    parts = (DOMAIN, digest.encode(), org.encode(), bytes(salt))
    return hashlib.sha256(b"\x00".join(parts)).digest()


class ClaimsReader:
    """Read-only view of the claims, for queries and the publication rule."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def claim(self, org: str, commitment_: bytes) -> state_pb2.DigestClaim | None:
        """The stored claim of ``org`` with this commitment (open or expired), or None."""
        raw = self.state.get(keys.claim_key(org, commitment_))
        return None if raw is None else state_pb2.DigestClaim.FromString(raw)

    def count(self, org: str) -> int:
        """How many claims of ``org`` are stored."""
        raw = self.state.get(keys.claim_count_key(org))
        return 0 if raw is None else int.from_bytes(raw, "big")


class ClaimsKeeper(ClaimsReader):
    """Record, prune and reveal claims: the only writer of the claim keys."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def record(self, org: str, commitments: Sequence[bytes], height: int) -> int:
        """Store ``org``'s new claims made at ``height``; returns the height they expire at.

        Raises TxError(too_many_claims, claim_exists); expired claims of ``org`` are pruned
        first, so they neither count nor block the same commitment made again.
        """
        self.prune(org, height)
        stored = self.count(org)
        if stored + len(commitments) > MAX_OPEN:
            raise TxError(
                errors.TOO_MANY_CLAIMS,
                f"{org} has {stored} open claims; {len(commitments)} more would pass {MAX_OPEN} "
                f"(publish or wait until they expire, {TTL_BLOCKS} blocks after each claim)",
            )
        expires = min(height + TTL_BLOCKS, MAX_U64)
        for made in commitments:
            if self.claim(org, made) is not None:
                raise TxError(errors.CLAIM_EXISTS, f"{org} already claimed {made.hex()}")
            found = state_pb2.DigestClaim(
                org=org, commitment=made, height=height, expires_height=expires
            )
            self.state.set(keys.claim_key(org, made), found.SerializeToString(deterministic=True))
            self.state.set(keys.claim_expiry_key(org, expires, made), b"\x01")
        self._set_count(org, stored + len(commitments))
        return expires

    def prune(self, org: str, height: int) -> int:
        """Delete ``org``'s claims that expired by ``height``, oldest first; returns how many.
        Each was written by a claim that paid for it, and at most MAX_OPEN are stored."""
        prefix = keys.claim_expiry_prefix(org)
        doomed: list[bytes] = []
        for key, _ in self.state.iterate(prefix):
            expires = int.from_bytes(key[len(prefix) : len(prefix) + 8], "big")
            if expires > height:
                break
            doomed.append(key)
        for key in doomed:
            self.state.delete(key)
            self.state.delete(keys.claim_key(org, key[len(prefix) + 8 :]))
        if doomed:
            self._set_count(org, self.count(org) - len(doomed))
        return len(doomed)

    def reveal(self, org: str, digest: str, salt: bytes, height: int) -> int:
        """Consume ``org``'s claim of ``digest`` with ``salt`` at publication height ``height``;
        returns the height the claim was made at.

        Raises TxError(claim_not_found, claim_too_recent, claim_expired).
        """
        made = commitment(digest, org, salt)
        found = self.claim(org, made)
        if found is None:
            raise TxError(
                errors.CLAIM_NOT_FOUND,
                f"{org} has no claim {made.hex()} (of {digest} with this salt); claim first",
            )
        if found.height >= height:
            raise TxError(
                errors.CLAIM_TOO_RECENT,
                f"the claim of {digest} was made at height {found.height}; a claim protects only "
                f"a publication in a later block",
            )
        if found.expires_height <= height:
            raise TxError(
                errors.CLAIM_EXPIRED,
                f"the claim of {digest} made at height {found.height} expired at height "
                f"{found.expires_height}; claim again",
            )
        self.state.delete(keys.claim_key(org, made))
        self.state.delete(keys.claim_expiry_key(org, found.expires_height, made))
        self._set_count(org, self.count(org) - 1)
        return found.height

    def restore(self, found: state_pb2.DigestClaim) -> None:
        """Write a stored claim with its expiry entry, and count it (genesis)."""
        encoded = found.SerializeToString(deterministic=True)
        self.state.set(keys.claim_key(found.org, found.commitment), encoded)
        expiry = keys.claim_expiry_key(found.org, found.expires_height, found.commitment)
        self.state.set(expiry, b"\x01")
        self._set_count(found.org, self.count(found.org) + 1)

    def _set_count(self, org: str, count: int) -> None:
        """Store the count (deleted at zero). A negative count is a broken invariant, never user
        input; a count above MAX_OPEN is not (a later release may lower the bound: the org
        then claims again once enough of its claims are revealed or expired)."""
        if not 0 <= count < 2 ** (8 * COUNT_BYTES):
            raise RuntimeError(f"claim count of {org} would be {count}")
        if count == 0:
            self.state.delete(keys.claim_count_key(org))
        else:
            self.state.set(keys.claim_count_key(org), count.to_bytes(COUNT_BYTES, "big"))


def check_claim_salt(salt: bytes) -> None:
    """A publication's claim salt is empty or 32 bytes; raises TxError(invalid_claim)."""
    if salt and len(salt) != SALT_BYTES:
        raise TxError(
            errors.INVALID_CLAIM,
            f"claim_salt is {len(salt)} bytes, not {SALT_BYTES} (or empty)",
        )
