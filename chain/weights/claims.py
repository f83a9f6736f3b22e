"""Claim before publishing: the client side of ``app.models.claims``.

A PublishVersion waits in the mempool in the clear; whoever reads its digest there could publish
it first. So ``push`` publishes a digest nobody holds yet in two steps: a ClaimDigests carrying
only a commitment to the digest (a fresh random 32-byte salt), committed in one block; then the
PublishVersion revealing the salt, in a later block. A claim older than the holding of anyone
who published the digest in between takes the holding back. A digest the pusher's organisation
already holds needs no claim, and neither does one another organisation holds (a claim made now
could not be older than its holding: the publication needs that holder's consent, as before).

The salt is kept in memory. Given a state directory (the CLI gives ``$MODELGOV_HOME/claims``,
``~/.modelgov/claims`` by default), it is also written there, in
``<chain id>/<org>-<digest hex>.salt`` (mode 0600), before the claim is sent, and deleted once
the version is published. A push stopped after its publication was broadcast but before it was
committed (the digest is public then) can be run again: it finds the salt, checks that its claim
is still open on chain, and reveals that older claim instead of making a new one. Until the
version is published the file is the only secret that ties the claim to the digest; it is
worthless to anyone else (the commitment binds the organisation).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from app.models.claims import SALT_BYTES, commitment
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain.client import TxOutcome
from chain.keys import Key

Say = Callable[[str], None]


class ClaimNode(Protocol):
    """What claiming asks of a node (``chain.client.Node`` has it)."""

    @property
    def chain_id(self) -> str: ...

    def height(self) -> int: ...

    def holder(self, digest: str) -> state_pb2.DigestHolder | None: ...

    def claim(self, org: str, commitment: bytes) -> state_pb2.DigestClaim | None: ...

    def send(self, key: Key, msgs: list[tx_pb2.Msg], memo: str = "") -> TxOutcome: ...


def default_state_dir() -> Path:
    """``$MODELGOV_HOME/claims``, or ``~/.modelgov/claims``."""
    home = os.environ.get("MODELGOV_HOME") or str(Path.home() / ".modelgov")
    return Path(home) / "claims"


class SaltFile:
    """The salt of one pending claim, kept on disk until its version is published."""

    def __init__(self, state_dir: Path, chain_id: str, org: str, digest: str) -> None:
        name = f"{org}-{digest.removeprefix('sha256:')}.salt"
        self.path = state_dir / _safe(chain_id) / _safe(name)

    def load(self) -> bytes | None:
        """The saved salt, or None if there is none (or it is not 32 bytes of hex)."""
        try:
            salt = bytes.fromhex(self.path.read_text().strip())
        except (OSError, ValueError):
            return None
        return salt if len(salt) == SALT_BYTES else None

    def save(self, salt: bytes) -> None:
        """Write the salt, readable by its owner only, replacing any earlier one at once."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        part = self.path.with_name(self.path.name + ".part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(salt.hex() + "\n")
        part.replace(self.path)

    def remove(self) -> None:
        """Forget the salt (its version is published, or it can no longer be revealed), and
        the chain's directory with it when no other salt waits there."""
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # another salt still waits there
            self.path.parent.rmdir()


def _safe(name: str) -> str:
    """A file name from chain and org ids: ASCII letters, digits, '.', '_' and '-' only."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)


def claim_for_publish(
    node: ClaimNode,
    key: Key,
    org: str,
    digest: str,
    saved: SaltFile | None = None,
    say: Say | None = None,
) -> bytes:
    """The salt the publication of ``digest`` reveals, after claiming it if need be; b"" when
    the publication needs no claim. Returns once the claim is committed, so the publication
    sent next lands in a later block."""
    tell = say or (lambda _: None)
    reused = _open_claim(node, org, digest, saved)
    if reused is not None:
        tell(f"reusing the claim of {digest} made at height {reused[1]}")
        return reused[0]
    held = node.holder(digest)
    if held is not None:
        if saved is not None:
            saved.remove()
        if held.org != org:
            tell(f"{digest} is held by {held.org}: publishing needs its consent")
        return b""
    salt = secrets.token_bytes(SALT_BYTES)
    if saved is not None:
        saved.save(salt)
    tell(f"claiming {digest} (one block)...")
    made = commitment(digest, org, salt)
    outcome = node.send(key, [tx_pb2.Msg(claim_digests=tx_pb2.ClaimDigests(commitments=[made]))])
    tell(f"claimed at height {outcome.height}")
    return salt


def _open_claim(
    node: ClaimNode, org: str, digest: str, saved: SaltFile | None
) -> tuple[bytes, int] | None:
    """(salt, claim height) of a saved claim still open for a publication in the next block."""
    salt = saved.load() if saved is not None else None
    if salt is None:
        return None
    found = node.claim(org, commitment(digest, org, salt))
    if found is None or found.expires_height <= node.height() + 1:
        return None
    return salt, found.height
