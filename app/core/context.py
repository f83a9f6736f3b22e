"""What a message handler is given: the state to change, the block, the sender, the limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.env import BlockEnv, Event
from app.core.gas import GasMeter
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay


@dataclass(frozen=True)
class MsgContext:
    """One message's execution context; ``state`` is the transaction's own overlay."""

    state: Overlay
    env: BlockEnv
    sender: state_pb2.Account
    tx_hash: bytes
    params: state_pb2.Params
    gas: GasMeter = field(default_factory=GasMeter)
    """What the transaction's messages used beyond the fixed costs (app.core.gas)."""
    emitted: list[Event] = field(default_factory=list)
    """Events a handler emits besides the one it returns (the credit moves of a use)."""
