"""The datasets' queries under hostile parameters: every refusal is a registered answer, pages
follow their cursor, and a dataset's record is provable."""

from __future__ import annotations

from typing import Any

import pytest
from driver import Driver, publish, register
from test_datasets_flow import publish_dataset, register_dataset

from app.core.errors import BAD_QUERY, NOT_FOUND, ErrorCode
from app.pb.modelgov.v1 import state_pb2


@pytest.fixture
def listed(chain: Driver) -> Driver:
    """Five datasets of uni (d0..d4, d0@1 published) and five models trained on d0@1."""
    chain.ok("uni-pub", *[register_dataset("uni", f"d{i}") for i in range(5)])
    chain.ok("uni-pub", publish_dataset("uni/d0", "1"))
    chain.ok("uni-pub", register("uni", "m"))
    chain.ok("uni-pub", *[publish("uni/m", str(i), trained_on=["uni/d0@1"]) for i in range(5)])
    return chain


def page(driver: Driver, path: str, params: dict[str, Any]) -> state_pb2.Page:
    answer = driver.query(path, params)
    assert answer.code == 0, answer.log
    return state_pb2.Page.FromString(answer.value)


def test_pages_follow_their_cursor(listed: Driver) -> None:
    first = page(listed, "/datasets/datasets", {"limit": 2})
    ids = [state_pb2.Model.FromString(i).id for i in first.items]
    assert ids == ["uni/d0", "uni/d1"] and first.next == "uni/d1"
    rest = page(listed, "/datasets/datasets", {"after": first.next, "limit": 200})
    assert [state_pb2.Model.FromString(i).id for i in rest.items] == ["uni/d2", "uni/d3", "uni/d4"]
    assert rest.next == ""
    trained = page(listed, "/datasets/trained", {"dataset": "uni/d0", "version": "1", "limit": 3})
    assert [i.decode() for i in trained.items] == ["uni/m@0", "uni/m@1", "uni/m@2"]
    more = {"dataset": "uni/d0", "version": "1", "after": trained.next}
    assert [i.decode() for i in page(listed, "/datasets/trained", more).items] == [
        "uni/m@3",
        "uni/m@4",
    ]


D0 = {"dataset": "uni/d0", "version": "1"}
QUERIES: list[tuple[str, str, dict[str, Any], ErrorCode]] = [
    ("no-id", "/datasets/dataset", {}, BAD_QUERY),
    ("id-int", "/datasets/dataset", {"id": 7}, BAD_QUERY),
    ("id-long", "/datasets/dataset", {"id": "u" * 5000}, BAD_QUERY),
    ("id-control", "/datasets/dataset", {"id": "uni/d0\n"}, BAD_QUERY),
    ("id-surrogate", "/datasets/dataset", {"id": "uni/\ud800"}, BAD_QUERY),
    ("id-model", "/datasets/dataset", {"id": "uni/m"}, NOT_FOUND),
    ("id-unknown", "/datasets/dataset", {"id": "uni/\u00e9"}, NOT_FOUND),
    ("limit-negative", "/datasets/datasets", {"limit": -1}, BAD_QUERY),
    ("after-list", "/datasets/datasets", {"after": ["x"]}, BAD_QUERY),
    ("trained-no-version", "/datasets/trained", {"dataset": "uni/d0"}, BAD_QUERY),
    ("trained-unknown", "/datasets/trained", {"dataset": "uni/d0", "version": "9"}, NOT_FOUND),
    ("trained-after-int", "/datasets/trained", {**D0, "after": 1}, BAD_QUERY),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "params", "error"), [q[1:] for q in QUERIES], ids=[q[0] for q in QUERIES]
)
def test_hostile_parameters_are_registered_answers(
    listed: Driver, path: str, params: dict[str, Any], error: ErrorCode
) -> None:
    answer = listed.query(path, params)
    assert (answer.codespace, answer.code) == (error.codespace, error.code), answer.log


def test_an_unknown_cursor_of_any_text_ends_the_list(listed: Driver) -> None:
    for after in ("\uffff", "zzz", "uni/d4", "\U0001f600"):
        found = page(listed, "/datasets/datasets", {"after": after})
        assert found.next == ""
