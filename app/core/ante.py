"""Checks of a decoded transaction against the state: chain, sender, nonce, roles."""

from __future__ import annotations

from typing import Protocol

from app.core.env import BlockEnv
from app.core.errors import (
    MISSING_ROLE,
    NONCE_EXHAUSTED,
    NONCE_GAP,
    NONCE_REPLAYED,
    SENDER_DISABLED,
    UNKNOWN_SENDER,
    WRONG_CHAIN,
    TxError,
)
from app.core.routing import NO_ROLE
from app.core.text import quote
from app.core.tx import DecodedTx
from app.pb.modelgov.v1 import state_pb2

LAST_NONCE = 2**64 - 1
"""An account's nonce is a uint64 that every transaction increments: at this value none is left
(a genesis may carry any uint64 nonce)."""


class AccountBook(Protocol):
    """What authentication reads of the consortium (the members domain's reader)."""

    def account(self, address: str) -> state_pb2.Account | None: ...

    def org(self, org_id: str) -> state_pb2.Org | None: ...


def authenticate(members: AccountBook, env: BlockEnv, tx: DecodedTx) -> state_pb2.Account:
    """The sender's account if it may send ``tx`` now; raises TxError with the reason."""
    body = tx.body
    if body.chain_id != env.chain_id:
        raise TxError(
            WRONG_CHAIN,
            f"signed for {quote(body.chain_id, 80)}, this chain is {quote(env.chain_id, 80)}",
        )
    account = members.account(tx.sender)
    if account is None:
        raise TxError(UNKNOWN_SENDER, f"no account {tx.sender} in the consortium")
    if members.org(account.org) is None:
        raise TxError(
            SENDER_DISABLED, f"organisation {quote(account.org, 80)} is no longer a member"
        )
    if body.nonce < account.nonce:
        raise TxError(NONCE_REPLAYED, f"nonce {body.nonce} was used; the next is {account.nonce}")
    if body.nonce > account.nonce:
        raise TxError(NONCE_GAP, f"nonce {body.nonce} is ahead; the next is {account.nonce}")
    if account.nonce >= LAST_NONCE:  # consuming it would overflow the account's uint64
        raise TxError(NONCE_EXHAUSTED, f"nonce {account.nonce} is the last one a key can use")
    for msg in tx.msgs:
        if msg.route.role != NO_ROLE and msg.route.role not in account.roles:
            raise TxError(
                MISSING_ROLE,
                f"{msg.kind} needs the {msg.route.role} role; {account.name or account.address} "
                f"has {', '.join(account.roles) or 'none'}",
            )
    return account
