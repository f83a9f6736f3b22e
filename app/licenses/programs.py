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

A license's deploy-time parameters are kept the same way (``parameters``): decoded and
converted to script values once per distinct encoding, instead of for every use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from app.core.valuemap import to_data
from app.licenses.lang import Limits, Prepared, Program, check_script
from app.pb.modelgov.v1 import tx_pb2

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


PARAMS_KEPT = 1024
"""Distinct parameter encodings kept at most (a license's are usually tens of bytes)."""
PARAMS_BUDGET = 256 * 1024
"""Encoded bytes of the kept parameters at most: one deployment's may be as large as its
transaction, and its data with its one kept conversion take up to about 70 times its encoding
in memory (a red-team review measured 73 MB for 1 MiB of sets of a thousand empty records), so
a member deploying many large ones evicts the others instead of growing the process."""


class ParamsCache:
    """Least-recently-used map from a ValueMap's encoding to its data, ready for a context,
    bounded by count and by encoded bytes."""

    def __init__(self, capacity: int = PARAMS_KEPT, budget: int = PARAMS_BUDGET) -> None:
        self.capacity = capacity
        self.budget = budget
        self.used = 0
        self._params: OrderedDict[bytes, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, params: tx_pb2.ValueMap) -> Prepared:
        """The parameters as data (shared: callers never change it), converted to script values
        once per place and limits they are read under (``app.licenses.lang.Prepared``)."""
        key = params.SerializeToString()
        with self._lock:
            found = self._params.get(key)
            if found is not None:
                self._params.move_to_end(key)
                return found
        prepared = Prepared(to_data(params))
        if len(key) > self.budget:
            return prepared  # used, not kept
        with self._lock:
            if key not in self._params:
                self._params[key] = prepared
                self.used += len(key)
            while len(self._params) > self.capacity or self.used > self.budget:
                old, _ = self._params.popitem(last=False)
                self.used -= len(old)
        return prepared


PARAMS = ParamsCache()


def parameters(params: tx_pb2.ValueMap) -> Prepared:
    """A license's parameters, from the cache when they are there."""
    return PARAMS.get(params)
