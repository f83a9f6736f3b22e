"""Checked license programs, kept between uses within a memory budget.

Checking and compiling a script takes milliseconds and its tree and closures take a few hundred
times its source size in memory, so a use should not redo it and a cache must not grow with
what anyone submits. ``compiled`` keeps the most recently used programs whose sources add up to
at most ``SOURCE_BUDGET`` bytes (about 100 MB of trees at the largest scripts), evicting the
least recently used, and on top of them the programs pinned by the block being executed (its
licenses paid for loading them, app.core.gas), released at Commit. A program is a pure
function of (source, limits), so whether it came from the cache never changes a decision.
Queries run on their own thread, so the cache takes a lock; a program itself is immutable once
checked (its compiled code is made once and never changed).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from app.licenses.lang import Limits, Program, check_script

SOURCE_BUDGET = 256 * 1024


class ProgramCache:
    """A least-recently-used map (source, limits) -> Program, bounded by source bytes."""

    def __init__(self, budget: int = SOURCE_BUDGET) -> None:
        self.budget = budget
        self.used = 0
        self._programs: OrderedDict[tuple[str, Limits], Program] = OrderedDict()
        self._pinned: dict[tuple[str, Limits], Program] = {}
        self._lock = threading.Lock()

    def get(self, source: str, limits: Limits, pin: bool = False) -> Program:
        """The checked program, pinned until ``release`` when ``pin``; raises ScriptError
        (nothing is cached then)."""
        key = (source, limits)
        with self._lock:
            found = self._pinned.get(key) or self._programs.get(key)
            if found is not None:
                if key in self._programs:
                    self._programs.move_to_end(key)
                if pin:
                    self._pinned[key] = found
                return found
        program = check_script(source, limits)  # outside the lock: checks take milliseconds
        with self._lock:
            if pin:
                self._pinned[key] = program
            if key not in self._programs:
                self._programs[key] = program
                self.used += len(source)
            while self.used > self.budget and len(self._programs) > 1:
                (old_source, _), _ = self._programs.popitem(last=False)
                self.used -= len(old_source)
        return program

    def release(self) -> None:
        """Unpin what the last block pinned (Commit calls this)."""
        with self._lock:
            self._pinned.clear()

    def __len__(self) -> int:
        return len(self._programs)


CACHE = ProgramCache()


def compiled(source: str, limits: Limits, pin: bool = False) -> Program:
    """A script's checked program, from the cache when it is there. Raises ScriptError."""
    return CACHE.get(source, limits, pin)
