"""The values a license script computes with, and the conversion of host data into them.

Scalars are Python ``int`` (bounded), ``bool``, ``None`` and ``str`` (bounded). Lists and dicts
are immutable wrappers that remember their deep size (for gas) and their nesting depth (so that
every helper walking them recurses a bounded number of times). A dict that comes from the host
is a *record*: its fields are also readable as attributes (``ctx.caller.org``), and its keys are
sorted when it is converted so that the order never depends on how the host built it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from app.core.text import quote
from app.licenses.lang.errors import Fault, MemoryFault
from app.licenses.lang.limits import DEFAULT_LIMITS, Limits

CONTAINER_SIZE = 4
"""Units a list or dict counts for itself in a deep size: walking a container (comparing,
rendering, converting it) costs the host several times what one scalar element does."""


class ListV:
    """An immutable list: ``items``, its deep ``size`` in units and its nesting ``depth``."""

    __slots__ = ("depth", "items", "size")

    def __init__(self, items: tuple[Value, ...], size: int, depth: int) -> None:
        self.items = items
        self.size = size
        self.depth = depth


class DictV:
    """An immutable dict with str or int keys; ``path`` names a record (``None`` otherwise)."""

    __slots__ = ("depth", "items", "path", "size")

    def __init__(self, items: dict[Key, Value], size: int, depth: int, path: str | None) -> None:
        self.items = items
        self.size = size
        self.depth = depth
        self.path = path


class DecisionV:
    """What ``allow(...)`` and ``deny(...)`` return; opaque to the script."""

    __slots__ = ("allowed", "fee", "note", "reason")

    def __init__(self, allowed: bool, fee: int, note: str, reason: str) -> None:
        self.allowed = allowed
        self.fee = fee
        self.note = note
        self.reason = reason


Key = int | str
Value = int | str | None | ListV | DictV | DecisionV


def size_of(value: Value) -> int:
    """Deep size in units: 1 for a scalar, the length of a string, the stored size otherwise."""
    if type(value) is str:
        return len(value)
    if type(value) is ListV or type(value) is DictV:
        return value.size
    return 1


def depth_of(value: Value) -> int:
    """Nesting depth: 0 for a scalar, 1 + the deepest element for a list or dict."""
    if type(value) is ListV or type(value) is DictV:
        return value.depth
    return 0


def type_name(value: Value) -> str:
    """The script-facing name of a value's type, for error messages."""
    if value is None:
        return "None"
    if type(value) is DictV:
        return "record" if value.path is not None else "dict"
    names = {bool: "bool", int: "int", str: "str", ListV: "list", DecisionV: "decision"}
    return names[type(value)]


def truth(value: Value) -> bool:
    """Python's truthiness; a decision has none (raises Fault)."""
    kind = type(value)
    if kind is bool or kind is int or kind is str:
        return bool(value)
    if value is None:
        return False
    if isinstance(value, ListV | DictV):
        return bool(value.items)
    raise Fault("a decision has no truth value")


def equal(a: Value, b: Value) -> bool:
    """Deep equality with Python's semantics; recursion is bounded by the value depth."""
    if a is b:
        return True  # values are immutable: the same object is equal to itself
    if isinstance(a, ListV):
        if not isinstance(b, ListV) or len(a.items) != len(b.items):
            return False
        pairs = zip(a.items, b.items, strict=True)
        return all(x is y or equal(x, y) for x, y in pairs)
    if isinstance(a, DictV):
        if not isinstance(b, DictV) or len(a.items) != len(b.items):
            return False
        other = b.items
        return all(k in other and equal(v, other[k]) for k, v in a.items.items())
    if isinstance(a, DecisionV) or isinstance(b, ListV | DictV | DecisionV):
        return False
    return bool(a == b)


def order(a: Value, b: Value) -> int:
    """-1, 0 or 1 for two ints, two strs or two lists (lexicographic: the first unequal pair
    decides, as in Python); raises Fault for anything else."""
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is str and tb is str):
        return (a > b) - (a < b)  # type: ignore[operator]
    if ta is ListV and tb is ListV:
        for x, y in zip(a.items, b.items, strict=False):  # type: ignore[union-attr]
            if x is not y and not equal(x, y):
                return order(x, y)  # like Python: the first unequal pair decides
        left, right = len(a.items), len(b.items)  # type: ignore[union-attr]
        return (left > right) - (left < right)
    raise Fault(f"cannot compare {type_name(a)} with {type_name(b)}")


