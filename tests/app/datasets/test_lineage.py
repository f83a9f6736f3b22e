"""Terms that follow lineage (issue 13): derive(ctx) on publish, every upstream license on a use
of a derivative, royalties upstream, and the bounds of the whole check (depth, width, gas)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, EmptyState, licensed, publish, register, started
from test_datasets_flow import (
    balance,
    deploy,
    expect,
    publish_dataset,
    receipt_id,
    register_dataset,
    use,
)

from app.core.gas import base_gas
from app.datasets import errors
from app.datasets.lineage import MAX_DEPTH, MAX_UPSTREAM, upstream
from app.licenses.lang.limits import DEFAULT_LIMITS
from app.models import errors as model_errors
from app.models.keeper import ModelsReader
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Overlay
from app.usage import errors as usage_errors

TEMPLATES = Path(__file__).resolve().parents[3] / "genesis" / "licenses"
PRICE = "def authorize(ctx):\n    return allow(fee=ctx.params['price'])\n"
ROYALTY = """
def authorize(ctx):
    return allow(fee=0)


def royalty(ctx):
    if ctx.derivative is None:
        return 0
    return ctx.params["bps"]
"""
DATA = "uni/corpus"
SPIN = "t = 0\n    for i in range(100000):\n        t += i\n"
MODEL = "acme/net"


def attach(ref: str, license_id: str) -> tx_pb2.Msg:
    model, _, version = ref.rpartition("@")
    body = tx_pb2.AttachLicense(model=model, version=version, license=license_id)
    return tx_pb2.Msg(attach_license=body)


def template(name: str) -> str:
    return (TEMPLATES / f"{name}.lic").read_text()


@pytest.fixture
def lineage(tmp_path: Path) -> Iterator[Driver]:
    """``trained`` on a fresh chain."""
    driver = trained(tmp_path)
    yield driver
    driver.close()


def trained(tmp_path: Path) -> Driver:
    """uni/corpus@1 under data-training (price 10, royalty 500 bps); acme trained acme/net@1 on
    it (with its training receipt) and sells uses at a price of 1000."""
    driver = started(tmp_path)
    driver.ok("uni-pub", deploy("data", template("data-training"), price_per_use=10))
    driver.ok("uni-pub", register_dataset("uni", "corpus"), publish_dataset(DATA, "1"))
    driver.ok("uni-pub", attach(f"{DATA}@1", "uni/data"))
    receipt = receipt_id(driver.ok("acme-user", use(f"{DATA}@1")))
    driver.ok("acme-pub", deploy("price", PRICE, price=1000))
    trained = publish(MODEL, "1", trained_on=[f"{DATA}@1"], license_receipts=[receipt])
    driver.ok("acme-pub", register("acme", "net"), trained)
    driver.ok("acme-pub", attach(f"{MODEL}@1", "acme/price"))
    return driver


def retrained(driver: Driver, license_id: str, version: str) -> str:
    """acme takes a training receipt of uni/corpus@1 under the terms it has now, uni attaches
    ``license_id`` to it, and acme publishes acme/net@``version`` trained on it, sold under
    acme/price: the new version carries ``license_id``'s terms (pinned at its publication)."""
    receipt = receipt_id(driver.ok("acme-user", use(f"{DATA}@1")))
    driver.ok("uni-pub", attach(f"{DATA}@1", license_id))
    trained = publish(MODEL, version, trained_on=[f"{DATA}@1"], license_receipts=[receipt])
    driver.ok("acme-pub", trained)
    driver.ok("acme-pub", attach(f"{MODEL}@{version}", "acme/price"))
    return f"{MODEL}@{version}"


def paid(driver: Driver, result: Any) -> list[tuple[str, int, str, int]]:
    found = state_pb2.Receipt.FromString(
        driver.query("/usage/receipt", {"id": receipt_id(result)}).value
    )
    return [(p.org, p.amount, p.ref, p.basis_points) for p in found.payees]


