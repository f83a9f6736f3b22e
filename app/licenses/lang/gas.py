"""The price list of a license evaluation, and the meter that counts gas and memory.

Gas is meant to pay for the host's work: every price below was set from measurements of the
evaluator on the same machine (``benchmarks/license_gas_fuzz.py`` reports host time per gas
for adversarial scripts beside a plain loop's, and the test suite bounds the ratio). Each node
has a static price (``node_cost``) paid when it is evaluated; work that grows with the size of
values (building, copying, scanning, comparing, hashing, sorting, rendering, converting the
context) costs one unit per character or element it touches, and integer arithmetic beyond
addition costs by the number of 64-bit words involved. Nothing here reads the host: the same
script and context always use the same gas.
"""

from __future__ import annotations

import ast

from app.core.pause import pause_point
from app.licenses.lang.errors import GasFault, MemoryFault

NODE = 1
CALL = 14
ITER = 1
SORT_COMPARE = 4
"""Price of one comparison when sorting values that are not all ints or all strs: each is a
Python-level comparison, several times dearer than the C one."""
SLICE = 4
"""Extra price of a slice: bound checks and a new value (measured: ``x = ints[1:]`` of a short
list cost four times a plain loop's host time per gas without it)."""
PAUSE_EVERY = 4096
"""Gas between two pause points: where a query yields to consensus (``app.core.pause``)."""

# Built-ins whose set-up (type checks, copies, a result) costs more than a plain call.
BUILTIN_BASE: dict[str, int] = {
    "min": 6,
    "max": 6,
    "sum": 4,
    "sorted": 16,
    "str": 8,
    "int": 4,
    "allow": 4,
    "deny": 2,
}

# Static prices per node type, on top of NODE; sizes are added by node_cost.
_EXTRA: dict[type, int] = {
    ast.Constant: 0,
    ast.Name: 0,
    ast.Attribute: 1,
    ast.Subscript: 1,
    ast.BinOp: 1,
    ast.UnaryOp: 0,
    ast.BoolOp: 0,
    ast.Compare: 0,
    ast.IfExp: 1,
    ast.Call: 4,
    ast.List: 1,
    ast.Dict: 1,
    ast.Assign: 0,
    ast.AugAssign: 2,
    ast.If: 1,
    ast.For: 2,
    ast.Return: 0,
    ast.Expr: 0,
    ast.Pass: 0,
    ast.Break: 0,
    ast.Continue: 0,
    ast.FunctionDef: 1,
}


def node_cost(node: ast.AST) -> int:
    """The static price of evaluating ``node`` once (its children pay their own)."""
    cost = NODE + _EXTRA[type(node)]
    if isinstance(node, ast.Compare):
        cost += len(node.ops)
    elif isinstance(node, ast.Call):
        cost += len(node.args) + len(node.keywords)
        cost += BUILTIN_BASE.get(getattr(node.func, "id", ""), 0)
    elif isinstance(node, ast.BoolOp):
        cost += 2 * (len(node.values) - 1)
    elif isinstance(node, ast.BinOp | ast.AugAssign) and not isinstance(node.op, ast.Add | ast.Sub):
        cost += 1
    elif isinstance(node, ast.List):
        cost += len(node.elts)
    elif isinstance(node, ast.Dict):
        cost += 2 * len(node.keys)
    elif isinstance(node, ast.Assign):
        cost += len(node.targets)
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        cost += SLICE
    elif isinstance(node, ast.FunctionDef):
        cost += len(node.args.defaults)
    return cost


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


def sort_cost(n: int, size: int, python_compare: bool = False) -> int:
    """Gas of sorting ``n`` elements of deep ``size`` in all: n*log2(n) comparisons (each
    SORT_COMPARE when Python compares them) + n + size*log2(n)."""
    log = ceil_log2(n)
    per_compare = SORT_COMPARE if python_compare else 1
    return n * log * per_compare + n + size * log


class Meter:
    """Counts gas and cumulative allocation; raises GasFault / MemoryFault past the limits.

    ``stop`` is the next gas total at which ``charge`` leaves its fast path: the limit, or
    the next pause point before it.
    """

    __slots__ = ("gas", "gas_limit", "memory", "memory_limit", "stop")

    def __init__(self, gas_limit: int, memory_limit: int) -> None:
        self.gas = 0
        self.gas_limit = gas_limit
        self.memory = 0
        self.memory_limit = memory_limit
        self.stop = min(gas_limit, PAUSE_EVERY)

    def charge(self, amount: int) -> None:
        """Spend ``amount`` gas; raises GasFault when the total passes the limit."""
        self.gas += amount
        if self.gas > self.stop:
            self.slow_path()

    def slow_path(self) -> None:
        """Past ``stop``: out of gas, or a pause point and the next ``stop``."""
        if self.gas > self.gas_limit:
            raise GasFault(f"out of gas: needed {self.gas}, gas limit {self.gas_limit}")
        pause_point()
        self.stop = min(self.gas_limit, self.gas + PAUSE_EVERY)

    def allocate(self, units: int) -> None:
        """Count ``units`` of new values; raises MemoryFault when the total passes the limit."""
        self.memory += units
        if self.memory > self.memory_limit:
            raise MemoryFault(
                f"memory exceeded: allocated {self.memory} units, memory limit {self.memory_limit}"
                f" (gas used {self.gas})"
            )
