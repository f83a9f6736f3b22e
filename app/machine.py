"""The state machine: the one module that names every domain and wires them together.

Like a Cosmos app's ``app.go``, a reader finds the whole wiring here: each message kind's route
(role, stateless check, handler, check gas), each query path, each domain's store prefix (checked
unique), the order of the end-of-block work and of genesis, and the state transition itself:
``check_tx``, ``execute_tx`` and ``finalize_block`` as plain functions over an overlay. The
kernel (``app.core``) knows no domain; the domains meet through each other's keepers; the ABCI
adapter (``app.abci``) imports this module and the kernel only.

A transaction is checked cheapest first: decoding and signature, then the sender's account and
nonce, and only then its messages' own stateless checks, so no one without a member's key makes
the app parse a license script. A transaction that fails any of these changes nothing. One that
passes consumes its nonce even if a message then fails, and the failed messages' writes are
dropped. Only ``TxError`` is a rejection; any other exception is a bug and propagates to stop the
node.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.attestations import genesis as attestation_genesis
from app.attestations import handlers as attestations
from app.attestations import keys as attestation_keys
from app.attestations import queries as attestation_queries
from app.attestations import validation as attestations_validation
from app.core.ante import authenticate
from app.core.context import MsgContext
from app.core.env import BlockEnv, BlockOutput, Event, TxResult, ValidatorChange
from app.core.errors import BAD_QUERY, BLOCK_GAS_EXHAUSTED, TOO_MANY_PENDING, UNKNOWN_PATH, TxError
from app.core.gas import TX_GAS, GasMeter, base_gas, block_budget
from app.core.genesis import DomainGenesis, GenesisContext, GenesisError
from app.core.meta import CHAIN_ID_KEY
from app.core.meta import PREFIX as META_PREFIX
from app.core.pause import pause_point
from app.core.query import (
    MAX_PAGE_BYTES,
    Handler,
    QueryAnswer,
    limit_param,
    parse_params,
    text_param,
)
from app.core.routing import NO_ROLE, Route, Routes
from app.core.text import quote
from app.core.tx import DecodedTx, SignatureCache, decode_tx, validate_messages
from app.credits import events as credit_events
from app.credits import genesis as credit_genesis
from app.credits import handlers as credits
from app.credits import keys as credit_keys
from app.credits import queries as credit_queries
from app.credits import validation as credits_validation
from app.datasets import genesis as dataset_genesis
from app.datasets import handlers as datasets
from app.datasets import keys as dataset_keys
from app.datasets import queries as dataset_queries
from app.datasets import validation as datasets_validation
from app.federated import genesis as federated_genesis
from app.federated import handlers as federated
from app.federated import keys as federated_keys
from app.federated import queries as federated_queries
from app.federated import validation as federated_validation
from app.federated.expiry import close_expired_rounds
from app.licenses import events as license_events
from app.licenses import genesis as license_genesis
from app.licenses import handlers as licenses
from app.licenses import keys as license_keys
from app.licenses import programs
from app.licenses import queries as license_queries
from app.licenses import validation as licenses_validation
from app.market import genesis as market_genesis
from app.market import handlers as market
from app.market import keys as market_keys
from app.market import queries as market_queries
from app.market import validation as market_validation
from app.market.keeper import LEASES
from app.members import genesis as member_genesis
from app.members import governance
from app.members import handlers as members
from app.members import keys as member_keys
from app.members import queries as member_queries
from app.members import validation as members_validation
from app.members.genesis import Consortium
from app.members.keeper import MembersKeeper, MembersReader
from app.members.roles import ADMIN, AUDITOR, CONSUMER, PUBLISHER
from app.models import events as model_events
from app.models import genesis as model_genesis
from app.models import handlers as models
from app.models import keys as model_keys
from app.models import queries as model_queries
from app.models import validation as models_validation
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader
from app.usage import decision
from app.usage import events as usage_events
from app.usage import genesis as usage_genesis
from app.usage import handlers as usage
from app.usage import keys as usage_keys
from app.usage import queries as usage_queries
from app.usage import validation as usage_validation

# --- messages ---------------------------------------------------------------------------------

ROUTES: Routes = {
    "register_model": Route(PUBLISHER, models_validation.validate_register, models.register_model),
    "publish_version": Route(
        PUBLISHER,
        models_validation.validate_publish,
        models.publish_version,
        models_validation.publish_gas,
    ),
    "claim_digests": Route(PUBLISHER, models_validation.validate_claim, models.claim_digests),
    "set_version_status": Route(
        PUBLISHER,
        models_validation.validate_status,
        models.set_version_status_telling(market.close_version),  # revoking withdraws an offer
    ),
    "transfer_model": Route(
        ADMIN,
        models_validation.validate_transfer,
        models.transfer_model_telling(market.close_model),  # a new owner closes its listing
    ),
    "announce_provider": Route(
        NO_ROLE, models_validation.validate_announce, models.announce_provider
    ),
    "set_alias": Route(PUBLISHER, models_validation.validate_alias, models.set_alias),
    "set_default_license": Route(
        PUBLISHER, models_validation.validate_default_license, models.set_default_license
    ),
    "deploy_license": Route(
        PUBLISHER,
        licenses_validation.validate_deploy,
        licenses.deploy_license,
        licenses_validation.deploy_gas,
    ),
    "attach_license": Route(
        PUBLISHER, licenses_validation.validate_attach, licenses.attach_license
    ),
    "use": Route(CONSUMER, usage_validation.validate_use, usage.use_under(LEASES)),
    "transfer_credits": Route(
        ADMIN, credits_validation.validate_transfer, credits.transfer_credits
    ),
    "attest": Route(
        AUDITOR,
        attestations_validation.validate_attest,
        attestations.attest,
        attestations_validation.attest_gas,
    ),
    "open_round": Route(PUBLISHER, federated_validation.validate_open, federated.open_round),
    "submit_update": Route(
        PUBLISHER, federated_validation.validate_submit, federated.submit_update
    ),
    "finalize_round": Route(
        PUBLISHER, federated_validation.validate_finalize, federated.finalize_round
    ),
    "submit_proposal": Route(
        ADMIN,
        members_validation.validate_submit,
        members.submit_proposal,
        members_validation.proposal_gas,
    ),
    "cast_vote": Route(ADMIN, members_validation.validate_vote, members.cast_vote),
    # market: sales and leases (app/market)
    "list_model": Route(ADMIN, market_validation.validate_list, market.list_model),
    "delist_model": Route(ADMIN, market_validation.validate_delist, market.delist_model),
    "buy_model": Route(ADMIN, market_validation.validate_buy, market.buy_model),
    "offer_lease": Route(ADMIN, market_validation.validate_offer, market.offer_lease),
    "withdraw_lease_offer": Route(
        ADMIN, market_validation.validate_withdraw, market.withdraw_lease_offer
    ),
    "lease_version": Route(ADMIN, market_validation.validate_lease, market.lease_version),
    # datasets (issue 13)
    "register_dataset": Route(
        PUBLISHER, datasets_validation.validate_register, datasets.register_dataset
    ),
    "publish_dataset": Route(
        PUBLISHER, datasets_validation.validate_publish, datasets.publish_dataset
    ),
}

ADMISSION: Mapping[str, Callable[[Reader, Any], None]] = {"use": decision.admit_use}
"""Stateful checks CheckTx runs on a transaction whose messages are all of one kind listed
here, against the mempool's view: a use of a version no license governs would only burn its
sender's nonce in a block. A mixed transaction (an attach, then a use) is decided in its block
alone, since its earlier messages may make the later ones valid. Blocks check everything again:
a proposer may include what no mempool admitted."""

# --- events the node's metrics follow (the adapter imports no domain) ------------------------

EVENT_RECEIPT = usage_events.RECEIPT
EVENT_MODEL_REGISTERED = model_events.REGISTERED
EVENT_VERSION_PUBLISHED = model_events.VERSION_PUBLISHED
EVENT_LICENSE_DEPLOYED = license_events.DEPLOYED
EVENT_CREDITS_MOVED = credit_events.TRANSFER

# --- queries ----------------------------------------------------------------------------------

GENESIS_RECORDS_PATH = "/genesis/records"
MAX_CURSOR_KEY_BYTES = 1800
"""The longest key an "after" cursor names: its hex fits in MAX_QUERY_BYTES with the other
parameters, and the longest key the state holds (a manifest's file, about 1100 bytes) in it."""


def genesis_records(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/genesis/records {"domain", "after", "limit"}: a page of a domain's stored keys and
    values (StoreEntry items), in key order: what ``modelgov genesis export`` reads to build a
    genesis with ``export_genesis``. At most ``limit`` entries and MAX_PAGE_BYTES (as every
    listing, app.core.query); ``next`` is the hex of the last key when more remain. Raises
    TxError(bad_query)."""
    domain = text_param(params, "domain")
    prefix = PREFIXES.get(domain)
    if prefix is None:
        known = ", ".join(PREFIXES)
        raise TxError(BAD_QUERY, f"no domain {quote(domain, 40)}; domains: {known}")
    after, limit = _key_cursor(params, prefix), limit_param(params)
    out = state_pb2.Page()
    size, previous = 0, b""
    for key, value in state.iterate(prefix, after):
        pause_point()
        if len(out.items) == limit or size >= MAX_PAGE_BYTES:
            out.next = previous.hex()
            break
        entry = state_pb2.StoreEntry(key=key, value=value).SerializeToString()
        out.items.append(entry)
        size, previous = size + len(entry), key
    return QueryAnswer(out.SerializeToString())


def _key_cursor(params: Mapping[str, Any], prefix: bytes) -> bytes | None:
    """The "after" cursor of /genesis/records: the previous page's "next", the hex of a key
    of the domain; None when absent or "". Raises TxError(bad_query)."""
    after = params.get("after", "")
    if after == "":
        return None
    if (
        not isinstance(after, str)
        or len(after) > 2 * MAX_CURSOR_KEY_BYTES
        or not after.isascii()
        or len(after) % 2
        or any(c not in "0123456789abcdef" for c in after)
    ):
        raise TxError(BAD_QUERY, "'after' is the 'next' of the previous page: lowercase hex")
    key = bytes.fromhex(after)
    if not key.startswith(prefix):
        raise TxError(BAD_QUERY, "'after' is a key of another domain")
    return key


QUERY_TABLES: tuple[Mapping[str, Handler], ...] = (
    member_queries.QUERIES,
    model_queries.queries(oracle=decision.evaluate_fresh, leases=LEASES),
    license_queries.QUERIES,
    usage_queries.queries(leases=LEASES),
    credit_queries.QUERIES,
    attestation_queries.QUERIES,
    federated_queries.QUERIES,
    market_queries.QUERIES,
    dataset_queries.QUERIES,
    {GENESIS_RECORDS_PATH: genesis_records},
)
QUERIES: dict[str, Handler] = {path: h for table in QUERY_TABLES for path, h in table.items()}
STORE_PATH = "/store"
"""The raw path: a store key's value, answered by the ABCI adapter from its committed view."""

# --- store prefixes ---------------------------------------------------------------------------

PREFIXES: dict[str, bytes] = {
    "meta": META_PREFIX,
    "members": member_keys.PREFIX,
    "models": model_keys.PREFIX,
    "licenses": license_keys.PREFIX,
    "usage": usage_keys.PREFIX,
    "credits": credit_keys.PREFIX,
    "attestations": attestation_keys.PREFIX,
    "federated": federated_keys.PREFIX,
    "market": market_keys.PREFIX,
    "datasets": dataset_keys.PREFIX,
}

UNHASHED: tuple[bytes, ...] = usage_keys.DERIVED
"""Key prefixes stored and committed with the state but left out of the app hash's Merkle
tree: indexes each domain rebuilds from its committed records (they carry no proof)."""


def _check_wiring() -> None:
    """Every domain owns a distinct one-byte prefix, every query path is answered once, every
    ``app_state`` section belongs to one domain."""
    prefixes = list(PREFIXES.values())
    if len(set(prefixes)) != len(prefixes) or any(len(p) != 1 for p in prefixes):
        raise RuntimeError(f"store prefixes must be distinct single bytes: {PREFIXES}")
    paths = [path for table in QUERY_TABLES for path in table]
    if len(set(paths)) != len(paths) or STORE_PATH in paths:
        raise RuntimeError("a query path is answered twice")
    if len(set(GENESIS_SECTIONS)) != len(GENESIS_SECTIONS):
        raise RuntimeError(f"an app_state section belongs to two domains: {GENESIS_SECTIONS}")


# --- end of block and genesis -----------------------------------------------------------------

EndBlock = Callable[[Overlay, BlockEnv], tuple[tuple[Event, ...], tuple[ValidatorChange, ...]]]


def _close_rounds(state: Overlay, env: BlockEnv) -> tuple[tuple[Event, ...], tuple[()]]:
    return close_expired_rounds(state, env), ()


END_BLOCK: tuple[EndBlock, ...] = (governance.end_block, _close_rounds)
"""In this order: proposals are decided (validator changes among them), then federated rounds
past their deadline close."""

GENESIS: tuple[tuple[str, DomainGenesis], ...] = (
    ("members", member_genesis),
    ("credits", credit_genesis),
    ("models", model_genesis),
    ("licenses", license_genesis),
    ("usage", usage_genesis),
    ("attestations", attestation_genesis),
    ("federated", federated_genesis),
    ("market", market_genesis),
    ("datasets", dataset_genesis),
)
"""Each domain's genesis (``app.core.genesis.DomainGenesis``), in genesis order: members first,
since every other domain names organisations; the registry before what names its models and
versions (licenses attached to them, uses, attestations, federated rounds)."""
GENESIS_SECTIONS = tuple(name for _, domain in GENESIS for name in domain.SECTIONS)
"""The keys of ``app_state``, by domain in genesis order."""


@dataclass(frozen=True)
class Genesis:
    """A validated ``app_state``: each domain's part, by domain name."""

    parts: Mapping[str, Any]

    @property
    def members(self) -> Consortium:
        found: Consortium = self.parts["members"]
        return found

    @property
    def balances(self) -> tuple[tuple[str, int], ...]:
        found: tuple[tuple[str, int], ...] = self.parts["credits"]
        return found

    @property
    def orgs(self) -> tuple[state_pb2.Org, ...]:
        return self.members.orgs

    @property
    def accounts(self) -> tuple[state_pb2.Account, ...]:
        return self.members.accounts

    @property
    def params(self) -> state_pb2.Params:
        return self.members.params


def default_genesis() -> dict[str, Any]:
    """Every domain's sections as a chain without records has them."""
    app_state: dict[str, Any] = {}
    for _, domain in GENESIS:
        app_state.update(domain.default())
    return app_state


def parse_genesis(app_state: Any) -> Genesis:
    """Validate a decoded ``app_state`` domain by domain, in genesis order, each given only its
    own sections; raises GenesisError naming the first malformed field."""
    if not isinstance(app_state, Mapping):
        raise GenesisError("app_state", "must be an object with orgs, accounts and params")
    for key in app_state:
        if key not in GENESIS_SECTIONS:
            known = ", ".join(GENESIS_SECTIONS)
            raise GenesisError(f"app_state.{key}", f"unknown field (expected {known})")
    context = GenesisContext()
    parts: dict[str, Any] = {}
    for name, domain in GENESIS:
        own = {key: app_state[key] for key in domain.SECTIONS if key in app_state}
        parts[name] = domain.validate(own, context)
    return Genesis(parts)


def check_validators(genesis: Genesis, validators: Sequence[tuple[bytes, int]]) -> None:
    """Validator records in ``app_state`` (an export's, with their names) must be the engine's
    genesis validators, (ed25519 key, power) for (key, power); raises GenesisError."""
    named = sorted((v.pubkey, v.power) for v in genesis.members.validators)
    if named and named != sorted(validators):
        raise GenesisError(
            "members.validators",
            "these records are not the validators of genesis.json (same keys, same powers)",
        )


def init_chain(
    state: Overlay, chain_id: str, app_state: bytes, validators: Sequence[tuple[bytes, int]]
) -> Genesis:
    """Write genesis: the chain id, each domain's part in genesis order, and the engine's
    validators unless ``app_state`` names them itself. Raises GenesisError naming the first
    malformed field of ``app_state``."""
    genesis = parse_genesis(_decoded(app_state))
    check_validators(genesis, validators)
    state.set(CHAIN_ID_KEY, chain_id.encode())
    for name, domain in GENESIS:
        domain.init(state, genesis.parts[name])
    if not genesis.members.validators:
        keeper = MembersKeeper(state)
        for pubkey, power in validators:
            keeper.set_validator(state_pb2.Validator(pubkey=pubkey, power=power))
    return genesis


def _decoded(app_state: bytes) -> Any:
    try:
        return json.loads(app_state or b"null")
    except (ValueError, RecursionError) as exc:
        raise GenesisError("app_state", f"not JSON: {exc}") from None


def export_genesis(state: Reader) -> dict[str, Any]:
    """Every domain's records as ``app_state`` sections, in genesis order: what
    ``init_chain`` writes back, key for key, into a new chain's state (the chain id is
    genesis.json's, not ``app_state``'s). See ``app.core.genesis``."""
    app_state: dict[str, Any] = {}
    for _, domain in GENESIS:
        app_state.update(domain.export(state))
    return app_state


_check_wiring()


def chain_id(state: Reader) -> str:
    """The chain id genesis recorded ('' before genesis)."""
    return (state.get(CHAIN_ID_KEY) or b"").decode()


def params(state: Reader) -> state_pb2.Params:
    """The consortium's parameters as ``state`` holds them."""
    return MembersReader(state).params()


def block_done() -> None:
    """The block was committed or dropped: let go of what it pinned (license programs)."""
    programs.CACHE.release()


# --- queries ----------------------------------------------------------------------------------


def route_query(state: Reader, path: str, data: bytes) -> QueryAnswer:
    """Answer ``path`` with its JSON parameters; raises TxError for unknown paths or bad data."""
    handler = QUERIES.get(path)
    if handler is None:
        known = ", ".join(sorted([*QUERIES, STORE_PATH]))
        raise TxError(UNKNOWN_PATH, f"no query at {quote(path, 100)}; paths: {known}")
    return handler(state, parse_params(data))


# --- the state transition ---------------------------------------------------------------------

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
    current = members.params()
    try:
        tx = decode_tx(raw, current, ROUTES, cache)
        account = authenticate(members, env, tx)
        if committed is not None:
            _check_pending(account, MembersReader(committed))
        validate_messages(tx, current)
        _admit(state, tx)
    except TxError as err:
        return rejected(err)
    account.nonce += 1
    members.set_account(account)
    if cache is not None:
        cache.add(tx.hash)
    return TxResult(gas_wanted=base_gas(len(tx.msgs)))


def _admit(state: Reader, tx: DecodedTx) -> None:
    """Run ADMISSION's check of each message when all of the tx's messages are of one kind it
    lists; raises TxError."""
    kinds = {msg.kind for msg in tx.msgs}
    check = ADMISSION.get(tx.msgs[0].kind) if len(kinds) == 1 else None
    if check is None:
        return
    for msg in tx.msgs:
        check(state, msg.body)


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
    current = members.params()
    try:
        tx = decode_tx(raw, current, ROUTES, cache)
        account = authenticate(members, env, tx)
    except TxError as err:
        return rejected(err)
    wanted = base_gas(len(tx.msgs)) + sum(msg.route.check_gas(msg.body) for msg in tx.msgs)
    try:
        validate_messages(tx, current)
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
    ctx = MsgContext(scratch, env, account, tx.hash, params(scratch), meter)
    events: list[Event] = []
    for msg in tx.msgs:
        events.append(msg.route.handle(ctx, msg.body))
        events.extend(ctx.emitted)
        ctx.emitted.clear()
    scratch.merge_into(state)
    return tuple(events)


def finalize_block(
    state: Overlay, env: BlockEnv, txs: list[bytes], cache: SignatureCache | None = None
) -> BlockOutput:
    """Execute a decided block's transactions in order (one result per transaction) while the
    block's gas stays below ``max_block_gas`` (the rest are refused unrun, app.core.gas), then
    the end-of-block work of the domains in END_BLOCK order. A transaction refused before it
    runs (signature, sender, nonce) reports no gas but counts TX_GAS against the budget: a
    proposer could otherwise fill a block with any number of signatures to verify."""
    budget, used = block_budget(params(state)), 0
    results: list[TxResult] = []
    loaded: set[str] = set()
    for raw in txs:
        if used >= budget:
            results.append(rejected(TxError(BLOCK_GAS_EXHAUSTED, _exhausted(used, budget))))
            continue
        result = execute_tx(state, env, raw, cache, loaded)
        used += max(result.gas_used, TX_GAS)  # one refused unrun still cost its signature
        results.append(result)
    events: tuple[Event, ...] = ()
    changes: tuple[ValidatorChange, ...] = ()
    for step in END_BLOCK:
        more_events, more_changes = step(state, env)
        events, changes = events + more_events, changes + more_changes
    return BlockOutput(tuple(results), events, changes)


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


def message_kinds() -> list[str]:
    """Every message kind the machine routes, sorted (for metrics and docs)."""
    return sorted(ROUTES)


__all__ = [
    "END_BLOCK",
    "PREFIXES",
    "QUERIES",
    "ROUTES",
    "UNHASHED",
    "check_tx",
    "execute_tx",
    "export_genesis",
    "finalize_block",
    "init_chain",
    "parse_genesis",
    "route_query",
]