def test_a_use_of_a_model_trained_on_the_data_pays_its_owner_a_royalty(lineage: Driver) -> None:
    before = {org: balance(lineage, org) for org in ("uni", "acme")}
    ask = {"address": lineage["acme-user"].address, "model": MODEL, "version": "1"}
    dry = state_pb2.Decision.FromString(
        lineage.query("/licenses/evaluate", {**ask, "purpose": "inference", "quantity": 1}).value
    )
    assert (dry.allowed, dry.fee) == (True, 1000)
    assert [(p.org, p.amount, p.ref, p.basis_points) for p in dry.royalties] == [
        ("uni", 50, f"{DATA}@1", 500)
    ]
    result = lineage.ok("acme-user", use(f"{MODEL}@1", purpose="inference", max_fee=1000))
    assert paid(lineage, result) == [("acme", 950, "", 0), ("uni", 50, f"{DATA}@1", 500)]
    assert balance(lineage, "uni") == before["uni"] + 50
    assert balance(lineage, "acme") == before["acme"] - 50  # acme paid itself 950
    moves = [
        {a.key: a.value for a in e.attributes}
        for e in result.events
        if e.type == "credits.transfer"
    ]
    assert moves == [{"from": "acme", "to": "uni", "amount": "50", "reason": "royalty"}]
    [event] = [e for e in result.events if e.type == "usage.receipt"]
    attributes = {a.key: a.value for a in event.attributes}
    assert attributes["royalties"] == f"uni:50:{DATA}@1" and attributes["paid"] == "acme:950"


def test_an_upstream_owner_using_the_derivative_owes_itself_no_royalty(lineage: Driver) -> None:
    """A royalty the caller's own organisation would be paid is dropped: else an upstream
    owner's script could ask 10,000 bps of its own uses only, and use derivatives for free
    (paying itself, the licensor nothing)."""
    ask = {"address": lineage["uni-pub"].address, "model": MODEL, "version": "1"}
    dry = state_pb2.Decision.FromString(
        lineage.query("/licenses/evaluate", {**ask, "purpose": "inference", "quantity": 1}).value
    )
    assert (dry.allowed, dry.fee, list(dry.royalties)) == (True, 1000, [])


def test_royalties_follow_the_whole_lineage(lineage: Driver) -> None:
    """A fine-tune of the model trained on the data: its use pays the model's owner no royalty
    (its license asks none) and the data's owner its royalty two steps up."""
    [receipt] = licensed(lineage, "acme-pub", "acme-user", [f"{MODEL}@1"])
    lineage.ok("acme-pub", register("acme", "tuned"))
    tuned = publish("acme/tuned", "1", parents=[f"{MODEL}@1"], license_receipts=[receipt])
    lineage.ok("acme-pub", tuned)
    lineage.ok("acme-pub", deploy("p2", PRICE, price=999))
    lineage.ok("acme-pub", attach("acme/tuned@1", "acme/p2"))
    result = lineage.ok("acme-user", use("acme/tuned@1", purpose="inference"))
    # 999 * 500 // 10000 = 49 (49.95 rounded down); the rest is the licensor's
    assert paid(lineage, result) == [("acme", 950, "", 0), ("uni", 49, f"{DATA}@1", 500)]


def test_shares_never_pass_the_fee(lineage: Driver) -> None:
    """Two upstream licenses asking 60% each: the nearest gets 600, the next what is left."""
    lineage.ok(
        "openml-pub", register_dataset("openml", "more"), publish_dataset("openml/more", "1")
    )
    [more] = licensed(lineage, "openml-pub", "acme-user", ["openml/more@1"], purpose="training")
    [data] = licensed(lineage, "uni-pub", "acme-user", [f"{DATA}@1"], purpose="training")
    lineage.ok("openml-pub", deploy("greedy", ROYALTY, bps=6000))
    lineage.ok("openml-pub", attach("openml/more@1", "openml/greedy"))
    lineage.ok("uni-pub", deploy("greedy", ROYALTY, bps=6000))
    lineage.ok("uni-pub", attach(f"{DATA}@1", "uni/greedy"))
    both = publish(
        MODEL, "2", trained_on=[f"{DATA}@1", "openml/more@1"], license_receipts=[data, more]
    )
    lineage.ok("acme-pub", both)
    lineage.ok("acme-pub", attach(f"{MODEL}@2", "acme/price"))
    result = lineage.ok("acme-user", use(f"{MODEL}@2", purpose="inference"))
    assert paid(lineage, result) == [
        ("acme", 0, "", 0),
        ("uni", 600, f"{DATA}@1", 6000),
        ("openml", 400, "openml/more@1", 6000),
    ]


