"""Hostile inputs to the kernel's shared checks, by kind: what a member can make every validator
compute for the gas of one transaction.
"""

from __future__ import annotations

from typing import Any

import pytest
from driver import Driver

from app.core import valuemap
from app.core.errors import TxError
from app.core.gas import DEPLOY_GAS_PER_BYTE, base_gas
from app.core.query import MAX_LIMIT, MAX_PAGE_BYTES, page
from app.licenses import errors as license_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2

SOURCE = "def authorize(ctx):\n    return allow()\n"


def _flat(count: int, key: str = "a") -> tx_pb2.ValueMap:
    items = [tx_pb2.Value(bool_value=True)] * count
    value = tx_pb2.Value(list_value=tx_pb2.ValueList(items=items))
    return tx_pb2.ValueMap(entries=[tx_pb2.ValueEntry(key=key, value=value)])


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the values ``validate_params`` looks at (its recursion goes through the module's
    name, so the wrapper sees every call)."""
    seen = [0]
    check = valuemap._check_value

    def counted(*args: Any) -> Any:
        seen[0] += 1
        return check(*args)

    monkeypatch.setattr(valuemap, "_check_value", counted)
    return seen


def test_a_parameter_walk_stops_just_past_the_most_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 60 KB list once cost a walk of all its 15 000 values before the count refused it (20 ms
    of every validator for the gas of an empty transaction)."""
    seen = _counting(monkeypatch)
    with pytest.raises(TxError) as refused:
        valuemap.validate_params(_flat(15_000), license_errors.INVALID_PARAMS)
    assert refused.value.error == license_errors.INVALID_PARAMS
    assert seen[0] <= valuemap.MAX_ITEMS + 2


def test_the_most_values_still_pass_and_one_more_is_refused() -> None:
    valuemap.validate_params(_flat(valuemap.MAX_ITEMS - 1), license_errors.INVALID_PARAMS)
    with pytest.raises(TxError):
        valuemap.validate_params(_flat(valuemap.MAX_ITEMS), license_errors.INVALID_PARAMS)


def test_a_refusal_still_names_the_place_of_the_value() -> None:
    inner = tx_pb2.ValueMap(entries=[tx_pb2.ValueEntry(key="b", value=tx_pb2.Value())])
    items = [tx_pb2.Value(int_value=1), tx_pb2.Value(map_value=inner)]
    value = tx_pb2.Value(list_value=tx_pb2.ValueList(items=items))
    params = tx_pb2.ValueMap(entries=[tx_pb2.ValueEntry(key="a", value=value)])
    with pytest.raises(TxError, match=r"params\.a\[1\]\.b: a value has no kind"):
        valuemap.validate_params(params, license_errors.INVALID_PARAMS)


def test_a_huge_parameter_list_in_a_block_is_refused_with_the_same_code_and_gas(
    chain: Driver,
) -> None:
    """The early stop changes no consensus field: the code and the gas are the walk's own."""
    deploy = tx_pb2.DeployLicense(name="big", source=SOURCE, params=_flat(15_000, "k" * 2000))
    result = chain.block([chain.sign("uni-pub", [tx_pb2.Msg(deploy_license=deploy)])]).tx_results[0]
    assert (result.codespace, result.code) == (
        license_errors.INVALID_PARAMS.codespace,
        license_errors.INVALID_PARAMS.code,
    )
    assert "more than 1024 values" in result.log
    assert result.gas_used == base_gas(1) + DEPLOY_GAS_PER_BYTE * (
        len(SOURCE) + deploy.params.ByteSize()
    )


# --- a listing's size --------------------------------------------------------------------------


def test_a_page_of_large_items_stops_at_the_byte_bound() -> None:
    items = ((f"{i:04d}", bytes(100_000)) for i in range(MAX_LIMIT))
    found = state_pb2.Page.FromString(page(items, MAX_LIMIT).value)
    assert len(found.items) == -(-MAX_PAGE_BYTES // 100_000)  # the one that reached the bound
    assert found.next == f"{len(found.items) - 1:04d}"


def test_one_item_larger_than_the_bound_is_still_answered() -> None:
    items = iter([("a", bytes(MAX_PAGE_BYTES + 1)), ("b", b"x")])
    found = state_pb2.Page.FromString(page(items, MAX_LIMIT).value)
    assert len(found.items) == 1 and found.next == "a"


def test_a_listing_of_large_licenses_is_paged_by_bytes_and_loses_none(chain: Driver) -> None:
    """Licenses of 16 KB scripts come back in pages of about MAX_PAGE_BYTES, and following
    ``next`` loses none (a page of 200 of the largest licenses was 25 MB, built and shipped for
    a query of a few bytes)."""
    source = SOURCE + "# " + "x" * 16_000 + "\n"
    params = tx_pb2.ValueMap(
        entries=[tx_pb2.ValueEntry(key="note", value=tx_pb2.Value(str_value="y" * 4000))]
    )
    names = [f"big{i:03d}" for i in range(80)]
    for chunk in range(0, len(names), 3):
        msgs = [
            tx_pb2.Msg(deploy_license=tx_pb2.DeployLicense(name=n, source=source, params=params))
            for n in names[chunk : chunk + 3]
        ]
        assert chain.run("uni-pub", *msgs).code == 0
    seen: list[str] = []
    after = ""
    while True:
        response = chain.query("/licenses/licenses", {"limit": MAX_LIMIT, "after": after})
        assert response.code == 0, response.log
        assert len(response.value) < MAX_PAGE_BYTES + 30_000
        found = state_pb2.Page.FromString(response.value)
        seen += [state_pb2.License.FromString(item).id for item in found.items]
        if not found.next:
            break
        after = found.next
    assert seen == [f"uni/{n}" for n in names]
