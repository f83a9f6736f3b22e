"""Host stack headroom: the interpreter's own limits must always be the ones that stop a script.

The checker, the compiler and the evaluator recurse over a script's tree, a bounded number of
Python frames per level of nesting. Before each of them starts, ``ensure_host_frames`` raises
the host's recursion limit if the frames already on the stack plus what the work may need do
not fit; the limit only grows. That changes when work happens, never what it computes, so a
validator whose ABCI stack happens to be deeper than another's reaches the same answer.
"""

from __future__ import annotations

import sys

from app.licenses.lang.limits import Limits

# Python frames per unit of script nesting, per script call, and a margin for the machine's
# own helpers around them.
FRAMES_PER_LEVEL = 2
FRAMES_PER_CALL = 4
FRAMES_MARGIN = 200


def frames_to_check(depth: int) -> int:
    """Frames the checker or the compiler may need for a tree ``depth`` levels deep."""
    return 3 * depth + FRAMES_MARGIN


def frames_to_run(limits: Limits) -> int:
    """Frames a run may need at most, whatever the script (module body included)."""
    levels = limits.max_eval_depth + 2 * limits.max_ast_depth + 2 * limits.max_value_depth
    return FRAMES_PER_LEVEL * levels + FRAMES_PER_CALL * limits.max_call_depth + FRAMES_MARGIN


def ensure_host_frames(needed: int) -> None:
    """Raise the host's recursion limit, if needed, so ``needed`` more frames always fit."""
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    if sys.getrecursionlimit() < depth + needed:
        sys.setrecursionlimit(depth + needed)
