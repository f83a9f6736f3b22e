"""What a proposer expects a transaction to cost in block gas, from what its like cost before.

A block runs its transactions while they have used less than ``max_block_gas``; the rest are
refused unrun and keep their nonce, so each such refusal leaves its sender's later transactions
in the mempool out of order (they fail the re-check and the sender must send them again). A
proposer therefore stops its block where the gas it expects would pass the budget. A use's gas
is mostly its license's evaluation, known only by running it, but transactions of one shape
(the same message kinds on the same models) cost about the same: the last gas a shape used,
plus a margin, is the estimate. A shape with a use not seen yet (after a start, a newly
licensed model) counts UNSEEN_SHARE of the budget: the first block of a burst holds a few dozen
of them and learns their cost for the next, instead of thousands counted at TX_GAS of which the
block then refuses most (each uses about 7,500 gas under pay-per-use, so a block of 2,000 ran
1,330, and the other 670 senders' later transactions all left the mempool); another model's
uses say little, as its license may spin. Only uses get this: CheckTx admits a use only of a
published, licensed version, so their shapes are as few as the licensed models, while anyone
may send other messages naming any model (a publisher's publications of made-up names, each a
new shape, would otherwise hold every block to UNSEEN_SHARE transactions). An unseen shape
without a use counts what its kinds of message last cost, else TX_GAS. Shapes are remembered by
a digest, so a proposer's transactions naming huge models cost the cache no more than others.
This is the proposer's own choice (PrepareProposal need not be deterministic): no validator's
state or answer depends on it, and a wrong estimate costs a smaller block, or a refusal as
before.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

from app.core.env import TxResult
from app.core.errors import BLOCK_GAS_EXHAUSTED, TxError
from app.core.gas import TX_GAS
from app.core.tx import decode_envelope
from app.pb.modelgov.v1 import state_pb2, tx_pb2

SHAPES = 4096
"""Shapes remembered, the most recently seen."""
MARGIN_PERCENT = 10
"""Added to a shape's last gas: uses of one license differ a little (tiers, notes)."""
UNSEEN_SHARE = 32
"""A transaction of a shape not seen yet counts the block's budget divided by this."""

Shape = bytes
"""A digest of a transaction's messages' kinds and models (``shape_of``)."""
exhausted = (BLOCK_GAS_EXHAUSTED.codespace, BLOCK_GAS_EXHAUSTED.code)
USE = "use"


def shape_of(body: tx_pb2.TxBody) -> tuple[Shape, Shape, bool]:
    """The digests of each message's kind and model (empty where a kind names none; not its
    version, which a publication names anew each time) and of the kinds alone, and whether a
    message is a use."""
    exact, kinds = hashlib.sha256(), hashlib.sha256()
    has_use = False
    for msg in body.messages:
        kind = msg.WhichOneof("sum") or ""
        model = getattr(getattr(msg, kind), "model", "") if kind else ""
        has_use = has_use or kind == USE
        exact.update(_framed(kind) + _framed(model if isinstance(model, str) else ""))
        kinds.update(_framed(kind))
    return exact.digest()[:16], b"k" + kinds.digest()[:16], has_use


def _framed(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(4, "big") + data


class GasEstimates:
    """The last block gas each transaction shape used, bounded."""

    def __init__(self, capacity: int = SHAPES) -> None:
        self.capacity = capacity
        self._gas: OrderedDict[Shape, int] = OrderedDict()

    def expected(self, body: tx_pb2.TxBody, budget: int) -> int:
        """The gas a block of ``budget`` will count for a transaction of this body."""
        exact, kinds, has_use = shape_of(body)
        last = self._gas.get(exact)
        if last is None and has_use:
            return max(TX_GAS, budget // UNSEEN_SHARE)
        if last is None:
            last = self._gas.get(kinds)
        if last is None:
            return TX_GAS
        return max(TX_GAS, last + last * MARGIN_PERCENT // 100)

    def learn(
        self, txs: Sequence[bytes], results: Sequence[TxResult], params: state_pb2.Params
    ) -> None:
        """Remember what each decodable transaction of a finalized block counted (one the
        budget refused unrun says nothing of its cost)."""
        for raw, result in zip(txs, results, strict=False):
            if (result.codespace, result.code) == exhausted:
                continue
            try:
                body = decode_envelope(raw, params.max_tx_bytes)[1]
            except TxError:
                continue
            exact, kinds, _ = shape_of(body)
            for shape in (exact, kinds):
                self._gas[shape] = max(result.gas_used, TX_GAS)
                self._gas.move_to_end(shape)
            while len(self._gas) > self.capacity:
                self._gas.popitem(last=False)
