"""The price list of a license evaluation, and the meter that counts gas and memory.

Every node the evaluator visits costs ``NODE``; a call, a loop iteration and a built-in add a
fixed amount; work proportional to the sizes of values (building, scanning, comparing, sorting)
costs one unit per character or element. Integer arithmetic beyond addition costs by the number
of 64-bit words involved. Nothing here reads the host: the same script and context always use
the same gas.
"""

from __future__ import annotations

from app.licenses.lang.errors import GasFault, MemoryFault

NODE = 1
CALL = 10
BUILTIN = 2
ITER = 1


def words(bits: int) -> int:
    """64-bit words needed for ``bits`` bits (at least one)."""
    return max(1, (bits + 63) // 64)


def int_op_cost(a_bits: int, b_bits: int) -> int:
    """Extra gas of a multiplication, division, modulo or power on operands of these sizes."""
    w = words(max(a_bits, b_bits))
    return w * w


def ceil_log2(n: int) -> int:
    """The smallest k with 2**k >= n (0 for n <= 1)."""
    return max(0, (n - 1).bit_length())


def sort_cost(n: int, size: int) -> int:
    """Gas of sorting ``n`` elements of deep ``size`` in all: n*log2(n) + n + size*log2(n)."""
    log = ceil_log2(n)
    return n * log + n + size * log


class Meter:
    """Counts gas and cumulative allocation; raises GasFault / MemoryFault past the limits."""

    __slots__ = ("gas", "gas_limit", "memory", "memory_limit")

    def __init__(self, gas_limit: int, memory_limit: int) -> None:
        self.gas = 0
        self.gas_limit = gas_limit
        self.memory = 0
        self.memory_limit = memory_limit

    def charge(self, amount: int) -> None:
        """Spend ``amount`` gas; raises GasFault when the total passes the limit."""
        self.gas += amount
        if self.gas > self.gas_limit:
            raise GasFault(f"out of gas: needed {self.gas}, gas limit {self.gas_limit}")

    def allocate(self, units: int) -> None:
        """Count ``units`` of new values; raises MemoryFault when the total passes the limit."""
        self.memory += units
        if self.memory > self.memory_limit:
            raise MemoryFault(
                f"memory exceeded: allocated {self.memory} units, memory limit {self.memory_limit}"
                f" (gas used {self.gas})"
            )
