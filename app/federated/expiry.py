"""The end of a block: rounds whose deadline has come close without a version."""

from __future__ import annotations

from app.core.env import BlockEnv, Event
from app.federated import events as event_types
from app.federated.keeper import FederatedKeeper
from app.pb.modelgov.v1 import federated_pb2
from app.state import Overlay


def close_expired_rounds(state: Overlay, env: BlockEnv) -> tuple[Event, ...]:
    """Close every round still open at the end of its deadline block, oldest deadline first.

    Called after the block's transactions, so a finalize in the deadline block itself counts.
    """
    keeper = FederatedKeeper(state)
    due = list(keeper.due(env.height))
    events = []
    for round_id in due:
        record = keeper.round(round_id)
        if record is None or record.status != federated_pb2.ROUND_STATUS_OPEN:
            raise RuntimeError(f"round {round_id} is indexed as open but is not")
        keeper.expire(record, env.height, _reason(record))
        events.append(Event(event_types.ROUND_EXPIRED, (("id", str(round_id)),)))
    return tuple(events)


def _reason(record: federated_pb2.Round) -> str:
    count, needed = len(record.submissions), record.min_participants
    if count < needed:
        return f"{count} of {needed} required updates by the deadline"
    return "not finalized by the deadline"