def render(value: Value, limit: int) -> str:
    """``str(value)``: a str itself, an int in decimal, containers as Python writes them but
    with every string inside quoted by ``app.core.text.quote`` (single quotes, everything
    outside printable ASCII escaped by code point), so the text is the same on every Python.

    Rendering stops as soon as the text passes ``limit`` characters and raises MemoryFault
    saying how far it got: a huge value is never rendered whole.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is int or kind is bool or value is None:  # one piece: what _Rendering would add
        text = str(value)
        if len(text) > limit:
            raise MemoryFault(f"str() of a value longer than max_str_len {limit}")
        return text
    out = _Rendering(limit)
    out.value(value)
    return "".join(out.parts)


class _Rendering:
    """Text built piece by piece, iteratively (a value nests at most max_value_depth).

    Each open container is an iterator over its pieces, so the host walks a container only as
    far as the text gets: a list of a million elements costs what its first max_str_len
    characters cost, never a copy of the whole list first.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.length = 0
        self.parts: list[str] = []

    def add(self, piece: str) -> None:
        self.length += len(piece)
        if self.length > self.limit:
            raise MemoryFault(f"str() of a value longer than max_str_len {self.limit}")
        self.parts.append(piece)

    def value(self, value: Value) -> None:
        todo: list[Iterator[Value | _Raw]] = [iter((value,))]
        while todo:
            item = next(todo[-1], _END)
            if item is _END:
                todo.pop()
            elif type(item) is _Raw:
                self.add(item.text)
            elif type(item) is str:
                self.add(quote(item, self.limit - self.length + 1))
            elif type(item) is ListV:
                self.add("[")
                todo.append(_list_pieces(item.items))
            elif type(item) is DictV:
                self.add("{")
                todo.append(_dict_pieces(item.items))
            elif type(item) is DecisionV:
                self.add(_decision_text(item, self.limit - self.length + 1))
            else:
                self.add(str(item))


class _Raw:
    """Text that goes out as it is (brackets, separators)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_END = _Raw("")
_COMMA, _COLON, _CLOSE_LIST, _CLOSE_DICT = _Raw(", "), _Raw(": "), _Raw("]"), _Raw("}")


def _list_pieces(items: tuple[Value, ...]) -> Iterator[Value | _Raw]:
    """A list's elements with ", " between them, then "]", one at a time."""
    for i, item in enumerate(items):
        if i:
            yield _COMMA
        yield item
    yield _CLOSE_LIST


def _dict_pieces(items: dict[Key, Value]) -> Iterator[Value | _Raw]:
    """A dict's "key: value" pairs with ", " between them, then "}", one at a time."""
    for i, (key, inner) in enumerate(items.items()):
        if i:
            yield _COMMA
        yield key
        yield _COLON
        yield inner
    yield _CLOSE_DICT


def _decision_text(decision: DecisionV, limit: int) -> str:
    if decision.allowed:
        return f"allow(fee={decision.fee}, note={quote(decision.note, limit)})"
    return f"deny({quote(decision.reason, limit)})"


def new_list(items: tuple[Value, ...], limits: Limits) -> ListV:
    """A list of ``items``; raises Fault when it would nest deeper than the limit."""
    depth, size = _measure(items)
    if depth >= limits.max_value_depth:
        raise Fault(f"values nest deeper than max_value_depth {limits.max_value_depth}")
    return ListV(items, CONTAINER_SIZE + size, depth + 1)


def new_dict(items: dict[Key, Value], limits: Limits, path: str | None = None) -> DictV:
    """A dict of ``items``; raises Fault when it would nest deeper than the limit."""
    depth, size = _measure(items.values())
    if depth >= limits.max_value_depth:
        raise Fault(f"values nest deeper than max_value_depth {limits.max_value_depth}")
    for key in items:
        size += len(key) if type(key) is str else 1
    return DictV(items, CONTAINER_SIZE + size, depth + 1, path)


def _measure(values: Iterable[Value]) -> tuple[int, int]:
    """The deepest nesting and the total size of ``values``, in one pass."""
    depth = size = 0
    for value in values:
        kind = type(value)
        if kind is str:
            size += len(value)  # type: ignore[arg-type]
        elif kind is ListV or kind is DictV:
            size += value.size  # type: ignore[union-attr]
            if value.depth > depth:  # type: ignore[union-attr]
                depth = value.depth  # type: ignore[union-attr]
        else:
            size += 1
    return depth, size


