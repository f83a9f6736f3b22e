"""Which role each message needs, how it is checked without state, and who executes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.attestations import handlers as attestations
from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import UNKNOWN_MESSAGE, TxError
from app.credits import handlers as credits
from app.federated import handlers as federated
from app.federated import validation as federated_validation
from app.licenses import handlers as licenses
from app.members import governance
from app.members.roles import ADMIN, ANY_MEMBER, AUDITOR, CONSUMER, PUBLISHER
from app.models import handlers as models
from app.models import validation as models_validation
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import handlers as usage


def _no_gas(msg: Any) -> int:
    return 0


@dataclass(frozen=True)
class Route:
    """One message type: the sender's required role (ANY_MEMBER: none), its stateless check,
    its handler, and the gas its stateless check costs (paid even when the check refuses)."""

    role: str
    validate: Callable[[Any, state_pb2.Params], None]
    handle: Callable[[MsgContext, Any], Event]
    check_gas: Callable[[Any], int] = _no_gas


ROUTES: dict[str, Route] = {
    "register_model": Route(PUBLISHER, models_validation.validate_register, models.register_model),
    "publish_version": Route(PUBLISHER, models_validation.validate_publish, models.publish_version),
    "set_version_status": Route(
        PUBLISHER, models_validation.validate_status, models.set_version_status
    ),
    "transfer_model": Route(ADMIN, models_validation.validate_transfer, models.transfer_model),
    "announce_provider": Route(
        ANY_MEMBER, models_validation.validate_announce, models.announce_provider
    ),
    "claim_digests": Route(PUBLISHER, models_validation.validate_claim, models.claim_digests),
    "deploy_license": Route(
        PUBLISHER, licenses.validate_deploy, licenses.deploy_license, licenses.deploy_gas
    ),
    "attach_license": Route(PUBLISHER, licenses.validate_attach, licenses.attach_license),
    "use": Route(CONSUMER, usage.validate_use, usage.use),
    "transfer_credits": Route(ADMIN, credits.validate_transfer, credits.transfer_credits),
    "attest": Route(AUDITOR, attestations.validate_attest, attestations.attest),
    "open_round": Route(PUBLISHER, federated_validation.validate_open, federated.open_round),
    "submit_update": Route(
        PUBLISHER, federated_validation.validate_submit, federated.submit_update
    ),
    "finalize_round": Route(
        PUBLISHER, federated_validation.validate_finalize, federated.finalize_round
    ),
    "submit_proposal": Route(ADMIN, governance.validate_submit, governance.submit_proposal),
    "cast_vote": Route(ADMIN, governance.validate_vote, governance.cast_vote),
}


@dataclass(frozen=True)
class RoutedMsg:
    """A message unpacked from its oneof, with the route that handles it."""

    kind: str
    route: Route
    body: Any


def route(msg: tx_pb2.Msg) -> RoutedMsg:
    """Find the route of a message; raises TxError(unknown_message) for an empty or new kind."""
    kind = msg.WhichOneof("sum")
    if kind is None or kind not in ROUTES:
        raise TxError(UNKNOWN_MESSAGE, "a message is empty or of a kind this app does not know")
    return RoutedMsg(kind, ROUTES[kind], getattr(msg, kind))
