"""The state transition: ``check_tx``, ``execute_tx`` and ``finalize_block`` as plain functions.

A transaction is checked cheapest first: decoding and signature, then the sender's account and
nonce, and only then its messages' own stateless checks, so no one without a member's key makes
the app parse a license script. A transaction that fails any of these changes nothing. One that
passes consumes its nonce even if a message then fails, and the failed messages' writes are
dropped.
Only ``TxError`` is a rejection; any other exception is a bug and propagates to stop the node.
"""

from __future__ import annotations

from app.core.ante import authenticate
from app.core.context import MsgContext
from app.core.env import BlockEnv, BlockOutput, Event, TxResult
from app.core.errors import BLOCK_GAS_EXHAUSTED, TOO_MANY_PENDING, TxError
from app.core.gas import GasMeter, base_gas, block_budget
from app.core.tx import DecodedTx, SignatureCache, decode_tx, validate_messages
from app.federated.expiry import close_expired_rounds
from app.members import governance
from app.members.keeper import MembersKeeper, MembersReader
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader

MAX_PENDING_PER_ACCOUNT = 1000
"""Most transactions of one account the mempool admits before a block commits them: with no
fees, nothing else stops one account from filling every node's mempool."""


def check_tx(
    state: Overlay,
    env: BlockEnv,
    raw: bytes,
    cache: SignatureCache | None = None,
    committed: Reader | None = None,
) -> TxResult:
    """Admit a transaction to the mempool: stateless checks and authentication only.

    On success the sender's nonce advances in ``state`` (the mempool's view), so several
    transactions of one sender can wait for the same block in order, and ``cache`` remembers
    the transaction's verified signature for FinalizeBlock. With ``committed`` (the state the
    mempool's view starts from), a sender already MAX_PENDING_PER_ACCOUNT nonces ahead of it
    is refused.
    """
    members = MembersKeeper(state)
    params = members.params()
    try:
        tx = decode_tx(raw, params, cache)
        account = authenticate(members, env, tx)
        if committed is not None:
            _check_pending(account, MembersReader(committed))
        validate_messages(tx, params)
    except TxError as err:
        return rejected(err)
    account.nonce += 1
    members.set_account(account)
    if cache is not None:
        cache.add(tx.hash)
    return TxResult(gas_wanted=base_gas(len(tx.msgs)))


def _check_pending(account: state_pb2.Account, committed: MembersReader) -> None:
    """Raises TxError(too_many_pending) when the mempool already holds the account's limit."""
    stored = committed.account(account.address)
    pending = account.nonce - (0 if stored is None else stored.nonce)
    if pending >= MAX_PENDING_PER_ACCOUNT:
        raise TxError(
            TOO_MANY_PENDING,
            f"{pending} transactions of {account.address} wait for a block; "
            f"at most {MAX_PENDING_PER_ACCOUNT}",
        )


def execute_tx(
    state: Overlay,
    env: BlockEnv,
    raw: bytes,
    cache: SignatureCache | None = None,
    loaded: set[str] | None = None,
) -> TxResult:
    """Execute one transaction of a block on ``state`` (the block's overlay); ``loaded`` names
    the licenses the block has loaded so far (app.core.gas)."""
    members = MembersKeeper(Overlay(state))
    params = members.params()
    try:
        tx = decode_tx(raw, params, cache)
        account = authenticate(members, env, tx)
    except TxError as err:
        return rejected(err)
    wanted = base_gas(len(tx.msgs)) + sum(msg.route.check_gas(msg.body) for msg in tx.msgs)
    try:
        validate_messages(tx, params)
    except TxError as err:  # the sender is known: the checks it made us run count
        return rejected(err, wanted, gas_used=wanted)
    account.nonce += 1
    members.set_account(account)
    members.state.merge_into(state)
    kinds = ",".join(msg.kind for msg in tx.msgs)
    meter = GasMeter(loaded)
    try:
        events = _run_messages(state, env, tx, account, meter)
    except TxError as err:
        return rejected(err, wanted, info=kinds, gas_used=wanted + meter.used)
    return TxResult(events=events, gas_wanted=wanted, gas_used=wanted + meter.used, info=kinds)


def _run_messages(
    state: Overlay, env: BlockEnv, tx: DecodedTx, account: state_pb2.Account, meter: GasMeter
) -> tuple[Event, ...]:
    scratch = Overlay(state)
    params = MembersKeeper(scratch).params()
    ctx = MsgContext(scratch, env, account, tx.hash, params, meter)
    events = tuple(msg.route.handle(ctx, msg.body) for msg in tx.msgs)
    scratch.merge_into(state)
    return events


def finalize_block(
    state: Overlay, env: BlockEnv, txs: list[bytes], cache: SignatureCache | None = None
) -> BlockOutput:
    """Execute a decided block's transactions in order (one result per transaction) while the
    block's gas stays below ``max_block_gas`` (the rest are refused unrun, app.core.gas), then
    the end-of-block work of the domains: governance decides and executes proposals,
    federated rounds past their deadline close."""
    budget, used = block_budget(MembersReader(state).params()), 0
    results: list[TxResult] = []
    loaded: set[str] = set()
    for raw in txs:
        if used >= budget:
            results.append(rejected(TxError(BLOCK_GAS_EXHAUSTED, _exhausted(used, budget))))
            continue
        result = execute_tx(state, env, raw, cache, loaded)
        used += result.gas_used
        results.append(result)
    events, validator_updates = governance.end_block(state, env)
    events += close_expired_rounds(state, env)
    return BlockOutput(tuple(results), events, validator_updates)


def _exhausted(used: int, budget: int) -> str:
    return (
        f"the block's transactions before this one used {used} gas of {budget} "
        "(max_block_gas); it did not run and its nonce is unused: send it again"
    )


def rejected(err: TxError, gas_wanted: int = 0, info: str = "", gas_used: int = 0) -> TxResult:
    """The result of a refused transaction."""
    return TxResult(
        code=err.error.code,
        codespace=err.error.codespace,
        log=err.log,
        gas_wanted=gas_wanted,
        gas_used=gas_used,
        info=info,
    )