def test_an_upstream_license_binds_the_derivatives_uses(lineage: Driver) -> None:
    lineage.ok(
        "uni-pub",
        deploy("strict", template("data-training"), denied_downstream=["commercial-inference"]),
    )
    bound = retrained(lineage, "uni/strict", "2")
    refused = lineage.run("acme-user", use(bound, purpose="commercial-inference"))
    expect(refused, usage_errors.DENIED)
    assert f"upstream {DATA}@1 (uni/strict)" in refused.log and "may not be used" in refused.log
    dry = lineage.query(
        "/licenses/evaluate",
        {
            "address": lineage["acme-user"].address,
            "model": MODEL,
            "version": "2",
            "purpose": "commercial-inference",
            "quantity": 1,
        },
    )
    assert not state_pb2.Decision.FromString(dry.value).allowed  # the dry run agrees
    lineage.ok("acme-user", use(bound, purpose="inference"))
    # acme/net@1 was trained under uni/data, which denies no purpose downstream
    lineage.ok("acme-user", use(f"{MODEL}@1", purpose="commercial-inference"))


def test_derive_refuses_a_misnamed_derivative(tmp_path: Path) -> None:
    driver = started(tmp_path)
    driver.ok("uni-pub", deploy("llama", template("scale-gated")))
    driver.ok("uni-pub", register("uni", "Llama-base"), publish("uni/Llama-base", "1"))
    driver.ok("uni-pub", attach("uni/Llama-base@1", "uni/llama"))
    [receipt] = licensed(driver, "uni-pub", "acme-user", ["uni/Llama-base@1"])
    # licensed() attached a free license; the scale-gated one governs again
    driver.ok("uni-pub", attach("uni/Llama-base@1", "uni/llama"))
    driver.ok("acme-pub", register("acme", "support"), register("acme", "Llama-support"))
    wrong = publish("acme/support", "1", parents=["uni/Llama-base@1"], license_receipts=[receipt])
    refused = driver.run("acme-pub", wrong)
    expect(refused, model_errors.DERIVE_REFUSED)
    assert "must be named Llama...; support is not" in refused.log
    right = publish(
        "acme/Llama-support", "1", parents=["uni/Llama-base@1"], license_receipts=[receipt]
    )
    driver.ok("acme-pub", right)
    driver.close()


def test_derive_requires_a_license_on_a_responsible_use_derivative(tmp_path: Path) -> None:
    driver = started(tmp_path)
    driver.ok("uni-pub", deploy("rail", template("responsible-use")))
    driver.ok("uni-pub", register("uni", "m"), publish("uni/m", "1"))
    driver.ok("uni-pub", attach("uni/m@1", "uni/rail"))
    bare = publish("uni/m", "2", parents=["uni/m@1"])
    expect(driver.run("uni-pub", bare), model_errors.DERIVE_REFUSED)  # the owner too
    driver.ok("uni-pub", publish("uni/m", "2", parents=["uni/m@1"], license="uni/rail"))
    driver.close()


HOSTILE_ROYALTIES = [
    ("above", "return 10001", errors.UPSTREAM_FAILED),
    ("negative", "return -1", errors.UPSTREAM_FAILED),
    ("huge", "return 2 ** 200", errors.UPSTREAM_FAILED),
    ("text", "return 'ten'", errors.UPSTREAM_FAILED),
    ("none", "return None", errors.UPSTREAM_FAILED),
    ("decision", "return allow()", errors.UPSTREAM_FAILED),
    ("error", "return 1 // 0", errors.UPSTREAM_FAILED),
    ("spin", SPIN + "    return 1", errors.UPSTREAM_OUT_OF_GAS),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "error"), [c[1:] for c in HOSTILE_ROYALTIES], ids=[c[0] for c in HOSTILE_ROYALTIES]
)
def test_a_hostile_royalty_refuses_the_use_within_bounded_gas(
    lineage: Driver, body: str, error: Any
) -> None:
    source = f"def authorize(ctx):\n    return allow()\n\n\ndef royalty(ctx):\n    {body}\n"
    lineage.ok("uni-pub", deploy("bad", source))
    bound = retrained(lineage, "uni/bad", "2")
    balances = (balance(lineage, "uni"), balance(lineage, "acme"))
    result = lineage.run("acme-user", use(bound, purpose="inference"))
    expect(result, error)
    assert (balance(lineage, "uni"), balance(lineage, "acme")) == balances
    limit = DEFAULT_LIMITS.gas_limit  # license_gas_limit
    assert 0 < result.gas_used <= base_gas(1) + limit + 4 * limit + 100_000