def to_value(data: Any, limits: Limits = DEFAULT_LIMITS, path: str = "ctx") -> Value:
    """Convert host data (int, bool, None, str, list/tuple, dict) into a script value.

    Dicts become records named by ``path`` with sorted keys. Raises TypeError for floats and any
    other type, ValueError for an out-of-range int, an oversize string, a bad key, too deep a
    nesting or a total size above ``limits.max_context_size`` (counted while converting, so an
    oversize context costs no more than the limit to refuse).
    """
    budget = _Budget(limits.max_context_size, path)
    try:
        return _convert(data, limits, path, 0, budget)
    except Fault as fault:
        raise ValueError(f"{path}: {fault.reason}") from None


class _Budget:
    """The context's size so far, in the units of ``size_of``."""

    def __init__(self, limit: int, path: str) -> None:
        self.limit = limit
        self.path = path
        self.used = 0

    def take(self, units: int) -> None:
        self.used += units
        if self.used > self.limit:
            self.refuse(units)

    def refuse(self, units: int) -> None:
        """Raise for the ``units`` that took ``used`` past the limit."""
        raise ValueError(
            f"{self.path} has size over {self.used - units}, above max_context_size {self.limit}"
        )


class _Probe(_Budget):
    """A budget without a limit that remembers the most it held at any ``take``: converting
    takes its units one by one, and the only step back (``_convert_mapping``'s check of a
    record's entry count before sorting it) comes right after a ``take``, so the most held is
    the larger of that and the final count."""

    def __init__(self) -> None:
        super().__init__(sys.maxsize, "")
        self.peak = 0

    def take(self, units: int) -> None:
        self.used += units
        if self.used > self.peak:
            self.peak = self.used


class Prepared:
    """Host data that ``to_value`` converts once and then reuses, as long as it meets it at the
    same place (path, depth) under the same limits: a license's parameters are one record for
    every use of the license, so they need not be converted again for each use.

    Reusing gives exactly what converting gives (script values are immutable): it happens only
    where the context's budget has room for the most the conversion ever held (its ``peak``,
    which may pass its final size: a record's entry count is checked before its entries are
    counted, and an entry ``"": ""`` counts nothing), and then takes the value's size, which is
    what converting takes piece by piece. Otherwise the data is converted again, so a refusal
    is the same, in the same words. One conversion is kept (the last place and limits).
    """

    __slots__ = ("_converted", "data")

    def __init__(self, data: Any) -> None:
        self.data = data
        self._converted: tuple[tuple[Limits, str, int], Value, int] | None = None

    def found(self, limits: Limits, path: str, depth: int) -> tuple[Value, int] | None:
        """The value converted at this place and its peak, or None."""
        kept = self._converted
        if kept is None or kept[0] != (limits, path, depth):
            return None
        return kept[1], kept[2]

    def keep(self, limits: Limits, path: str, depth: int, value: Value, peak: int) -> None:
        self._converted = ((limits, path, depth), value, peak)


def _convert(data: Any, limits: Limits, path: str, depth: int, budget: _Budget) -> Value:
    if depth > limits.max_value_depth:
        raise ValueError(f"{path} nests deeper than max_value_depth {limits.max_value_depth}")
    kind = type(data)
    if kind is Prepared:
        return _convert_prepared(data, limits, path, depth, budget)
    if data is None or kind is bool:
        budget.take(1)
        return data  # type: ignore[no-any-return]
    if kind is dict:
        budget.take(CONTAINER_SIZE)
        return _convert_mapping(data, limits, path, depth, budget)
    if kind is int:
        if data.bit_length() > limits.max_int_bits:
            raise ValueError(f"{path} is an int beyond {limits.max_int_bits} bits")
        budget.take(1)
        return data  # type: ignore[no-any-return]
    if kind is str:
        if len(data) > limits.max_str_len:
            raise ValueError(f"{path} is a string longer than {limits.max_str_len}")
        budget.take(len(data))
        return data  # type: ignore[no-any-return]
    return _convert_other(data, limits, path, depth, budget)


def _convert_prepared(
    data: Prepared, limits: Limits, path: str, depth: int, budget: _Budget
) -> Value:
    """A Prepared's value converted at this place before, where the budget has room for its
    peak; or converted now (then its peak measured without a limit, and both kept)."""
    kept = data.found(limits, path, depth)
    if kept is not None and budget.used + kept[1] <= budget.limit:
        budget.used += size_of(kept[0])
        return kept[0]
    value = _convert(data.data, limits, path, depth, budget)
    probe = _Probe()
    _convert(data.data, limits, path, depth, probe)
    data.keep(limits, path, depth, value, max(probe.peak, probe.used))
    return value


