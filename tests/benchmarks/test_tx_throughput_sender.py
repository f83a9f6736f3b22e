"""The throughput benchmark's senders go back to the node's next nonce after an admitted tx
left the mempool uncommitted, as a real client does; any other refusal stops them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from tx_throughput import Sender


def sender(first_nonce: int | None, sent: int) -> Sender:
    prepared = Sender(26657, [bytes([i]) for i in range(10)], first_nonce=first_nonce)
    prepared.next = sent
    return prepared


def test_a_nonce_gap_sends_again_from_the_nodes_next_nonce() -> None:
    s = sender(40, sent=7)
    assert s.resync("nonce_out_of_order: nonce 46 is ahead; the next is 43")
    assert (s.next, s.resyncs) == (3, 1)


def test_a_gap_it_cannot_explain_or_another_refusal_stops_the_sender() -> None:
    assert not sender(40, sent=7).resync("nonce 48 is ahead; the next is 47")  # not sent yet
    assert not sender(40, sent=7).resync("nonce 41 is ahead; the next is 39")  # before its txs
    assert not sender(40, sent=7).resync("denied: the license refuses")
    assert not sender(None, sent=7).resync("nonce 2 is ahead; the next is 1")  # not modelgov
