"""Operators of the language over script values, each charging its size-dependent gas.

Semantics are Python's, restricted: arithmetic on ints only (``bool`` is not a number here),
``+`` also joins two strs or two lists, ``*`` also repeats a str or a list, ``//`` and ``%``
floor like Python, ordering compares two ints, two strs or two lists. Every int a script
computes stays below ``2**max_int_bits`` in magnitude and every string within ``max_str_len``;
sizes are checked *before* a result is built, so a hostile script never makes the host allocate.
Failures raise Fault (located by the evaluator), GasFault or MemoryFault.
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.text import quote
from app.licenses.lang.errors import Fault, MemoryFault
from app.licenses.lang.gas import Meter, int_op_cost
from app.licenses.lang.limits import Limits
from app.licenses.lang.values import (
    CONTAINER_SIZE,
    DictV,
    Key,
    ListV,
    Value,
    equal,
    new_list,
    order,
    size_of,
    type_name,
)

BinaryOp = Callable[[Value, Value], Value]


class Ops:
    """Operators bound to one evaluation's meter and limits."""

    def __init__(self, meter: Meter, limits: Limits) -> None:
        self.meter = meter
        self.limits = limits

    # helpers

    def checked_int(self, n: int) -> int:
        """``n`` if it fits ``max_int_bits``; raises Fault (integer overflow) otherwise."""
        if n.bit_length() > self.limits.max_int_bits:
            raise Fault(
                f"integer overflow: the result needs {n.bit_length()} bits, the limit is "
                f"{self.limits.max_int_bits}"
            )
        return n

    def new_str(self, length: int) -> None:
        """Account for a new string of ``length`` characters before it is built (one gas more
        for the string itself, even an empty one)."""
        if length > self.limits.max_str_len:
            raise MemoryFault(
                f"a string of {length} characters exceeds max_str_len "
                f"{self.limits.max_str_len} (gas used {self.meter.gas})"
            )
        self.meter.charge(length + 1)
        self.meter.allocate(length)

    def make_list(self, items: tuple[Value, ...]) -> ListV:
        """A new list; its elements cost gas and memory (one unit each, plus one)."""
        self.meter.charge(len(items) + 1)
        self.meter.allocate(len(items) + 1)
        return new_list(items, self.limits)

    def _ints(self, a: Value, b: Value, symbol: str) -> tuple[int, int]:
        if type(a) is int and type(b) is int:
            return a, b
        raise Fault(f"unsupported operand types for {symbol}: {type_name(a)} and {type_name(b)}")

    # arithmetic

    def add(self, a: Value, b: Value) -> Value:
        """int + int, str + str, list + list."""
        if type(a) is int and type(b) is int:
            return self.checked_int(a + b)
        if type(a) is str and type(b) is str:
            self.new_str(len(a) + len(b))
            return a + b
        if type(a) is ListV and type(b) is ListV:
            self.meter.charge(len(a.items) + len(b.items))
            return self.make_list(a.items + b.items)
        raise Fault(f"unsupported operand types for +: {type_name(a)} and {type_name(b)}")

    def sub(self, a: Value, b: Value) -> Value:
        """int - int."""
        x, y = self._ints(a, b, "-")
        return self.checked_int(x - y)

    def mul(self, a: Value, b: Value) -> Value:
        """int * int, or a str or list repeated an int number of times."""
        if type(a) is int and type(b) is int:
            self.meter.charge(int_op_cost(a.bit_length(), b.bit_length()))
            return self.checked_int(a * b)
        if type(b) is int and type(a) in (str, ListV):
            return self._repeat(a, b)
        if type(a) is int and type(b) in (str, ListV):
            return self._repeat(b, a)
        raise Fault(f"unsupported operand types for *: {type_name(a)} and {type_name(b)}")

    def _repeat(self, seq: Value, times: int) -> Value:
        count = max(times, 0)
        if count == 0 or not seq or (type(seq) is ListV and not seq.items):
            return "" if isinstance(seq, str) else self.make_list(())
        if isinstance(seq, str):
            if count > self.limits.max_str_len:
                raise MemoryFault(
                    f"a string repeated {count} times exceeds max_str_len "
                    f"{self.limits.max_str_len} (gas used {self.meter.gas})"
                )
            self.new_str(len(seq) * count)
            return seq * count
        assert isinstance(seq, ListV)
        length = len(seq.items) * count
        self.meter.charge(length)
        self.meter.allocate(length + 1)
        inner = seq.size - CONTAINER_SIZE
        return ListV(seq.items * count, inner * count + CONTAINER_SIZE, seq.depth)

    def floordiv(self, a: Value, b: Value) -> Value:
        """int // int, flooring like Python; division by zero is an error."""
        x, y = self._ints(a, b, "//")
        if y == 0:
            raise Fault("division by zero")
        self.meter.charge(int_op_cost(x.bit_length(), y.bit_length()))
        return self.checked_int(x // y)

    def mod(self, a: Value, b: Value) -> Value:
        """int % int, with the divisor's sign like Python; modulo by zero is an error."""
        x, y = self._ints(a, b, "%")
        if y == 0:
            raise Fault("modulo by zero")
        self.meter.charge(int_op_cost(x.bit_length(), y.bit_length()))
        return self.checked_int(x % y)

    def power(self, a: Value, b: Value) -> Value:
        """int ** int with a non-negative exponent; refuses before computing if it must overflow."""
        base, exponent = self._ints(a, b, "**")
        if exponent < 0:
            raise Fault("negative exponents are not allowed (no fractions)")
        bits = base.bit_length()
        if bits > 1 and (bits - 1) * exponent >= self.limits.max_int_bits:
            raise Fault(
                f"integer overflow: {bits}-bit base to the power {exponent} exceeds "
                f"{self.limits.max_int_bits} bits"
            )
        if bits <= 1:  # base is -1, 0 or 1
            return self.checked_int(base**exponent)
        self.meter.charge(int_op_cost(bits * exponent, bits))
        return self.checked_int(base**exponent)

    def negate(self, a: Value) -> Value:
        """-int."""
        if type(a) is not int:
            raise Fault(f"bad operand type for unary -: {type_name(a)}")
        return self.checked_int(-a)

    # comparisons

    def eq(self, a: Value, b: Value) -> bool:
        """Deep equality; costs the smaller operand's size."""
        kind = type(a)
        if kind is type(b) and (kind is int or kind is str):
            self.meter.charge(1 + min(len(a), len(b)) if kind is str else 1)  # type: ignore[arg-type]
            return a == b
        self.meter.charge(min(size_of(a), size_of(b)))
        return equal(a, b)

    def cmp(self, a: Value, b: Value) -> int:
        """Ordering of two ints, strs or lists; costs the smaller operand's size (twice for
        lists: each pair is tested for equality, then ordered)."""
        kind = type(a)
        if kind is type(b) and (kind is int or kind is str):
            self.meter.charge(1 + min(len(a), len(b)) if kind is str else 1)  # type: ignore[arg-type]
            return (a > b) - (a < b)  # type: ignore[operator]
        self.meter.charge(2 * min(size_of(a), size_of(b)))
        return order(a, b)

    def contains(self, container: Value, item: Value) -> bool:
        """``item in container`` for a str, list, dict or record."""
        if type(container) is str:
            if type(item) is not str:
                raise Fault(f"'in <str>' requires a str on the left, not {type_name(item)}")
            self.meter.charge(len(container) + len(item))
            return item in container
        if type(container) is ListV:
            items = container.items
            if type(item) is ListV or type(item) is DictV:
                self.meter.charge(len(items))
                return any(self.eq(element, item) for element in items)
            # a scalar equals only scalars; C's == over the tuple decides the same way
            self.meter.charge(2 * len(items) + size_of(item))
            return item in items
        if type(container) is DictV:
            key = self._key(item, building=False)
            self.meter.charge(size_of(key))
            return _storable(key) and key in container.items
        raise Fault(f"'in' needs a str, list or dict on the right, not {type_name(container)}")

    def _key(self, key: Value, building: bool = True) -> Key:
        """A dict key: a str, or an int of magnitude below 2**61 when a dict is built.

        Python hashes an int to itself modulo 2**61 - 1, so bigger ints can be chosen to share
        one hash and make every insertion and lookup scan all the others; below that bound no
        two keys share a hash (but -1 and -2). Looking up a bigger int just finds nothing.
        """
        if type(key) is str:
            return key
        if type(key) is int:
            if building and not _storable(key):
                raise Fault(f"int dict keys must be below 2**61 in magnitude, not {key}")
            return key
        raise Fault(f"dict keys are str or int, not {type_name(key)}")

    # access

    def index(self, container: Value, key: Value) -> Value:
        """``container[key]``: a list or str by (possibly negative) int, a dict by key."""
        if type(container) is DictV:
            return self._lookup(container, self._key(key, building=False))
        if type(container) is ListV or type(container) is str:
            seq: tuple[Value, ...] | str = (
                container.items if isinstance(container, ListV) else str(container)
            )
            if type(key) is not int:
                raise Fault(f"{type_name(container)} indices must be int, not {type_name(key)}")
            if not -len(seq) <= key < len(seq):
                raise Fault(
                    f"index {key} out of range for a {type_name(container)} of length {len(seq)}"
                )
            return seq[key]
        raise Fault(f"{type_name(container)} cannot be indexed")

    def _lookup(self, record: DictV, key: Key) -> Value:
        self.meter.charge(size_of(key))
        try:
            if not _storable(key):
                raise KeyError(key)
            return record.items[key]
        except KeyError:
            where = record.path if record.path is not None else "dict"
            shown = quote(key, 40) if type(key) is str else str(key)
            raise Fault(f"{where} has no key {shown}") from None

    def attribute(self, record: Value, name: str) -> Value:
        """``record.name``: only context records have attributes."""
        if type(record) is not DictV or record.path is None:
            raise Fault(
                f"attribute access is only allowed on context records, not on {type_name(record)}"
            )
        try:
            return record.items[name]
        except KeyError:
            raise Fault(f"{record.path} has no field '{name}'") from None

    def slice(self, seq: Value, lower: Value, upper: Value) -> Value:
        """``seq[lower:upper]`` of a list or str (bounds int or None, clamped like Python)."""
        for bound in (lower, upper):
            if bound is not None and type(bound) is not int:
                raise Fault(f"slice bounds must be int or None, not {type_name(bound)}")
        lo = lower if type(lower) is int else None
        hi = upper if type(upper) is int else None
        if type(seq) is str:
            part = seq[lo:hi]
            self.new_str(len(part))
            return part
        if type(seq) is ListV:
            return self.make_list(seq.items[lo:hi])
        raise Fault(f"{type_name(seq)} cannot be sliced")


MAX_INT_KEY = 2**61 - 2


def _storable(key: Key) -> bool:
    """Whether ``key`` can be in a dict (every str; ints below 2**61 in magnitude)."""
    return type(key) is str or -MAX_INT_KEY <= key <= MAX_INT_KEY  # type: ignore[operator]
