"""A license's parameters are decoded once per distinct encoding and kept within a count and a
byte budget: a member deploying many large parameter sets evicts others, never grows the node."""

from __future__ import annotations

from app.core.valuemap import from_data, to_data
from app.licenses.programs import ParamsCache


def test_one_encoding_is_decoded_once_and_shared() -> None:
    cache = ParamsCache()
    first = cache.get(from_data({"tiers": [[None, 1]]}))
    again = cache.get(from_data({"tiers": [[None, 1]]}))
    assert again is first and first.data == {"tiers": [[None, 1]]}


def test_the_least_recently_used_goes_past_the_count() -> None:
    cache = ParamsCache(capacity=2)
    a, b = cache.get(from_data({"a": 1})), cache.get(from_data({"b": 1}))
    assert cache.get(from_data({"a": 1})) is a  # a is now the most recent
    cache.get(from_data({"c": 1}))
    assert cache.get(from_data({"a": 1})) is a
    assert cache.get(from_data({"b": 1})) is not b


def test_encoded_bytes_stay_within_the_budget() -> None:
    big = [from_data({"note": str(i) * 300}) for i in range(1, 6)]
    size = len(big[0].SerializeToString())
    cache = ParamsCache(budget=3 * size)
    kept = [cache.get(p) for p in big]
    assert cache.used <= 3 * size
    assert cache.get(big[4]) is kept[4] and cache.get(big[0]) is not kept[0]


def test_a_set_larger_than_the_budget_is_used_but_not_kept() -> None:
    huge = from_data({"note": "x" * 4000})
    cache = ParamsCache(budget=1000)
    prepared = cache.get(huge)
    assert prepared.data == to_data(huge) and cache.used == 0
    assert cache.get(huge) is not prepared