def _convert_other(data: Any, limits: Limits, path: str, depth: int, budget: _Budget) -> Value:
    """Subclasses of the plain types (bool is an int, a Mapping need not be a dict), lists and
    tuples, and the refusals."""
    if isinstance(data, bool):
        budget.take(1)
        return bool(data)
    if isinstance(data, int):
        if data.bit_length() > limits.max_int_bits:
            raise ValueError(f"{path} is an int beyond {limits.max_int_bits} bits")
        budget.take(1)
        return int(data)
    if isinstance(data, str):
        if len(data) > limits.max_str_len:
            raise ValueError(f"{path} is a string longer than {limits.max_str_len}")
        budget.take(len(data))
        return str(data)
    if isinstance(data, list | tuple):
        budget.take(CONTAINER_SIZE)
        converted: list[Value] = []
        for i, x in enumerate(data):
            scalar = _plain_scalar(x, limits, depth + 1)
            if scalar is not None:
                budget.take(scalar)
                converted.append(x)
            else:
                converted.append(_convert(x, limits, f"{path}[{i}]", depth + 1, budget))
        return new_list(tuple(converted), limits)
    if isinstance(data, Mapping):
        budget.take(CONTAINER_SIZE)
        return _convert_mapping(data, limits, path, depth, budget)
    if isinstance(data, float):
        raise TypeError(f"{path} is a float; license contexts hold integers only")
    raise TypeError(f"{path} has type {type(data).__name__}, which a license script cannot read")


def _convert_mapping(
    data: Mapping[Any, Any], limits: Limits, path: str, depth: int, budget: _Budget
) -> DictV:
    """A record with sorted keys. Its plain scalar entries (the bulk of a context) are counted
    inline, taking the budget unit by unit in the order the general path would, so that the
    result and any refusal are the same as converting entry by entry."""
    text_keys = all(type(key) is str for key in data)  # a host record's keys: the usual case
    if not text_keys:
        for key in data:
            if isinstance(key, bool) or not isinstance(key, int | str):
                kind = type(key).__name__
                raise TypeError(f"{path} has a key of type {kind}; keys are str or int")
    budget.take(len(data))  # a quick refusal before sorting: one unit an entry (only an
    budget.used -= len(data)  # entry "": "" counts less, and it is refused here all the same)
    keys = sorted(data) if text_keys else sorted(data, key=lambda k: (isinstance(k, str), k))
    items: dict[Key, Value] = {}
    first = budget.used - CONTAINER_SIZE  # the container's own units are taken already
    limit, inner = budget.limit, 0
    scalars = depth + 1 <= limits.max_value_depth
    max_len, max_bits = limits.max_str_len, limits.max_int_bits
    for key in keys:
        units = len(key) if type(key) is str else 1
        budget.used += units
        if budget.used > limit:
            budget.refuse(units)
        value = data[key]
        of = type(value)
        if scalars and of is str and len(value) <= max_len:
            units = len(value)
        elif scalars and (
            (of is int and value.bit_length() <= max_bits) or value is None or of is bool
        ):
            units = 1
        else:
            converted = _convert(value, limits, _inner_path(path, key), depth + 1, budget)
            items[key] = converted
            if type(converted) is ListV or type(converted) is DictV:
                inner = max(inner, converted.depth)
            continue
        budget.used += units
        if budget.used > limit:
            budget.refuse(units)
        items[key] = value
    if inner >= limits.max_value_depth:
        raise Fault(f"values nest deeper than max_value_depth {limits.max_value_depth}")
    return DictV(items, budget.used - first, inner + 1, path)


def _inner_path(path: str, key: Key) -> str:
    """How an error names the value under ``key`` of the record at ``path``."""
    if type(key) is str:
        named = key.isascii() and key.isidentifier()
        return f"{path}.{key}" if named else f"{path}[{quote(key, 40)}]"
    return f"{path}[{key}]"


def _plain_scalar(data: Any, limits: Limits, depth: int) -> int | None:
    """The units of a str, int, bool or None that ``_convert`` would take as it is without
    complaint (the common case, which needs no path); None for anything else, which goes
    through ``_convert`` (and its errors, which name the path)."""
    if depth > limits.max_value_depth:
        return None
    kind = type(data)
    if kind is str:
        return len(data) if len(data) <= limits.max_str_len else None
    if kind is int:
        return 1 if data.bit_length() <= limits.max_int_bits else None
    if data is None or kind is bool:
        return 1
    return None
