"""Every query is bounded and every malformed query is a registered answer.

Anyone who reaches a node's RPC may query, without a key. By kind: the JSON data itself (size,
nesting, numbers, encoding), each parameter's extreme values on every path, the cursors, and
the number of keys a list query reads whatever the state holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from driver import Driver, digest, publish, register

from app.core import errors
from app.core.query import MAX_LIMIT, nesting
from app.machine import QUERIES, route_query
from app.models import queries as model_queries
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci
from app.state import Reader

BAD = (errors.BAD_QUERY.codespace, errors.BAD_QUERY.code)
INTERNAL = (errors.INTERNAL.codespace, errors.INTERNAL.code)
SHARED = digest("shared weights")


def _raw(d: Driver, path: str, data: bytes) -> abci.ResponseQuery:
    return d.app.query(abci.RequestQuery(path=path, data=data))


# --- the data as a whole: refused before any handler runs, on every path --------------------

DATA = {
    "oversize": b'{"id": "' + b"a" * 5000 + b'"}',
    "deep_arrays": b'{"a": ' + b"[" * 1500 + b"]" * 1500 + b"}",
    "deep_objects": b'{"a": ' + b'{"a": ' * 600 + b"1" + b"}" * 600 + b"}",
    "not_utf8": b'{"id": "\xff\xfe"}',
    "truncated": b'{"id": ',
    "array": b"[1, 2]",
    "string": b'"uni"',
    "number": b"7",
    "float": b'{"limit": 1.5}',
    "exponent": b'{"limit": 1e999}',
    "nan": b'{"limit": NaN}',
    "infinity": b'{"limit": -Infinity}',
    "huge_int": b'{"limit": ' + b"9" * 4000 + b"}",
    "int_21_digits": b'{"limit": -123456789012345678901}',
}


@pytest.mark.parametrize("path", sorted(QUERIES))
@pytest.mark.parametrize("data", DATA.values(), ids=list(DATA))
def test_malformed_data_is_a_bad_query_on_every_path(chain: Driver, path: str, data: bytes) -> None:
    response = _raw(chain, path, data)
    assert (response.codespace, response.code) == BAD, response.log
    assert len(response.log) < 400


def test_brackets_inside_strings_do_not_count_as_nesting(chain: Driver) -> None:
    text = '{"id": "[[[{{{\\"[[[", "x": [1]}'
    assert nesting(text) == 2
    assert _raw(chain, "/members/org", text.encode()).code == errors.NOT_FOUND.code


def test_a_store_key_is_bounded(chain: Driver) -> None:
    assert _raw(chain, "/store", b"k" * 4096).code == 0
    response = _raw(chain, "/store", b"k" * 4097)
    assert (response.codespace, response.code) == BAD


def test_an_unknown_path_is_quoted(chain: Driver) -> None:
    response = _raw(chain, "/nope/\u202e\x00" + "x" * 500, b"")
    assert response.code == errors.UNKNOWN_PATH.code
    assert "\\u202e\\x00" in response.log and "x" * 101 not in response.log


# --- every parameter's extreme values, on every path --------------------------------------


@pytest.fixture
def registry(chain: Driver) -> Driver:
    """A model with versions (one digest shared by many), children, a provider and a license."""
    chain.ok("uni-pub", register("uni", "base"), publish("uni/base", "1.0"))
    for batch in range(4):
        msgs = [
            publish("uni/base", f"s{batch}.{i}", weights_digest=SHARED, parents=["uni/base@1.0"])
            for i in range(12)
        ]
        chain.ok("uni-pub", *msgs)
    announce = tx_pb2.AnnounceProvider(digest=SHARED, url="https://store.example.org/a")
    chain.ok("uni-pub", tx_pb2.Msg(announce_provider=announce))
    source = "def authorize(ctx):\n    return allow(fee=0)\n"
    deploy = tx_pb2.DeployLicense(name="free", source=source)
    chain.ok("uni-pub", tx_pb2.Msg(deploy_license=deploy))
    for _ in range(3):
        attach = tx_pb2.AttachLicense(model="uni/base", version="1.0", license="uni/free")
        chain.ok("uni-pub", tx_pb2.Msg(attach_license=attach))
    return chain


def _base_params(d: Driver) -> dict[str, Any]:
    """Parameters that every path reads successfully (each takes the ones it knows)."""
    return {
        "id": "uni",
        "address": d["acme-user"].address,
        "org": "uni",
        "owner": "uni",
        "model": "uni/base",
        "version": "1.0",
        "digest": SHARED,
        "licensor": "uni",
        "consumer_org": "acme",
        "purpose": "inference",
        "quantity": 1,
        "height": d.height + 1,
        "time": d.time,
        "limit": 3,
    }


NAMES = [
    "id",
    "address",
    "org",
    "owner",
    "model",
    "version",
    "digest",
    "licensor",
    "consumer",
    "consumer_org",
    "purpose",
    "quantity",
    "height",
    "time",
    "limit",
    "after",
    "depth",
    "from_height",
    "to_height",
]
VALUES: list[Any] = [
    None,
    True,
    [],
    {},
    "",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: isdigit() and int() accept it
    "\u00b2",  # SUPERSCRIPT TWO: isdigit() accepts it, int() raises
    "-1",
    " 1",
    "0x10",
    "1" * 21,
    "18446744073709551616",
    "\x00",
    "a\nb",
    "\ud800",  # a lone surrogate: UTF-8 cannot encode it
    "x" * 2000,
    -1,
    0,
    2**63,
    2**64,
    10**20 - 1,
]


@pytest.mark.parametrize("path", sorted(QUERIES))
def test_extreme_parameters_get_registered_answers(registry: Driver, path: str) -> None:
    base = _base_params(registry)
    for name in NAMES:
        for value in VALUES:
            params = {**base, name: value}
            response = registry.query(path, params)
            assert (response.codespace, response.code) != INTERNAL, (name, value, response.log)
            if response.code == 0:
                continue
            assert response.codespace in ("query", "usage", "licenses", "models"), response.log


@pytest.mark.parametrize(
    ("path", "after"),
    [
        ("/members/proposals", "\u0663"),
        ("/members/proposals", "\u00b2"),
        ("/federated/rounds", "1" * 21),
        ("/models/versions", "\u00b2"),
        ("/models/versions", "18446744073709551616"),
        ("/licenses/history", "4294967296"),
        ("/usage/receipts", "\u0663"),
        ("/attestations/by_org", -1),
        ("/members/validators", "zz"),
        ("/members/validators", "abc"),
    ],
)
def test_bad_cursors_are_bad_queries(registry: Driver, path: str, after: Any) -> None:
    response = registry.query(path, {**_base_params(registry), "after": after})
    assert (response.codespace, response.code) == BAD, response.log


# --- cursors page through everything, and pages cost what they return -----------------------


def _pages(d: Driver, path: str, params: dict[str, Any], limit: int) -> list[list[bytes]]:
    pages, after = [], ""
    while True:
        response = d.query(path, {**params, "after": after, "limit": limit})
        assert response.code == 0, response.log
        page = state_pb2.Page.FromString(response.value)
        pages.append(list(page.items))
        if not page.next:
            return pages
        after = page.next


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/models/by_digest", {"digest": SHARED}),
        ("/models/digests", {}),
        ("/models/providers", {"digest": SHARED}),
        ("/models/versions", {"model": "uni/base"}),
        ("/licenses/history", {"model": "uni/base", "version": "1.0"}),
        ("/members/validators", {}),
        ("/members/orgs", {}),
    ],
)
def test_cursors_page_through_everything(
    registry: Driver, path: str, params: dict[str, Any]
) -> None:
    whole = _pages(registry, path, params, MAX_LIMIT)
    assert len(whole) == 1
    paged = _pages(registry, path, params, 2)
    assert [item for page in paged for item in page] == whole[0]
    assert all(len(page) <= 2 for page in paged)


class Meter:
    """A Reader that counts the keys it hands out: point reads and scanned pairs."""

    def __init__(self, base: Reader) -> None:
        self.base = base
        self.reads = 0

    def get(self, key: bytes) -> bytes | None:
        self.reads += 1
        return self.base.get(key)

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        for pair in self.base.iterate(prefix, start_after):
            self.reads += 1
            yield pair


def _metered(d: Driver, path: str, params: dict[str, Any]) -> tuple[bytes, int]:
    meter = Meter(d.store)
    answer = route_query(meter, path, json.dumps(params).encode())
    return answer.value, meter.reads


def test_digests_skip_a_digest_many_versions_share(registry: Driver) -> None:
    """49 of the 50 index entries name one digest: a page of two digests reads a few keys."""
    value, reads = _metered(registry, "/models/digests", {"limit": 2})
    page = state_pb2.Page.FromString(value)
    assert sorted(i.decode() for i in page.items) == sorted([SHARED, digest("uni/base@1.0")])
    assert reads <= 6


def test_lineage_stops_after_its_step_budget(
    registry: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = {"model": "uni/base", "version": "1.0", "depth": 64}
    full, _ = _metered(registry, "/models/lineage", params)
    assert len(state_pb2.Lineage.FromString(full).descendants) == 48
    monkeypatch.setattr(model_queries, "MAX_LINEAGE_STEPS", 10)
    value, reads = _metered(registry, "/models/lineage", params)
    assert len(state_pb2.Lineage.FromString(value).descendants) == 10
    assert reads <= 2 * 10 + 6


def test_lineage_stops_reading_children_once_full(
    registry: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_queries, "MAX_LINEAGE", 5)
    params = {"model": "uni/base", "version": "1.0", "depth": 64}
    value, reads = _metered(registry, "/models/lineage", params)
    assert len(state_pb2.Lineage.FromString(value).descendants) == 5
    assert reads <= 2 * 5 + 6


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/models/by_digest", {"digest": SHARED}),
        ("/models/versions", {"model": "uni/base"}),
        ("/models/providers", {"digest": SHARED}),
        ("/licenses/history", {"model": "uni/base", "version": "1.0"}),
    ],
)
def test_a_page_reads_about_what_it_returns(
    registry: Driver, path: str, params: dict[str, Any]
) -> None:
    _, reads = _metered(registry, path, {**params, "limit": 2})
    assert reads <= 2 * (2 + 1) + 2
