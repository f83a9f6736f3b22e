"""Converting the host's context into script values: the sizes gas is charged by, sorted
records, the limits' refusals, and parameters converted once (``Prepared``) giving exactly
what converting them each time gives, refusals included."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.licenses.lang import Limits, Prepared, to_value
from app.licenses.lang.values import CONTAINER_SIZE, DictV, ListV, Value

KEYS = st.one_of(st.text(max_size=5), st.integers(-3, 3))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=10))
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=24,
)
CONTEXTS = st.dictionaries(st.text(min_size=1, max_size=5), DATA, min_size=1, max_size=5)
LIMITS = st.builds(
    Limits,
    max_int_bits=st.integers(1, 80),
    max_str_len=st.integers(0, 12),
    max_value_depth=st.integers(0, 5),
)


def units(data: Any) -> int:
    """The size the spec charges: 1 a scalar, a string's length, CONTAINER_SIZE a container
    plus its elements (and a dict's keys: a str key its length, an int key 1)."""
    if isinstance(data, str):
        return len(data)
    if isinstance(data, list):
        return CONTAINER_SIZE + sum(units(x) for x in data)
    if isinstance(data, dict):
        return CONTAINER_SIZE + sum(units(k) + units(v) for k, v in data.items())
    return 1


def plain(value: Value) -> Any:
    """A script value back as host data, checking every container's own size and depth."""
    if isinstance(value, DictV):
        assert list(value.items) == sorted(value.items, key=lambda k: (isinstance(k, str), k))
        data: Any = {k: plain(v) for k, v in value.items.items()}
        children = list(value.items.values())
    elif isinstance(value, ListV):
        data = [plain(x) for x in value.items]
        children = list(value.items)
    else:
        return value
    assert value.size == units(data)
    assert value.depth == 1 + max((_depth(x) for x in children), default=0)
    return data


def _depth(value: Value) -> int:
    return value.depth if isinstance(value, DictV | ListV) else 0


def outcome(ctx: dict[str, Any], limits: Limits) -> tuple[str, Any]:
    try:
        return "value", to_value(ctx, limits, "ctx")
    except (ValueError, TypeError) as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(CONTEXTS)
def test_a_context_within_the_limits_converts_to_itself_with_the_sizes_charged(
    ctx: dict[str, Any],
) -> None:
    value = to_value(ctx)
    assert isinstance(value, DictV) and value.path == "ctx"
    assert plain(value) == ctx and value.size == units(ctx)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(CONTEXTS, LIMITS, st.data())
def test_prepared_data_gives_what_converting_it_gives(
    ctx: dict[str, Any], limits: Limits, data: st.DataObject
) -> None:
    """Under any limits (a context budget so small it runs out inside the prepared part, a
    nesting or string limit it breaks), a Prepared in place of its data gives the same value,
    or the same refusal with the same text, the first time and when reused; also reused after
    a context of its own, where it fit the budget that the whole context may not leave it."""
    name = data.draw(st.sampled_from(sorted(ctx)))
    budget = data.draw(st.integers(0, units(ctx) + 2))  # often runs out inside the context
    limits = replace(limits, max_context_size=budget)
    expected = outcome(ctx, limits)
    prepared = Prepared(ctx[name])
    if data.draw(st.booleans()):
        outcome({name: prepared}, limits)
    for _ in range(2):
        got = outcome({**ctx, name: prepared}, limits)
        assert got[0] == expected[0]
        if got[0] == "value":
            assert plain(got[1]) == plain(expected[1])
            assert got[1].size == expected[1].size
        else:
            assert got == expected


def test_a_record_that_holds_more_than_it_ends_with_is_not_reused_where_it_would_not_fit() -> None:
    """A record's entry count is checked before its entries are counted, and an entry ``"": ""``
    counts nothing, so converting it holds one unit more than its size for a moment. Converted
    first where that fitted, it must not be reused where it does not: there converting refuses
    it (a red-team review found the reuse answering a value, or another refusal text)."""
    data = {"": "", "a": "", "b": ""}
    limits = Limits(max_context_size=13)
    prepared = Prepared(data)
    assert outcome({"p": prepared}, limits)[0] == "value"  # converted, and kept
    expected = outcome({"a": 1, "p": data}, limits)
    assert expected[0] == "ValueError"
    assert outcome({"a": 1, "p": prepared}, limits) == expected
    assert outcome({"p": prepared}, limits)[0] == "value"  # reused where it fits
