"""A scheduling hint for long read-only work: let consensus go first.

Queries run on their own thread while the engine's consensus requests run on another. Python
threads share one interpreter lock, so a long dry run could slow FinalizeBlock down. Long loops
in the state machine (the license evaluator's meter) call ``pause_point``; on a thread that
installed a hook (the query worker), the hook waits while a consensus request is being served.
On every other thread, consensus included, it does nothing. It never changes a result: only
when work happens, not what it computes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_local = threading.local()


def set_pause_hook(hook: Callable[[], None] | None) -> None:
    """Install (or, with None, remove) the calling thread's hook."""
    _local.hook = hook


def pause_point() -> None:
    """Run the calling thread's hook, if it installed one."""
    hook: Callable[[], None] | None = getattr(_local, "hook", None)
    if hook is not None:
        hook()
