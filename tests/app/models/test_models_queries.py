"""Queries of the registry: single records, pages with cursors, lineage over a small DAG."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import (
    Driver,
    default_accounts,
    licensed,
    make_account,
    publish,
    register,
    started,
    transfer,
)

from app.core import errors
from app.pb.modelgov.v1 import state_pb2


def _page(d: Driver, path: str, params: dict[str, Any]) -> state_pb2.Page:
    response = d.query(path, params)
    assert response.code == 0, response.log
    assert response.height == d.height
    return state_pb2.Page.FromString(response.value)


def _version_names(page: state_pb2.Page) -> list[str]:
    return [state_pb2.Version.FromString(item).version for item in page.items]


def _model_ids(page: state_pb2.Page) -> list[str]:
    return [state_pb2.Model.FromString(item).id for item in page.items]


@pytest.fixture
def dag(tmp_path: Path) -> Iterator[Driver]:
    """uni/base@{1.0,1.1}, acme/ft@{1,2}, openml/merge@1, with lineage:

    base@1.0 -> base@1.1 -> ft@1 -> ft@2, and merge@1 <- (base@1.0, ft@1); each derivative of
    another org's version holds its fine-tune receipt (openml-user, a consumer, takes openml's).
    """
    accounts = {
        **default_accounts(),
        "openml-user": make_account("openml-user", "openml", "consumer"),
    }
    chain = started(tmp_path, accounts=accounts)
    chain.ok("uni-pub", register("uni", "base"), publish("uni/base", "1.0"))
    chain.ok("uni-pub", publish("uni/base", "1.1", parents=["uni/base@1.0"]))
    [ft] = licensed(chain, "uni-pub", "acme-user", ["uni/base@1.1"])
    chain.ok(
        "acme-pub",
        register("acme", "ft"),
        publish("acme/ft", "1", parents=["uni/base@1.1"], license_receipts=[ft]),
    )
    chain.ok("acme-pub", publish("acme/ft", "2", parents=["acme/ft@1"]))
    merge = licensed(chain, "uni-pub", "openml-user", ["uni/base@1.0"])
    merge += licensed(chain, "acme-pub", "openml-user", ["acme/ft@1"])
    chain.ok(
        "openml-pub",
        register("openml", "merge"),
        publish("openml/merge", "1", parents=["uni/base@1.0", "acme/ft@1"], license_receipts=merge),
    )
    yield chain
    chain.close()


def test_model_and_version(dag: Driver) -> None:
    response = dag.query("/models/model", {"id": "acme/ft"})
    assert response.code == 0
    model = state_pb2.Model.FromString(response.value)
    assert (model.owner_org, model.version_count) == ("acme", 2)
    assert response.key == b"\x02macme/ft"
    response = dag.query("/models/version", {"model": "acme/ft", "version": "2"})
    assert response.code == 0
    version = state_pb2.Version.FromString(response.value)
    assert (version.model, version.version, list(version.parents)) == (
        "acme/ft",
        "2",
        ["acme/ft@1"],
    )


def test_versions_pagination(chain: Driver) -> None:
    chain.ok("uni-pub", register("uni", "m"), *[publish("uni/m", f"v{i}") for i in range(5)])
    first = _page(chain, "/models/versions", {"model": "uni/m", "limit": 2})
    assert (_version_names(first), first.next) == (["v0", "v1"], "1")
    second = _page(chain, "/models/versions", {"model": "uni/m", "limit": 2, "after": first.next})
    assert (_version_names(second), second.next) == (["v2", "v3"], "3")
    third = _page(chain, "/models/versions", {"model": "uni/m", "limit": 2, "after": second.next})
    assert (_version_names(third), third.next) == (["v4"], "")
    everything = _page(chain, "/models/versions", {"model": "uni/m"})
    assert (_version_names(everything), everything.next) == ([f"v{i}" for i in range(5)], "")
    exact = _page(chain, "/models/versions", {"model": "uni/m", "limit": 5})
    assert (len(exact.items), exact.next) == (5, "")


def test_versions_in_publication_order_not_name_order(chain: Driver) -> None:
    names = ["b", "a", "10", "9"]
    chain.ok("uni-pub", register("uni", "m"), *[publish("uni/m", n) for n in names])
    assert _version_names(_page(chain, "/models/versions", {"model": "uni/m"})) == names


def test_versions_of_model_without_versions(chain: Driver) -> None:
    chain.ok("uni-pub", register("uni", "m"))
    page = _page(chain, "/models/versions", {"model": "uni/m"})
    assert (list(page.items), page.next) == ([], "")


def test_models_all_and_by_owner(dag: Driver) -> None:
    dag.ok("uni-pub", register("uni", "alpha"), register("uni", "zeta"))
    everything = _page(dag, "/models/models", {})
    assert _model_ids(everything) == [
        "acme/ft",
        "openml/merge",
        "uni/alpha",
        "uni/base",
        "uni/zeta",
    ]
    first = _page(dag, "/models/models", {"limit": 2})
    assert (_model_ids(first), first.next) == (["acme/ft", "openml/merge"], "openml/merge")
    rest = _page(dag, "/models/models", {"limit": 2, "after": first.next})
    assert (_model_ids(rest), rest.next) == (["uni/alpha", "uni/base"], "uni/base")
    last = _page(dag, "/models/models", {"limit": 2, "after": rest.next})
    assert (_model_ids(last), last.next) == (["uni/zeta"], "")
    uni = _page(dag, "/models/models", {"owner": "uni", "limit": 2})
    assert (_model_ids(uni), uni.next) == (["uni/alpha", "uni/base"], "uni/base")
    uni_rest = _page(dag, "/models/models", {"owner": "uni", "limit": 2, "after": uni.next})
    assert (_model_ids(uni_rest), uni_rest.next) == (["uni/zeta"], "")
    assert _model_ids(_page(dag, "/models/models", {"owner": "nobody"})) == []


def test_models_by_owner_follows_transfer(dag: Driver) -> None:
    dag.ok("uni-admin", transfer("uni/base", "openml"))
    assert _model_ids(_page(dag, "/models/models", {"owner": "uni"})) == []
    openml = _page(dag, "/models/models", {"owner": "openml"})
    assert _model_ids(openml) == ["openml/merge", "uni/base"]


def _lineage(d: Driver, ref: str, depth: int | None = None) -> state_pb2.Lineage:
    model, _, version = ref.rpartition("@")
    params: dict[str, Any] = {"model": model, "version": version}
    if depth is not None:
        params["depth"] = depth
    response = d.query("/models/lineage", params)
    assert response.code == 0, response.log
    return state_pb2.Lineage.FromString(response.value)


@pytest.mark.parametrize(
    ("ref", "depth", "ancestors", "descendants"),
    [
        (
            "uni/base@1.0",
            None,
            [],
            ["openml/merge@1", "uni/base@1.1", "acme/ft@1", "acme/ft@2"],
        ),
        ("uni/base@1.0", 1, [], ["openml/merge@1", "uni/base@1.1"]),
        ("uni/base@1.0", 2, [], ["openml/merge@1", "uni/base@1.1", "acme/ft@1"]),
        ("uni/base@1.0", 0, [], []),
        ("openml/merge@1", None, ["uni/base@1.0", "acme/ft@1", "uni/base@1.1"], []),
        ("openml/merge@1", 1, ["uni/base@1.0", "acme/ft@1"], []),
        ("acme/ft@2", None, ["acme/ft@1", "uni/base@1.1", "uni/base@1.0"], []),
        ("acme/ft@2", 2, ["acme/ft@1", "uni/base@1.1"], []),
        ("acme/ft@1", None, ["uni/base@1.1", "uni/base@1.0"], ["acme/ft@2", "openml/merge@1"]),
        ("uni/base@1.1", 1, ["uni/base@1.0"], ["acme/ft@1"]),
    ],
)
def test_lineage(
    dag: Driver, ref: str, depth: int | None, ancestors: list[str], descendants: list[str]
) -> None:
    lineage = _lineage(dag, ref, depth)
    assert list(lineage.ancestors) == ancestors
    assert list(lineage.descendants) == descendants


def test_lineage_depth_is_capped(dag: Driver) -> None:
    assert len(_lineage(dag, "uni/base@1.0", 10_000).descendants) == 4


QUERY_ERRORS: list[tuple[str, str, bytes, errors.ErrorCode]] = [
    ("unknown-path", "/models/nothing", b"{}", errors.UNKNOWN_PATH),
    ("no-path", "", b"", errors.UNKNOWN_PATH),
    ("bad-json", "/models/model", b"{not json", errors.BAD_QUERY),
    ("not-utf8", "/models/model", b"\xff\xfe", errors.BAD_QUERY),
    ("json-array", "/models/model", b'["uni/base"]', errors.BAD_QUERY),
    ("missing-param", "/models/model", b"{}", errors.BAD_QUERY),
    ("no-data", "/models/version", b"", errors.BAD_QUERY),
    ("param-type", "/models/model", b'{"id": 7}', errors.BAD_QUERY),
    ("missing-version", "/models/version", b'{"model": "uni/base"}', errors.BAD_QUERY),
    ("negative-limit", "/models/models", b'{"limit": -1}', errors.BAD_QUERY),
    ("bool-limit", "/models/models", b'{"limit": true}', errors.BAD_QUERY),
    ("text-limit", "/models/models", b'{"limit": "5"}', errors.BAD_QUERY),
    ("bad-cursor", "/models/versions", b'{"model": "uni/base", "after": "v1"}', errors.BAD_QUERY),
    (
        "bad-depth",
        "/models/lineage",
        b'{"model": "uni/base", "version": "1.0", "depth": -2}',
        errors.BAD_QUERY,
    ),
    ("model-not-found", "/models/model", b'{"id": "uni/none"}', errors.NOT_FOUND),
    (
        "version-not-found",
        "/models/version",
        b'{"model": "uni/base", "version": "9"}',
        errors.NOT_FOUND,
    ),
    ("versions-not-found", "/models/versions", b'{"model": "uni/none"}', errors.NOT_FOUND),
    (
        "lineage-not-found",
        "/models/lineage",
        b'{"model": "uni/base", "version": "9"}',
        errors.NOT_FOUND,
    ),
    ("org-not-found", "/members/org", b'{"id": "nobody"}', errors.NOT_FOUND),
    ("account-not-found", "/members/account", b'{"address": "00"}', errors.NOT_FOUND),
    ("accounts-no-org", "/members/accounts", b"{}", errors.BAD_QUERY),
]


@pytest.mark.parametrize(
    ("path", "data", "error"),
    [(p, d, e) for _, p, d, e in QUERY_ERRORS],
    ids=[name for name, _, _, _ in QUERY_ERRORS],
)
def test_query_errors(dag: Driver, path: str, data: bytes, error: errors.ErrorCode) -> None:
    response = dag.query(path, data=data)
    assert (response.codespace, response.code) == (error.codespace, error.code), response.log
    assert response.log.startswith(error.name + ": ")
    assert response.value == b""
    assert response.height == dag.height


@pytest.mark.parametrize("height", [1, 99], ids=["older", "future"])
def test_query_at_another_height(dag: Driver, height: int) -> None:
    response = dag.query("/models/model", {"id": "uni/base"}, height=height)
    error = errors.HEIGHT_UNAVAILABLE
    assert (response.codespace, response.code) == (error.codespace, error.code)
    assert dag.query("/models/model", {"id": "uni/base"}, height=dag.height).code == 0


def test_queries_see_committed_state_only(dag: Driver) -> None:
    tx = dag.sign("uni-pub", [register("uni", "pending")])
    assert dag.check(tx).code == 0
    assert dag.query("/models/model", {"id": "uni/pending"}).code == errors.NOT_FOUND.code
    dag.block([tx])
    assert dag.query("/models/model", {"id": "uni/pending"}).code == 0


def test_limit_zero_does_not_claim_the_end(dag: Driver) -> None:
    response = dag.query("/models/models", {"limit": 0})
    if response.code == 0:
        page = state_pb2.Page.FromString(response.value)
        assert page.items or page.next, "an empty page without a cursor claims there is nothing"
    else:
        assert response.code == errors.BAD_QUERY.code


@pytest.mark.parametrize("after", ["\u0661", "\U00011f50", "1\u0660", "+1", " 1", "1" * 11])
def test_a_versions_cursor_is_ascii_digits_only(dag: Driver, after: str) -> None:
    """str.isdigit() follows the Python's Unicode database (U+11F50 is a digit from Unicode
    15.0): a cursor of other digits would page differently on different validators' Pythons."""
    answer = dag.query("/models/versions", {"model": "uni/base", "after": after})
    assert (answer.codespace, answer.code) == (errors.BAD_QUERY.codespace, errors.BAD_QUERY.code)
