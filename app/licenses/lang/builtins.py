"""The built-in functions of the language: len, min, max, sum, range, sorted, abs, str, int,
and the two decisions allow(fee=0, note="") and deny(reason).

Each takes the evaluated positional arguments (``allow`` also its keywords), charges its
size-dependent gas and raises Fault on misuse. ``range`` is materialised as a list here; a
``for`` over ``range(...)`` is iterated lazily by the evaluator, and both refuse more than
``max_loop_range`` elements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from app.core.text import quote
from app.licenses.lang.errors import Fault, MemoryFault
from app.licenses.lang.gas import sort_cost
from app.licenses.lang.ops import Ops
from app.licenses.lang.values import (
    CONTAINER_SIZE,
    DecisionV,
    DictV,
    ListV,
    Value,
    order,
    render,
    size_of,
    type_name,
)

Builtin = Callable[[list[Value], dict[str, Value]], Value]
_DIGITS = frozenset("0123456789")


class Builtins(Ops):
    """The built-ins, sharing the operators' meter and limits."""

    def builtin_table(self) -> dict[str, Builtin]:
        """Name -> implementation (arities are checked statically by the checker)."""
        return {
            "len": self.b_len,
            "min": self.b_min,
            "max": self.b_max,
            "sum": self.b_sum,
            "range": self.b_range,
            "sorted": self.b_sorted,
            "abs": self.b_abs,
            "str": self.b_str,
            "int": self.b_int,
            "allow": self.b_allow,
            "deny": self.b_deny,
        }

    def elements(self, value: Value, what: str) -> tuple[Value, ...]:
        """The items a built-in sees, as a tuple: list items (shared, free), dict keys or str
        characters (copied: one gas each)."""
        if type(value) is ListV:
            return value.items
        if type(value) is DictV:
            self.meter.charge(len(value.items))
            return tuple(value.items)
        if type(value) is str:
            self.meter.charge(len(value))
            return tuple(value)
        raise Fault(f"{what} needs a list, dict or str, not {type_name(value)}")

    def lazy_elements(self, value: Value, what: str) -> Iterator[Value]:
        """The items a for loop walks, one at a time and without a copy (the values are
        immutable): list items, dict keys, str characters. Each step is paid by the loop."""
        if type(value) is ListV or type(value) is DictV:
            return iter(value.items)
        if type(value) is str:
            return iter(value)
        raise Fault(f"{what} needs a list, dict or str, not {type_name(value)}")

    def b_len(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """len(str | list | dict)."""
        value = args[0]
        if type(value) is str:
            return len(value)
        if type(value) is ListV or type(value) is DictV:
            return len(value.items)
        raise Fault(f"len() of {type_name(value)}")

    def _extreme(self, args: list[Value], name: str, sign: int) -> Value:
        items = self.elements(args[0], f"{name}()") if len(args) == 1 else tuple(args)
        if not items:
            raise Fault(f"{name}() of an empty sequence")
        self.meter.charge(len(items))
        if all(type(x) is int for x in items) or all(type(x) is str for x in items):
            # C's min and max keep the first extreme, as the loop below does
            self.meter.charge(sum(size_of(x) for x in items))
            return min(items) if sign < 0 else max(items)  # type: ignore[type-var]
        best = items[0]
        for item in items[1:]:
            if self.cmp(item, best) == sign:
                best = item
        return best

    def b_min(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """min(iterable) or min(a, b, ...): the first smallest."""
        return self._extreme(args, "min", -1)

    def b_max(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """max(iterable) or max(a, b, ...): the first largest."""
        return self._extreme(args, "max", 1)

    def b_sum(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """sum(list of ints, start=0)."""
        total = args[1] if len(args) == 2 else 0
        items = self.elements(args[0], "sum()")
        self.meter.charge(2 * len(items))
        for item in items:
            total = self.add(self._int_arg(total, "sum()"), self._int_arg(item, "sum()"))
        return total

    def range_of(self, args: list[Value]) -> range:
        """The Python range for range(...)'s arguments; refuses more than max_loop_range."""
        bounds = [self._int_arg(arg, "range()") for arg in args]
        start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (*bounds[:2], 1)
        if len(bounds) == 3:
            step = bounds[2]
        if step == 0:
            raise Fault("range() step must not be zero")
        length = max(0, (stop - start + step - (1 if step > 0 else -1)) // step)
        if length > self.limits.max_loop_range:
            raise Fault(
                f"range() of {length} elements exceeds max_loop_range {self.limits.max_loop_range}"
            )
        return range(start, stop, step)

    def b_range(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """range(stop), range(start, stop), range(start, stop, step) as a list."""
        span = self.range_of(args)
        self.meter.charge(len(span))
        self.meter.allocate(len(span) + 1)
        return ListV(tuple(span), len(span) + CONTAINER_SIZE, 1)

    def b_sorted(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """sorted(list | dict | str): ascending, stable; elements must be mutually comparable."""
        items = self.elements(args[0], "sorted()")
        self.meter.charge(len(items))
        plain = all(type(x) is int for x in items) or all(type(x) is str for x in items)
        size = sum(size_of(x) for x in items)
        self.meter.charge(sort_cost(len(items), size, python_compare=not plain))
        result = tuple(sorted(items)) if plain else merge_sort(items)  # type: ignore[type-var]
        return self.make_list(result)

    def b_abs(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """abs(int)."""
        return abs(self._int_arg(args[0], "abs()"))

    def b_str(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """str(value) as ``values.render`` writes it: the same text on every Python. Rendering
        costs one gas per character written, and stops at max_str_len characters."""
        value = args[0]
        if type(value) is str:
            return value
        # a value is walked until its text passes max_str_len: at most one visit per character
        self.meter.charge(2 * min(size_of(value), CONTAINER_SIZE * self.limits.max_str_len))
        try:
            text = render(value, self.limits.max_str_len)
        except MemoryFault as fault:
            self.meter.charge(self.limits.max_str_len)
            raise MemoryFault(f"{fault.reason} (gas used {self.meter.gas})") from None
        self.new_str(len(text))
        return text

    def b_int(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """int(int) or int(str of ASCII decimal digits, optional sign and surrounding blanks)."""
        value = args[0]
        if type(value) is int:
            return value
        if type(value) is not str:
            raise Fault(f"int() of {type_name(value)}")
        self.meter.charge(len(value))
        text = value.strip(" \t\n")
        digits = text[1:] if text[:1] in ("+", "-") else text
        if not digits or not set(digits) <= _DIGITS:
            raise Fault(f"int() of a str that is not a decimal integer: {quote(value, 40)}")
        if len(digits) > self.limits.max_int_bits // 3 + 1:
            raise Fault(f"integer overflow: {len(digits)} digits")
        return self.checked_int(int(text))

    def b_allow(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """allow(fee=0, note=""): fee an int >= 0, note a bounded str."""
        named = dict(zip(("fee", "note"), args, strict=False)) | kwargs
        fee, note = named.get("fee", 0), named.get("note", "")
        if type(fee) is not int or fee < 0:
            shown = str(fee) if type(fee) is int else type_name(fee)
            raise Fault(f"allow() fee must be an int >= 0, not {shown}")
        return DecisionV(True, fee, self._text(note, "allow() note"), "")

    def b_deny(self, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """deny(reason): reason a non-empty bounded str."""
        reason = self._text(args[0], "deny() reason")
        if not reason:
            raise Fault("deny() reason must not be empty")
        return DecisionV(False, 0, "", reason)

    def _text(self, value: Value, what: str) -> str:
        if type(value) is not str:
            raise Fault(f"{what} must be a str, not {type_name(value)}")
        if len(value) > self.limits.max_note_len:
            raise Fault(
                f"{what} is {len(value)} characters, the limit is {self.limits.max_note_len}"
            )
        self.meter.charge(len(value))
        return value

    def _int_arg(self, value: Value, what: str) -> int:
        if type(value) is not int:
            raise Fault(f"{what} needs int arguments, not {type_name(value)}")
        return value


def merge_sort(items: tuple[Value, ...]) -> tuple[Value, ...]:
    """A stable bottom-up merge sort by ``order``.

    Values that are not all ints or all strs may be incomparable (``[1]`` and ``[None]``), so
    whether a sort fails depends on which pairs it compares. Python's own sort changed its merge
    policy between versions; this one compares the same pairs on every Python.
    """
    run = list(items)
    width = 1
    while width < len(run):
        merged: list[Value] = []
        for low in range(0, len(run), 2 * width):
            middle, high = min(low + width, len(run)), min(low + 2 * width, len(run))
            i, j = low, middle
            while i < middle and j < high:
                if order(run[j], run[i]) < 0:
                    merged.append(run[j])
                    j += 1
                else:
                    merged.append(run[i])
                    i += 1
            merged.extend(run[i:middle])
            merged.extend(run[j:high])
        run = merged
        width *= 2
    return tuple(run)
