"""From the core's dataclasses to ABCI protobuf responses, and the block-size arithmetic."""

from __future__ import annotations

from app.abci.wire import encode_uvarint
from app.core.env import Event, TxResult, ValidatorChange
from app.pb.tendermint.abci import types_pb2 as abci
from app.pb.tendermint.crypto import keys_pb2


def event(e: Event) -> abci.Event:
    """An indexed ABCI event."""
    return abci.Event(
        type=e.type,
        attributes=[abci.EventAttribute(key=k, value=v, index=True) for k, v in e.attributes],
    )


def exec_tx_result(r: TxResult) -> abci.ExecTxResult:
    """FinalizeBlock's result for one tx."""
    return abci.ExecTxResult(
        code=r.code,
        codespace=r.codespace,
        log=r.log,
        info=r.info,
        data=r.data,
        gas_wanted=r.gas_wanted,
        gas_used=r.gas_used,
        events=[event(e) for e in r.events],
    )


def fill_exec_tx_result(target: abci.ExecTxResult, r: TxResult) -> None:
    """Write one tx's FinalizeBlock result into ``target`` (a ``tx_results.add()``): the same
    bytes as ``exec_tx_result``, without building every event and attribute twice (a block of
    a thousand uses holds tens of thousands of attributes)."""
    target.code = r.code
    target.codespace = r.codespace
    target.log = r.log
    target.info = r.info
    target.data = r.data
    target.gas_wanted = r.gas_wanted
    target.gas_used = r.gas_used
    for e in r.events:
        fill_event(target.events.add(), e)


def fill_event(target: abci.Event, e: Event) -> None:
    """Write an indexed ABCI event into ``target``, as ``event`` builds it."""
    target.type = e.type
    add = target.attributes.add
    for k, v in e.attributes:
        add(key=k, value=v, index=True)


def check_tx_response(r: TxResult) -> abci.ResponseCheckTx:
    """CheckTx's answer."""
    return abci.ResponseCheckTx(
        code=r.code, codespace=r.codespace, log=r.log, gas_wanted=r.gas_wanted
    )


def proto_size_in_block(tx: bytes) -> int:
    """Bytes a tx takes in a block's data, as the engine counts them against max_tx_bytes:
    the repeated-field tag, the length prefix and the tx itself."""
    return 1 + len(encode_uvarint(len(tx))) + len(tx)


def validator_update(change: ValidatorChange) -> abci.ValidatorUpdate:
    """A validator power change for the engine (ed25519)."""
    return abci.ValidatorUpdate(
        pub_key=keys_pb2.PublicKey(ed25519=change.pubkey), power=change.power
    )
