"""The values a license script computes with, and the conversion of host data into them.

Scalars are Python ``int`` (bounded), ``bool``, ``None`` and ``str`` (bounded). Lists and dicts
are immutable wrappers that remember their deep size (for gas) and their nesting depth (so that
every helper walking them recurses a bounded number of times). A dict that comes from the host
is a *record*: its fields are also readable as attributes (``ctx.caller.org``), and its keys are
sorted when it is converted so that the order never depends on how the host built it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.licenses.lang.errors import Fault
from app.licenses.lang.limits import DEFAULT_LIMITS, Limits


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
    if type(a) is ListV:
        if type(b) is not ListV or len(a.items) != len(b.items):
            return False
        return all(equal(x, y) for x, y in zip(a.items, b.items, strict=True))
    if type(a) is DictV:
        if type(b) is not DictV or len(a.items) != len(b.items):
            return False
        other = b.items
        return all(k in other and equal(v, other[k]) for k, v in a.items.items())
    if type(a) is DecisionV or type(b) in (ListV, DictV, DecisionV):
        return a is b
    return bool(a == b)


def order(a: Value, b: Value) -> int:
    """-1, 0 or 1 for two ints, two strs or two lists (lexicographic); raises Fault otherwise."""
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is str and tb is str):
        return (a > b) - (a < b)  # type: ignore[operator]
    if isinstance(a, ListV) and isinstance(b, ListV):
        for x, y in zip(a.items, b.items, strict=False):
            step = order(x, y)
            if step:
                return step
        return (len(a.items) > len(b.items)) - (len(a.items) < len(b.items))
    raise Fault(f"cannot compare {type_name(a)} with {type_name(b)}")


def render(value: Value) -> str:
    """``str(value)`` as Python writes it (strings inside containers in ``repr`` form)."""
    if type(value) is str:
        return value
    return _repr(value)


def _repr(value: Value) -> str:
    if type(value) is str:
        return repr(value)
    if type(value) is ListV:
        return "[" + ", ".join(_repr(x) for x in value.items) + "]"
    if type(value) is DictV:
        return "{" + ", ".join(f"{_repr(k)}: {_repr(v)}" for k, v in value.items.items()) + "}"
    if type(value) is DecisionV:
        if value.allowed:
            return f"allow(fee={value.fee}, note={value.note!r})"
        return f"deny({value.reason!r})"
    return str(value)


def new_list(items: tuple[Value, ...], limits: Limits) -> ListV:
    """A list of ``items``; raises Fault when it would nest deeper than the limit."""
    depth = 1 + max((depth_of(x) for x in items), default=0)
    if depth > limits.max_value_depth:
        raise Fault(f"values nest deeper than max_value_depth {limits.max_value_depth}")
    return ListV(items, 1 + sum(size_of(x) for x in items), depth)


def new_dict(items: dict[Key, Value], limits: Limits, path: str | None = None) -> DictV:
    """A dict of ``items``; raises Fault when it would nest deeper than the limit."""
    depth = 1 + max((depth_of(x) for x in items.values()), default=0)
    if depth > limits.max_value_depth:
        raise Fault(f"values nest deeper than max_value_depth {limits.max_value_depth}")
    size = 1 + sum(size_of(k) + size_of(v) for k, v in items.items())
    return DictV(items, size, depth, path)


def to_value(data: Any, limits: Limits = DEFAULT_LIMITS, path: str = "ctx") -> Value:
    """Convert host data (int, bool, None, str, list/tuple, dict) into a script value.

    Dicts become records named by ``path`` with sorted keys. Raises TypeError for floats and any
    other type, ValueError for an out-of-range int, an oversize string, a bad key, too deep a
    nesting or a total size above ``limits.max_context_size``.
    """
    try:
        value = _convert(data, limits, path, 0)
    except Fault as fault:
        raise ValueError(f"{path}: {fault.reason}") from None
    if size_of(value) > limits.max_context_size:
        raise ValueError(
            f"{path} has size {size_of(value)}, above max_context_size {limits.max_context_size}"
        )
    return value


def _convert(data: Any, limits: Limits, path: str, depth: int) -> Value:
    if depth > limits.max_value_depth:
        raise ValueError(f"{path} nests deeper than max_value_depth {limits.max_value_depth}")
    if data is None or isinstance(data, bool):
        return None if data is None else bool(data)
    if isinstance(data, int):
        if data.bit_length() > limits.max_int_bits:
            raise ValueError(f"{path} is an int beyond {limits.max_int_bits} bits")
        return int(data)
    if isinstance(data, str):
        if len(data) > limits.max_str_len:
            raise ValueError(f"{path} is a string longer than {limits.max_str_len}")
        return str(data)
    if isinstance(data, list | tuple):
        items = tuple(_convert(x, limits, f"{path}[{i}]", depth + 1) for i, x in enumerate(data))
        return new_list(items, limits)
    if isinstance(data, Mapping):
        return _convert_mapping(data, limits, path, depth)
    if isinstance(data, float):
        raise TypeError(f"{path} is a float; license contexts hold integers only")
    raise TypeError(f"{path} has type {type(data).__name__}, which a license script cannot read")


def _convert_mapping(data: Mapping[Any, Any], limits: Limits, path: str, depth: int) -> DictV:
    for key in data:
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise TypeError(f"{path} has a key of type {type(key).__name__}; keys are str or int")
    keys = sorted(data, key=lambda k: (isinstance(k, str), k))
    items: dict[Key, Value] = {}
    for key in keys:
        named = isinstance(key, str) and key.isidentifier()
        inner = f"{path}.{key}" if named else f"{path}[{key!r}]"
        items[key] = _convert(data[key], limits, inner, depth + 1)
    return new_dict(items, limits, path)