def test_an_upstream_spinning_in_authorize_is_stopped_by_the_shared_budget(
    lineage: Driver,
) -> None:
    spin = "def authorize(ctx):\n    " + SPIN + "    return allow()\n"
    lineage.ok("uni-pub", deploy("spin", spin))
    bound = retrained(lineage, "uni/spin", "2")
    result = lineage.run("acme-user", use(bound, purpose="inference"))
    expect(result, errors.UPSTREAM_OUT_OF_GAS)


def test_a_deeper_lineage_than_the_limit_is_refused_at_publish(chain: Driver) -> None:
    chain.ok("uni-pub", register("uni", "m"), publish("uni/m", "0"))
    for i in range(1, MAX_DEPTH + 1):
        chain.ok("uni-pub", publish("uni/m", str(i), parents=[f"uni/m@{i - 1}"]))
    deep = publish("uni/m", "x", parents=[f"uni/m@{MAX_DEPTH}"])
    refused = chain.run("uni-pub", deep)
    expect(refused, errors.LINEAGE_TOO_LARGE)
    assert chain.query("/models/version", {"model": "uni/m", "version": "x"}).code != 0


def test_a_wider_upstream_than_the_limit_is_refused_at_publish(chain: Driver) -> None:
    chain.ok("uni-pub", register("uni", "w"))
    bases = [f"uni/w@b{i}" for i in range(33)]
    for start in range(0, 33, 11):
        chain.ok("uni-pub", *[publish("uni/w", r.split("@")[1]) for r in bases[start : start + 11]])
    chain.ok("uni-pub", publish("uni/w", "x", parents=bases[:16]))
    chain.ok("uni-pub", publish("uni/w", "y", parents=bases[16:32]))
    chain.ok("uni-pub", publish("uni/w", "edge", parents=["uni/w@x", *bases[16:31]]))  # 32
    assert MAX_UPSTREAM == 32
    # x, y and their 32 parents: 34 upstream versions
    refused = chain.run("uni-pub", publish("uni/w", "z", parents=["uni/w@x", "uni/w@y"]))
    expect(refused, errors.LINEAGE_TOO_LARGE)


def test_a_version_cannot_name_itself(chain: Driver) -> None:
    chain.ok("uni-pub", register("uni", "c"))
    expect(
        chain.run("uni-pub", publish("uni/c", "1", parents=["uni/c@1"])),
        model_errors.PARENT_NOT_FOUND,
    )


def test_the_walk_ends_on_a_cycle_and_at_its_bounds() -> None:
    """Published versions cannot form a cycle, but the walk must end on any state: versions
    written straight into a store, naming each other in a ring, and a ring wider than the
    bound."""

    state = Overlay(EmptyState())
    from app.models import keys

    def put(name: str, parents: list[str], data: list[str] = []) -> None:  # noqa: B006
        version = state_pb2.Version(model="uni/r", version=name, parents=parents, trained_on=data)
        state.set(keys.version_key("uni/r", name), version.SerializeToString())

    put("a", ["uni/r@b"], ["uni/d@1"])
    put("b", ["uni/r@a"])
    found, cut = upstream(ModelsReader(state), ["uni/r@a"], [], "uni/r@b")
    assert [(u.ref, u.depth, u.relation) for u in found] == [
        ("uni/r@a", 1, "parent"),
        ("uni/d@1", 2, "trained_on"),
    ]
    assert not cut
    for i in range(100):
        put(f"n{i}", [f"uni/r@n{(i + 1) % 100}"])
    found, cut = upstream(ModelsReader(state), ["uni/r@n0"], [], "uni/r@start")
    assert cut and len(found) == MAX_DEPTH


def open_round(base: str, target: str, receipts: list[int] | None = None) -> tx_pb2.Msg:
    base_model, _, base_version = base.rpartition("@")
    target_model, _, target_version = target.rpartition("@")
    body = tx_pb2.OpenRound(
        base_model=base_model,
        base_version=base_version,
        target_model=target_model,
        target_version=target_version,
        invited_orgs=["uni", "acme"],
        min_participants=1,
        deadline_height=1000,
        license_receipts=receipts or [],
    )
    return tx_pb2.Msg(open_round=body)


def test_a_round_on_another_orgs_base_needs_the_fine_tune_receipt(lineage: Driver) -> None:
    """A round's versions derive from its base: the federated path licenses them too."""
    lineage.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    lineage.ok("acme-pub", register("acme", "fed"))
    refused = lineage.run("acme-pub", open_round("uni/base@1", "acme/fed@1"))
    expect(refused, model_errors.UNLICENSED_INPUT)
    [receipt] = licensed(lineage, "uni-pub", "acme-user", ["uni/base@1"])
    lineage.ok("acme-pub", open_round("uni/base@1", "acme/fed@1", [receipt]))
    lineage.ok("uni-pub", register("uni", "fed"))
    lineage.ok("uni-pub", open_round("uni/base@1", "uni/fed@1"))  # its own base


