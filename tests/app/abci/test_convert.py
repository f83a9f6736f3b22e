"""The ABCI conversions: results written in place give the bytes the builders give."""

from __future__ import annotations

import pytest

from app.abci.convert import event, exec_tx_result, fill_event, fill_exec_tx_result
from app.core.env import Event, TxResult
from app.pb.tendermint.abci import types_pb2 as abci

EVENTS = (
    Event("use", (("model", "uni/m"), ("fee", "7"), ("note", "é\u2028\x00"))),
    Event("empty"),
    Event("", (("", ""),)),
)
RESULTS = [
    TxResult(),
    TxResult(code=7, codespace="usage", log="denied: 'x'", gas_wanted=5, gas_used=3),
    TxResult(events=EVENTS, gas_wanted=2**62, gas_used=1, data=b"\x00\xff", info="use,use"),
]


@pytest.mark.parametrize("result", RESULTS)
def test_fill_exec_tx_result_writes_the_same_bytes(result: TxResult) -> None:
    built = abci.ResponseFinalizeBlock(tx_results=[exec_tx_result(result)])
    filled = abci.ResponseFinalizeBlock()
    fill_exec_tx_result(filled.tx_results.add(), result)
    assert filled.SerializeToString() == built.SerializeToString()


@pytest.mark.parametrize("e", EVENTS)
def test_fill_event_writes_the_same_bytes(e: Event) -> None:
    filled = abci.Event()
    fill_event(filled, e)
    assert filled.SerializeToString() == event(e).SerializeToString()
