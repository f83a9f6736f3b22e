"""The datasets' queries under hostile parameters: every refusal is a registered answer, pages
follow their cursor, and a dataset's record is provable."""

from __future__ import annotations

from typing import Any

import pytest
from driver import FREE_LICENSE, Driver, publish, register
from test_datasets_flow import deploy, publish_dataset, receipt_id, register_dataset, use

from app.core.errors import BAD_QUERY, NOT_FOUND, ErrorCode
from app.pb.modelgov.v1 import state_pb2
from app.store import Proof, verify_proof


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
    ("binding-no-receipt", "/datasets/receipt_binding", {}, BAD_QUERY),
    ("binding-zero", "/datasets/receipt_binding", {"receipt": 0}, BAD_QUERY),
    ("binding-negative", "/datasets/receipt_binding", {"receipt": -1}, BAD_QUERY),
    ("binding-text", "/datasets/receipt_binding", {"receipt": "1"}, BAD_QUERY),
    ("binding-bool", "/datasets/receipt_binding", {"receipt": True}, BAD_QUERY),
    ("binding-list", "/datasets/receipt_binding", {"receipt": [1]}, BAD_QUERY),
    ("binding-21-digits", "/datasets/receipt_binding", {"receipt": 10**20}, BAD_QUERY),
    ("binding-unknown", "/datasets/receipt_binding", {"receipt": 999}, NOT_FOUND),
    ("binding-max-u64", "/datasets/receipt_binding", {"receipt": 2**64 - 1}, NOT_FOUND),
    ("binding-past-u64", "/datasets/receipt_binding", {"receipt": 2**64}, NOT_FOUND),
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


def binding(driver: Driver, receipt: int) -> Any:
    return driver.query("/datasets/receipt_binding", {"receipt": receipt}, prove=True)


def test_a_receipt_shows_the_one_model_it_licensed(chain: Driver) -> None:
    """A training receipt answers not_found until the first model trained with it binds it;
    then that model's id, provable (as the absence is), and the same after the model's later
    versions name it again; an inference receipt never licenses a model."""
    chain.ok("uni-pub", deploy("all", FREE_LICENSE), register_dataset("uni", "d"))
    chain.ok("uni-pub", publish_dataset("uni/d", "1", license="uni/all"))
    chain.ok("acme-pub", register("acme", "net"))
    trained = receipt_id(chain.ok("acme-user", use("uni/d@1", purpose="training")))
    seen = receipt_id(chain.ok("acme-user", use("uni/d@1", purpose="inference")))
    for receipt in (trained, seen):
        before = binding(chain, receipt)
        assert (before.codespace, before.code) == (NOT_FOUND.codespace, NOT_FOUND.code)
    for version in ("1", "2"):
        named = publish("acme/net", version, trained_on=["uni/d@1"], license_receipts=[trained])
        chain.ok("acme-pub", named)
        answer = binding(chain, trained)
        assert (answer.code, answer.value) == (0, b"acme/net"), answer.log
        assert answer.proof_ops.ops
        proof = Proof.decode(answer.proof_ops.ops[0].data)
        assert verify_proof(chain.store.root, answer.key, answer.value, proof)
    assert binding(chain, seen).code == NOT_FOUND.code
