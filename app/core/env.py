"""What a transaction may know about where it runs: the block header's facts, never the clock."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BlockEnv:
    """The block being executed (or, for CheckTx, the next one)."""

    chain_id: str
    height: int
    time: int  # unix seconds from the block header
    proposer: bytes = b""


@dataclass(frozen=True)
class Event:
    """An ABCI event: a type and ordered (key, value) attributes, indexed by the engine."""

    type: str
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TxResult:
    """The answer for one transaction: code 0 and events, or a registered error and its log."""

    code: int = 0
    codespace: str = ""
    log: str = ""
    events: tuple[Event, ...] = ()
    gas_wanted: int = 0
    gas_used: int = 0
    data: bytes = b""
    info: str = ""  # the message kinds, for operators; not part of the results hash


@dataclass(frozen=True)
class ValidatorChange:
    """A validator update for the engine: ed25519 key and new power (0 removes)."""

    pubkey: bytes
    power: int


@dataclass(frozen=True)
class BlockOutput:
    """Everything FinalizeBlock answers besides the app hash."""

    tx_results: tuple[TxResult, ...]
    events: tuple[Event, ...] = field(default_factory=tuple)
    validator_updates: tuple[ValidatorChange, ...] = field(default_factory=tuple)
