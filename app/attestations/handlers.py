"""The attestations message server: any auditor records a run about any published version.

Each handler assumes its message passed ``app.attestations.validation`` and the sender holds the
route's role; it raises ``TxError`` for anything the state refuses.
"""

from __future__ import annotations

from app.attestations import errors, events
from app.attestations.keeper import AttestationsKeeper
from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.models.keeper import ModelsReader
from app.pb.modelgov.v1 import federated_pb2, tx_pb2


def attest(ctx: MsgContext, msg: tx_pb2.Attest) -> Event:
    """Append an attestation about a published version, naming the sender and its org."""
    if ModelsReader(ctx.state).version(msg.model, msg.version) is None:
        raise TxError(errors.VERSION_NOT_FOUND, f"{msg.model}@{msg.version} is not published")
    record = AttestationsKeeper(ctx.state).append(
        federated_pb2.Attestation(
            model=msg.model,
            version=msg.version,
            kind=msg.kind,
            dataset_digest=msg.dataset_digest,
            metrics=msg.metrics,
            artifact_digest=msg.artifact_digest,
            method=msg.method,
            attester=ctx.sender.address,
            org=ctx.sender.org,
            height=ctx.env.height,
            time=ctx.env.time,
            tx_hash=ctx.tx_hash,
        )
    )
    return Event(
        events.RECORDED,
        (
            ("id", str(record.id)),
            ("model", msg.model),
            ("version", msg.version),
            ("kind", msg.kind),
            ("org", ctx.sender.org),
        ),
    )
