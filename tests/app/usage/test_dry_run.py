"""The ``/licenses/evaluate`` dry run answers what a use first in a fresh block does (issue 13
review): the same decision, gas, fee shares, refusal code and text, for every kind of lineage.

Each case builds a state, asks the dry run at the next block's height and time, then puts the
same use alone in that block (so every license it asks pays its first load there, as in the dry
run) and compares. A later transaction of a block may pay less for what the block's earlier
ones loaded (tests/app/datasets/test_lineage_gas.py): the dry run promises the fresh block's
answer, never more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from driver import BLOCK_SECONDS, Driver, publish, register, set_status, started

from app.core.errors import ErrorCode, TxError
from app.core.gas import LOAD_GAS_PER_BYTE
from app.core.text import quote
from app.core.valuemap import from_data
from app.datasets import errors as dataset_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors

BIG = "def authorize(ctx):\n    return allow()\n" + "#" * 16_000 + "\n"
PRICE = "def authorize(ctx):\n    return allow(fee=ctx.params['price'], note='per use')\n"
DENY = "def authorize(ctx):\n    return deny('not for ' + ctx.purpose)\n"
SPIN = """
def authorize(ctx):
    t = 0
    for i in range(100000):
        t += i
    return allow()
"""
NO_DERIVATIVES = """
def authorize(ctx):
    if ctx.derivative is not None:
        return deny("derivatives of " + ctx.model + " may not be used")
    return allow()
"""
ROYALTY = """
def authorize(ctx):
    return allow(fee=3)


def royalty(ctx):
    if ctx.derivative is None:
        return 0
    return 1250
"""
REF = "uni/m"


def deploy(name: str, source: str, **params: Any) -> tx_pb2.Msg:
    body = tx_pb2.DeployLicense(name=name, source=source, params=from_data(params))
    return tx_pb2.Msg(deploy_license=body)


def attach(ref: str, license_id: str) -> tx_pb2.Msg:
    model, _, version = ref.rpartition("@")
    body = tx_pb2.AttachLicense(model=model, version=version, license=license_id)
    return tx_pb2.Msg(attach_license=body)


def use(ref: str, quantity: int = 1) -> tx_pb2.Msg:
    model, _, version = ref.rpartition("@")
    body = tx_pb2.Use(
        model=model, version=version, purpose="inference", quantity=quantity, max_fee=10**6
    )
    return tx_pb2.Msg(use=body)


def chain_of(driver: Driver, licenses: list[tuple[str, str]]) -> str:
    """uni/m@0..n, each a fine-tune of the one before, version i under ``licenses[i]`` (name,
    source; deployed by uni, attached before the child is published); the last version."""
    driver.ok("uni-pub", register("uni", "m"))
    deployed: set[str] = set()
    for i, (name, source) in enumerate(licenses):
        parents = [f"{REF}@{i - 1}"] if i else []
        driver.ok("uni-pub", publish(REF, str(i), parents=parents))
        if name not in deployed:
            driver.ok("uni-pub", deploy(name, source, price=7))
            deployed.add(name)
        driver.ok("uni-pub", attach(f"{REF}@{i}", f"uni/{name}"))
    return f"{REF}@{len(licenses) - 1}"


def big_lineage(driver: Driver) -> str:
    """The review's case: three 16 KB licenses upstream pass the lineage budget only when their
    first loads are counted (a dry run without them answered allowed)."""
    return chain_of(driver, [(f"big{i}", BIG) for i in range(3)] + [("small", PRICE)])


def revoked(driver: Driver) -> str:
    ref = chain_of(driver, [("price", PRICE)])
    driver.ok("uni-pub", set_status(REF, "0", tx_pb2.VERSION_STATUS_REVOKED, "withdrawn"))
    return ref


def unlicensed(driver: Driver) -> str:
    driver.ok("uni-pub", register("uni", "m"), publish(REF, "0"))
    return f"{REF}@0"


CASES: list[tuple[str, Callable[[Driver], str], ErrorCode | None]] = [
    ("own-license-allows-with-fee", lambda d: chain_of(d, [("price", PRICE)]), None),
    ("own-license-denies", lambda d: chain_of(d, [("deny", DENY)]), errors.DENIED),
    ("own-license-out-of-gas", lambda d: chain_of(d, [("spin", SPIN)]), errors.OUT_OF_GAS),
    ("one-big-upstream-within-budget", lambda d: chain_of(d, [("big", BIG), ("p", PRICE)]), None),
    ("big-upstream-loads-pass-the-budget", big_lineage, dataset_errors.UPSTREAM_OUT_OF_GAS),
    ("one-license-loaded-once", lambda d: chain_of(d, [("big", BIG)] * 4), None),
    (
        "upstream-denies-derivatives",
        lambda d: chain_of(d, [("nod", NO_DERIVATIVES), ("p", PRICE)]),
        errors.DENIED,
    ),
    (
        "upstream-out-of-gas",
        lambda d: chain_of(d, [("spin", SPIN), ("p", PRICE)]),
        dataset_errors.UPSTREAM_OUT_OF_GAS,
    ),
    ("upstream-royalty", lambda d: chain_of(d, [("roy", ROYALTY), ("p", PRICE)]), None),
    ("revoked-version", revoked, errors.VERSION_REVOKED),
    ("no-license", unlicensed, errors.NO_LICENSE),
]


def dry_run(driver: Driver, ref: str) -> Any:
    """The dry run of acme-user's use of ``ref`` in the next block."""
    model, _, version = ref.rpartition("@")
    ask: dict[str, Any] = {"address": driver["acme-user"].address, "model": model}
    ask |= {"version": version}
    ask |= {"purpose": "inference", "quantity": 1}
    ask |= {"height": driver.height + 1, "time": driver.time + BLOCK_SECONDS}
    return driver.query("/licenses/evaluate", ask)


