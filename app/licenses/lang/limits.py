"""The bounds every license evaluation runs under; the chain uses the defaults.

All of them are integers counted from the script itself (its source, its steps, the sizes of
the values it builds), never from the host, so that every validator stops a script at the same
step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Static (check time) and dynamic (run time) bounds of a license script.

    ``memory_limit`` is a cumulative allocation budget in units (one per character of a new
    string, one per element of a new list plus one, two per entry of a new dict plus one).
    ``max_eval_depth`` bounds the sum of the nesting depths of the active function calls, which
    keeps the evaluator's own recursion far below Python's limit. ``max_context_size`` bounds
    the host-provided context (same units, deep), checked when it is converted.
    """

    max_source_bytes: int = 16_384
    gas_limit: int = 150_000
    memory_limit: int = 1_000_000
    max_int_bits: int = 256
    max_str_len: int = 8_192
    max_call_depth: int = 32
    max_ast_depth: int = 64
    max_eval_depth: int = 256
    max_loop_range: int = 100_000
    max_value_depth: int = 32
    max_note_len: int = 512
    max_context_size: int = 16_384


DEFAULT_LIMITS = Limits()
