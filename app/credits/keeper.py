"""The only code that reads and writes balances. Credits move; they are never made or burnt
after genesis, so the sum of all balances is constant."""

from __future__ import annotations

from collections.abc import Iterator

from app.core.errors import TxError
from app.credits import errors, keys
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader

MAX_BALANCE = 2**63 - 1


class CreditsReader:
    """Read-only view of balances."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def balance(self, org_id: str) -> int:
        """An organisation's balance (0 when it never held credits)."""
        raw = self.state.get(keys.balance_key(org_id))
        return 0 if raw is None else state_pb2.Balance.FromString(raw).amount

    def balances(self, after: str = "") -> Iterator[tuple[str, int]]:
        """(org, balance) of every organisation holding credits, in id order."""
        start = keys.balance_key(after) if after else None
        for key, raw in self.state.iterate(keys.BALANCE, start):
            yield key[len(keys.BALANCE) :].decode(), state_pb2.Balance.FromString(raw).amount


class CreditsKeeper(CreditsReader):
    """Read-write view for handlers and genesis."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def set_balance(self, org_id: str, amount: int) -> None:
        """Write a balance (genesis, or one side of a move)."""
        if not 0 <= amount <= MAX_BALANCE:
            raise ValueError(f"balance {amount} of {org_id} out of range")
        record = state_pb2.Balance(org=org_id, amount=amount)
        self.state.set(keys.balance_key(org_id), record.SerializeToString())

    def move(self, payer: str, payee: str, amount: int) -> None:
        """Move ``amount`` from ``payer`` to ``payee``, both balances checked before either is
        written.

        Raises TxError(bad_amount) for an amount outside 0..2^63-1, (insufficient_credits) when
        the payer holds too little, (balance_overflow) when the payee's balance would leave the
        range. The last cannot happen while the credits' sum stays what genesis bounded, but a
        refusal is the answer to input that breaks a bound, never a halt of the node.
        """
        if not 0 <= amount <= MAX_BALANCE:
            raise TxError(errors.BAD_AMOUNT, f"amount {amount} is not 0 to 2^63-1")
        if amount == 0 or payer == payee:
            return
        have = self.balance(payer)
        if have < amount:
            raise TxError(errors.INSUFFICIENT, f"{payer} holds {have} credits, {amount} needed")
        received = self.balance(payee) + amount
        if received > MAX_BALANCE:
            raise TxError(errors.BALANCE_OVERFLOW, f"{payee} would hold {received} credits")
        self.set_balance(payer, have - amount)
        self.set_balance(payee, received)
