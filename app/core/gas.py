"""Gas of a transaction, and the budget of a block: what bounds how long a block takes.

There are no fees, so nothing else stops one member from filling blocks with transactions that
are each within their own limits but together take the validators minutes to execute (a use of
an expensive license, a deploy of the largest script). Every transaction costs TX_GAS and
MSG_GAS per message, plus what its messages report: a use the gas its license evaluation used
(failed evaluations included), a deploy DEPLOY_GAS_PER_BYTE per byte of source and of
parameters (the deploy check's cost). FinalizeBlock executes transactions in order while the
block's gas is below ``max_block_gas``; later ones are refused with ``block_gas_exhausted``
without running and keep their nonce, so their senders send them again. The unit is the
license interpreter's gas, about a tenth of a microsecond of host work
(benchmarks/license_gas_fuzz.py).
"""

from __future__ import annotations

from app.pb.modelgov.v1 import state_pb2

TX_GAS = 5_000
"""Decoding, the signature, the account and the writes every transaction makes: about 0.45 ms
of FinalizeBlock and Commit per transaction on the benchmark machine (benchmarks/RESULTS.md),
so a block of max_block_gas // TX_GAS transactions that do nothing else takes about a second."""
MSG_GAS = 1_000
"""Routing, the stateless checks and the context of one more message (about 0.1-0.17 ms)."""
DEPLOY_GAS_PER_BYTE = 20
"""The deploy check parses and walks a script at one to three microseconds per byte, and walks,
converts and stores its parameters at a fifth to a third of a microsecond per encoded byte."""
LOAD_GAS_PER_BYTE = 20
"""A license's first use in a block pays for checking its script again (the program cache may
have let it go; whether it did differs between nodes, so every node charges it). Later uses in
the same block find it pinned in the cache and pay nothing more."""
PUBLISH_GAS = 2_000
"""A version's publication: its record, its indexes (owner, order, digest, children), the
digest's holding and its event, about 0.2 ms of host work beyond the fixed costs."""
LIST_ITEM_GAS = 150
"""Each parent, metric, storage URI, dataset digest and consent receipt a version names: a
lookup or an index entry, and its bytes in the record; each account (a key to parse) and
attribute an organisation's admission names (app.members.validation)."""
ATTEST_GAS = 1_000
"""An attestation: its record, its two indexes and its event (metrics are LIST_ITEM_GAS each;
16 attestations of 64 metrics took 18 ms for 4 200 gas before they were priced)."""
FILE_GAS = 2_000
"""Each file a version's manifest lists: its holding or consent check, its file, holder and
containment entries (about 0.18 ms a file; 550 files in one 47 kB transaction took 99 ms)."""
DEFAULT_MAX_BLOCK_GAS = 10_000_000


class GasMeter:
    """Gas a transaction's messages used beyond the fixed costs; only grows. ``loaded`` names
    the licenses loaded earlier in the same block (shared by the block's meters). ``pins``:
    whether a program loaded under this meter stays cached until Commit (a block's meters do,
    so its later uses find what they did not pay for again; a dry run's does not, so queries
    pin nothing, app.licenses.programs)."""

    __slots__ = ("loaded", "pins", "used")

    def __init__(self, loaded: set[str] | None = None, pins: bool = True) -> None:
        self.used = 0
        self.loaded: set[str] = set() if loaded is None else loaded
        self.pins = pins

    def consume(self, amount: int) -> None:
        """Count ``amount`` more gas (non-negative)."""
        self.used += max(0, amount)


def base_gas(messages: int) -> int:
    """What a transaction of ``messages`` messages costs before its messages run."""
    return TX_GAS + MSG_GAS * messages


def block_budget(params: state_pb2.Params) -> int:
    """The gas a block's transactions may use (parameters stored before the field: default)."""
    return params.max_block_gas or DEFAULT_MAX_BLOCK_GAS