def receipt(driver: Driver, result: Any) -> state_pb2.Receipt:
    [event] = [e for e in result.events if e.type == "usage.receipt"]
    found = int(next(a.value for a in event.attributes if a.key == "id"))
    return state_pb2.Receipt.FromString(driver.query("/usage/receipt", {"id": found}).value)


def assert_same(driver: Driver, answer: Any, result: Any) -> None:
    """The dry run's ``answer`` is the block's ``result`` of the same use."""
    if answer.code:  # nothing to ask, or a script failed: the block refuses the same way
        got = (answer.codespace, answer.code, answer.log)
        assert got == (result.codespace, result.code, result.log)
        return
    dry = state_pb2.Decision.FromString(answer.value)
    assert dry.tx_gas_used == result.gas_used
    if not dry.allowed:
        assert (result.codespace, result.code) == (errors.DENIED.codespace, errors.DENIED.code)
        assert result.log == TxError(errors.DENIED, f"{dry.license}: {quote(dry.reason, 256)}").log
        return
    assert result.code == 0, result.log
    made = receipt(driver, result)
    assert (dry.fee, dry.note, dry.gas_used) == (made.fee, made.note, made.gas_used)
    assert (dry.license, dry.code_hash) == (made.license, made.code_hash)
    shares = [(p.org, p.amount, p.ref, p.basis_points) for p in dry.royalties]
    assert shares == [(p.org, p.amount, p.ref, p.basis_points) for p in made.payees if p.ref]


@pytest.mark.parametrize(("build", "refused"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_dry_run_answers_what_a_fresh_block_decides(
    tmp_path: Path, build: Callable[[Driver], str], refused: ErrorCode | None
) -> None:
    driver = started(tmp_path)
    ref = build(driver)
    answer = dry_run(driver, ref)
    result = driver.block([driver.sign("acme-user", [use(ref)])]).tx_results[0]
    assert_same(driver, answer, result)
    if refused is None:
        assert result.code == 0, result.log
    else:
        assert (result.codespace, result.code) == (refused.codespace, refused.code), result.log
    driver.close()


def test_a_license_asked_four_times_in_one_lineage_is_loaded_once(tmp_path: Path) -> None:
    """uni/m@0..3 all under uni/big: the dry run (and the block) pay its load once, so the
    three more asks cost far less than three more loads of its source."""
    gas = []
    for count in (1, 4):
        driver = started(tmp_path / str(count))
        answer = dry_run(driver, chain_of(driver, [("big", BIG)] * count))
        assert answer.code == 0, answer.log
        gas.append(state_pb2.Decision.FromString(answer.value).tx_gas_used)
        driver.close()
    assert 0 < gas[1] - gas[0] < LOAD_GAS_PER_BYTE * len(BIG.encode())


def test_the_dry_run_of_the_reviewed_lineage_refuses_as_the_block(tmp_path: Path) -> None:
    """The review's reproduction: the dry run of the last of three big upstream licenses
    answered allowed=True, where its use first in a block is refused."""
    driver = started(tmp_path)
    answer = dry_run(driver, big_lineage(driver))
    code = dataset_errors.UPSTREAM_OUT_OF_GAS
    assert (answer.codespace, answer.code) == (code.codespace, code.code), answer.log
    assert "would pass the lineage check's" in answer.log
    driver.close()


def test_a_dry_run_pins_no_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Queries run beside blocks: a dry run pays every load but keeps nothing pinned, so a
    stream of dry runs cannot hold programs past the cache's budget until the next Commit."""
    from app.licenses import programs

    driver = started(tmp_path)
    ref = chain_of(driver, [("big", BIG), ("p", PRICE)])
    cache = programs.ProgramCache()
    monkeypatch.setattr(programs, "CACHE", cache)
    answer = dry_run(driver, ref)
    assert answer.code == 0, answer.log
    assert len(cache) == 2 and not cache._pinned
    driver.close()


def test_read_access_grants_a_free_download_only_where_a_block_would(tmp_path: Path) -> None:
    """The read-access rule asks the license as the dry run does: a derivative whose upstream
    licenses' loads pass the lineage budget is not downloadable under a free license, since
    its download use in a block is refused (upstream_out_of_gas)."""
    driver = started(tmp_path)
    free = "def authorize(ctx):\n    return allow()\n"
    passing = chain_of(driver, [(f"big{i}", BIG) for i in range(3)] + [("free", free)])
    model, _, version = passing.rpartition("@")
    clock = {"height": driver.height + 1, "time": driver.time + BLOCK_SECONDS}

    def access(ref: str) -> state_pb2.AccessDecision:
        weights = state_pb2.Version.FromString(
            driver.query("/models/version", {"model": model, "version": ref}).value
        ).weights_digest
        ask = {"address": driver["acme-user"].address, "digest": weights, **clock}
        answer = driver.query("/models/read_access", ask)
        assert answer.code == 0, answer.log
        return state_pb2.AccessDecision.FromString(answer.value)

    refused = access(version)
    assert (refused.allowed, refused.rule) == (False, "not_granted")
    assert "upstream_out_of_gas" in refused.reason
    within = access("1")  # one big upstream license: within the budget, granted
    assert (within.allowed, within.rule) == (True, "license")
    download = tx_pb2.Use(model=model, version=version, purpose="download", quantity=1)
    result = driver.block([driver.sign("acme-user", [tx_pb2.Msg(use=download)])]).tx_results[0]
    code = dataset_errors.UPSTREAM_OUT_OF_GAS
    assert (result.codespace, result.code) == (code.codespace, code.code), result.log
    driver.close()