@pytest.mark.parametrize(
    ("base", "target"),
    [(f"{DATA}@1", "acme/fed@1"), (f"{MODEL}@1", "acme/data@1")],
    ids=["dataset-base", "dataset-target"],
)
def test_a_round_never_trains_a_dataset(lineage: Driver, base: str, target: str) -> None:
    lineage.ok("acme-pub", register("acme", "fed"), register_dataset("acme", "data"))
    result = lineage.run("acme-pub", open_round(base, target))
    assert (result.codespace, result.code) == ("federated", 1), result.log


def test_a_round_s_receipts_are_bounded() -> None:
    from app.federated.validation import validate_open
    from app.members.keeper import DEFAULT_PARAMS

    body = open_round("uni/a@1", "uni/b@1", list(range(1, 18))).open_round
    with pytest.raises(Exception, match="license_receipts"):
        validate_open(body, DEFAULT_PARAMS)


HEAVY = (
    "def authorize(ctx):\n    t = 0\n    for i in range(N):\n        t += i\n    return allow()\n"
)


def test_the_upstream_runs_share_one_bounded_budget(chain: Driver) -> None:
    """Each upstream license stays under its own gas limit, but together they pass the
    lineage's budget (4 x license_gas_limit): the use is refused, its gas bounded."""
    from app.licenses.lang import check_script, run_authorize
    from app.licenses.lang.context import example_context

    iterations = 25_000
    source = HEAVY.replace("N", str(iterations))
    one = run_authorize(check_script(source), example_context()).gas_used
    limit = DEFAULT_LIMITS.gas_limit
    assert limit * 4 // 6 < one < limit, one  # under the per-run limit; six pass the budget
    chain.ok("uni-pub", deploy("heavy", source), register("uni", "h"), publish("uni/h", "0"))
    chain.ok("uni-pub", attach("uni/h@0", "uni/heavy"))
    for i in range(1, 7):
        chain.ok("uni-pub", publish("uni/h", str(i), parents=[f"uni/h@{i - 1}"]))
        chain.ok("uni-pub", attach(f"uni/h@{i}", "uni/heavy"))
    near = chain.ok("acme-user", use("uni/h@2", purpose="inference"))  # two upstream runs
    assert near.gas_used > 3 * one
    far = chain.run("acme-user", use("uni/h@6", purpose="inference"))  # six would be needed
    expect(far, errors.UPSTREAM_OUT_OF_GAS)
    assert 4 * limit <= far.gas_used <= base_gas(1) + limit + 4 * limit + 7 * 100 + 20 * len(source)


def test_loading_large_upstream_licenses_is_paid_from_the_same_budget(chain: Driver) -> None:
    """Checking a license again costs 20 gas a byte on its first use in a block: three 16 KB
    upstream licenses (about 320 000 gas each) pass the budget (4 x 150 000) before the second
    is loaded."""
    big = "def authorize(ctx):\n    return allow()\n" + "#" * 16_000 + "\n"
    chain.ok("uni-pub", register("uni", "b"), publish("uni/b", "0"))
    for i in range(3):
        chain.ok("uni-pub", deploy(f"big{i}", big))
        chain.ok("uni-pub", attach(f"uni/b@{i}", f"uni/big{i}"))
        chain.ok("uni-pub", publish("uni/b", str(i + 1), parents=[f"uni/b@{i}"]))
    chain.ok("uni-pub", deploy("small", "def authorize(ctx):\n    return allow()\n"))
    chain.ok("uni-pub", attach("uni/b@3", "uni/small"))
    refused = chain.run("acme-user", use("uni/b@3", purpose="inference"))
    expect(refused, errors.UPSTREAM_OUT_OF_GAS)
    assert "loading uni/big1" in refused.log  # nearest first: b@2 (big2), then b@1 (big1)
    assert refused.gas_used <= base_gas(1) + 4 * DEFAULT_LIMITS.gas_limit + 10_000
    allowed = chain.ok("acme-user", use("uni/b@1", purpose="inference"))  # one big upstream
    assert allowed.gas_used > 20 * len(big)
