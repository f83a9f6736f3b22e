"""The Merkle-committed LevelDB state store.

``MerkleStore`` keeps the committed application state (flat key/value pairs) together with a
compressed sparse Merkle tree over it, whose root is the app hash. ``stage`` computes the root a
block's writes lead to, ``commit`` writes them atomically, and ``prove``/``verify_proof`` give and
check membership and non-membership proofs against a committed root.
"""

from app.store.leveldb_store import EMPTY_ROOT, CommittedView, MerkleStore, StagedCommit
from app.store.proof import Proof, ProofError, verify_proof
from app.store.smt import CorruptStoreError

__all__ = [
    "EMPTY_ROOT",
    "CommittedView",
    "CorruptStoreError",
    "MerkleStore",
    "Proof",
    "ProofError",
    "StagedCommit",
    "verify_proof",
]
