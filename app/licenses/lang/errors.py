"""What a license script can fail with: refused at deploy, or stopped while running.

Columns are 1-based (the first character of a line is column 1), lines as in the source.
"""

from __future__ import annotations


class ScriptError(Exception):
    """The script was refused at check time (syntax, a construct outside the language, size)."""

    def __init__(self, line: int, col: int, reason: str) -> None:
        super().__init__(f"line {line}, col {col}: {reason}")
        self.line = line
        self.col = col
        self.reason = reason


class ScriptRuntimeError(Exception):
    """The script failed while running; ``gas_used`` is what it consumed up to the failure."""

    def __init__(self, line: int, col: int, reason: str, gas_used: int = 0) -> None:
        super().__init__(f"line {line}, col {col}: {reason}")
        self.line = line
        self.col = col
        self.reason = reason
        self.gas_used = gas_used


class OutOfGas(ScriptRuntimeError):
    """The script needed more gas than its limit; a script cannot catch it."""


class MemoryExceeded(ScriptRuntimeError):
    """The script built more (or bigger) values than the memory bound allows."""


class Fault(Exception):
    """Internal: a failure raised by value helpers, located at a node by the evaluator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GasFault(Fault):
    """Internal: the meter ran out of gas."""


class MemoryFault(Fault):
    """Internal: the meter ran out of memory, or a value grew past its bound."""
