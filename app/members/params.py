"""The range of every consortium parameter: what genesis and a ``set_params`` proposal may set.

A vote can set any parameter at any time, so each one has a floor that keeps the chain usable
and governable, and a ceiling that keeps every later computation inside its integer fields and
inside what the app is built for. Both genesis (``_parse_params``) and the proposal's stateless
check apply the same table, so no state can hold a value outside it.

=========================  ==========  ===========  ============================================
parameter                  floor       ceiling      why
=========================  ==========  ===========  ============================================
max_tx_bytes               8_192       4_194_304    a full set_params proposal (256-byte title,
                                                    4096-byte description, every parameter) and
                                                    a vote always fit; above 4 MiB the engine's
                                                    blocks and mempool refuse the tx anyway
max_messages_per_tx        1           256          one message per tx keeps every kind sendable
max_description_bytes      256         65_536       a reason or method of a sentence still fits
max_uris_per_version       1           256          a version can name where its weights are
max_parents_per_version    1           256          lineage of one parent is still possible
max_metrics_per_version    1           1_024        each metric is checked and stored per tx
max_datasets_per_version   1           256          as max_uris_per_version
license_gas_limit          10_000      1_000_000    the templates use under 1_000; the ceiling is
                                                    5x the interpreter's default budget, which
                                                    its cost model is measured against
license_memory_limit       100_000     4_000_000    above the 16_384 units of a script's context;
                                                    4x the interpreter's default
max_license_source_bytes   4_096       65_536       every template in genesis/licenses fits; a
                                                    deploy check is linear in the source
vote_quorum_percent        1           100          a percentage
vote_threshold_percent     1           100          a percentage
voting_period_blocks       5           10_000_000   a proposal has blocks to collect votes;
                                                    height + period stays far below 2^64
max_block_gas              2_000_000   100_000_000  above one transaction's most (a use at the
                                                    highest license_gas_limit, a deploy of the
                                                    largest script); bounds how long one block
                                                    takes to execute (app/core/gas.py)
=========================  ==========  ===========  ============================================

Lowering a limit never rewrites what exists: deployed licenses, published versions,
attachments, rounds and open proposals stay as they are, and a later message that exceeds a
lowered limit is refused with its domain's registered code (tests/app/members/
test_params_hostile.py checks each parameter at each end).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.pb.modelgov.v1 import state_pb2


@dataclass(frozen=True)
class ParamRange:
    """The values a parameter may take, both ends included."""

    low: int
    high: int


RANGES: dict[str, ParamRange] = {
    "max_tx_bytes": ParamRange(8_192, 4_194_304),
    "max_messages_per_tx": ParamRange(1, 256),
    "max_description_bytes": ParamRange(256, 65_536),
    "max_uris_per_version": ParamRange(1, 256),
    "max_parents_per_version": ParamRange(1, 256),
    "max_metrics_per_version": ParamRange(1, 1_024),
    "max_datasets_per_version": ParamRange(1, 256),
    "license_gas_limit": ParamRange(10_000, 1_000_000),
    "license_memory_limit": ParamRange(100_000, 4_000_000),
    "max_license_source_bytes": ParamRange(4_096, 65_536),
    "vote_quorum_percent": ParamRange(1, 100),
    "vote_threshold_percent": ParamRange(1, 100),
    "voting_period_blocks": ParamRange(5, 10_000_000),
    "max_block_gas": ParamRange(2_000_000, 100_000_000),
}
PARAM_FIELDS = tuple(f.name for f in state_pb2.Params.DESCRIPTOR.fields)


def out_of_range(name: str, value: object) -> str | None:
    """Why ``value`` cannot be parameter ``name``, or None when it can."""
    bounds = RANGES.get(name)
    if bounds is None:
        return f"unknown parameter (known: {', '.join(PARAM_FIELDS)})"
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    if not bounds.low <= value <= bounds.high:
        return f"must be {bounds.low} to {bounds.high}"
    return None
