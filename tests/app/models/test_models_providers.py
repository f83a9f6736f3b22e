"""Weights digests on chain: the digest index, provider announcements and their queries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import Driver, digest, publish, register, started

from app.core.errors import ErrorCode
from app.models import errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2


def announce(weights: str, url: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(announce_provider=tx_pb2.AnnounceProvider(digest=weights, url=url))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Driver]:
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1.0"))
    driver.ok("uni-pub", publish("uni/base", "1.1", weights_digest=digest("shared")))
    driver.ok("uni-pub", register("uni", "copy"))  # the holder may name its digest again
    driver.ok("uni-pub", publish("uni/copy", "1", weights_digest=digest("shared")))
    yield driver
    driver.close()


def page(driver: Driver, path: str, **params: object) -> state_pb2.Page:
    answer = driver.query(path, dict(params))
    assert answer.code == 0, answer.log
    return state_pb2.Page.FromString(answer.value)


def test_versions_by_digest(registry: Driver) -> None:
    found = page(registry, "/models/by_digest", digest=digest("shared"))
    refs = [f"{v.model}@{v.version}" for v in map(state_pb2.Version.FromString, found.items)]
    assert refs == ["uni/base@1.1", "uni/copy@1"]


def test_every_referenced_digest_once_with_paging(registry: Driver) -> None:
    first = page(registry, "/models/digests", limit=1)
    rest = page(registry, "/models/digests", after=first.next, limit=10)
    listed = [d.decode() for d in [*first.items, *rest.items]]
    v10 = state_pb2.Version.FromString(
        registry.query("/models/version", {"model": "uni/base", "version": "1.0"}).value
    )
    assert sorted(listed) == sorted({digest("shared"), v10.weights_digest})
    assert len(listed) == 2 and rest.next == ""


def test_any_member_announces_a_published_digest(registry: Driver) -> None:
    registry.ok("openml-audit", announce(digest("shared"), "http://127.0.0.1:26662"))
    registry.ok("acme-user", announce(digest("shared"), "https://store.acme.example:443"))
    found = page(registry, "/models/providers", digest=digest("shared"))
    providers = [state_pb2.Provider.FromString(i) for i in found.items]
    assert [(p.url, p.org) for p in providers] == [
        ("http://127.0.0.1:26662", "openml"),
        ("https://store.acme.example:443", "acme"),
    ]


@pytest.mark.parametrize(
    ("msg", "error"),
    [
        (announce(digest("never published"), "http://h:1"), errors.VERSION_NOT_FOUND),
        (announce("sha256:xyz", "http://h:1"), errors.INVALID_DIGEST),
        (announce(digest("shared"), "ftp://h/x"), errors.INVALID_FIELD),
        (announce(digest("shared"), "http://h:1/with space"), errors.INVALID_FIELD),
    ],
)
def test_announcement_refusals(registry: Driver, msg: tx_pb2.Msg, error: ErrorCode) -> None:
    result = registry.run("uni-pub", msg)
    assert (result.codespace, result.code) == (errors.MODELS, error.code)
