"""A block's gas is bounded: one member cannot make a block take minutes to execute.

Every transaction is within its own limits here; together they would take the validators as long
as the member likes without ``max_block_gas``: uses of a license that spends its whole gas limit,
uses cycling through many distinct large licenses (each would have to be checked again when the
program cache lets it go), deploys of the largest scripts, deploys that fail their check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import Driver, digest, publish, register, started, timestamp

from app.abci.gas_estimates import UNSEEN_SHARE, GasEstimates
from app.core import crypto, errors
from app.core.env import TxResult
from app.core.gas import (
    ATTEST_GAS,
    DEPLOY_GAS_PER_BYTE,
    FILE_GAS,
    LIST_ITEM_GAS,
    LOAD_GAS_PER_BYTE,
    TX_GAS,
    base_gas,
)
from app.core.valuemap import from_data
from app.licenses import programs
from app.licenses.lang.limits import DEFAULT_LIMITS
from app.members.keeper import DEFAULT_PARAMS
from app.models.manifest import manifest_bytes
from app.pb.modelgov.v1 import tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci
from app.usage import errors as usage_errors

BUDGET = 2_000_000
SPIN = (
    "def authorize(ctx):\n    total = 0\n    for i in range(100000):\n        total += i\n"
    "    return allow()\n"
)
CHEAP = "def authorize(ctx):\n    return allow(fee=0, note='ok')\n"


def deploy(name: str, source: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        deploy_license=tx_pb2.DeployLicense(name=name, source=source, params=from_data({}))
    )


def attach(model: str, license_id: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        attach_license=tx_pb2.AttachLicense(model=model, version="1.0", license=license_id)
    )


def use(model: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        use=tx_pb2.Use(model=model, version="1.0", purpose="inference", quantity=1, max_fee=0)
    )


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    """uni/spin is governed by a license that spends its whole gas limit, uni/cheap by one
    that answers at once; the block budget is the lowest a vote may set."""
    driver = started(tmp_path, params={"max_block_gas": BUDGET})
    driver.ok("uni-pub", register("uni", "spin"), publish("uni/spin", "1.0"))
    driver.ok("uni-pub", register("uni", "cheap"), publish("uni/cheap", "1.0"))
    driver.ok("uni-pub", deploy("spin", SPIN), attach("uni/spin", "uni/spin"))
    driver.ok("uni-pub", deploy("cheap", CHEAP), attach("uni/cheap", "uni/cheap"))
    yield driver
    driver.close()


def test_a_block_stops_running_transactions_once_its_gas_is_spent(chain: Driver) -> None:
    txs = [chain.sign("acme-user", [use("uni/spin")]) for _ in range(15)]
    results = chain.block(txs).tx_results
    codes = [(r.codespace, r.code) for r in results]
    ran = codes.count((usage_errors.OUT_OF_GAS.codespace, usage_errors.OUT_OF_GAS.code))
    refused = codes.count(("tx", errors.BLOCK_GAS_EXHAUSTED.code))
    assert ran + refused == 15 and 0 < ran < 15
    assert codes[:ran] == [(usage_errors.OUT_OF_GAS.codespace, usage_errors.OUT_OF_GAS.code)] * ran
    spent = sum(r.gas_used for r in results[: ran - 1])
    assert spent < BUDGET <= spent + results[ran - 1].gas_used
    assert all(r.gas_used == 0 and "send it again" in r.log for r in results[ran:])
    assert chain.committed_nonce("acme-user") == ran  # the refused ones kept their nonces
    again = chain.block(txs[ran:]).tx_results
    assert again[0].code == usage_errors.OUT_OF_GAS.code


def test_a_use_pays_for_its_evaluation_even_when_it_fails(chain: Driver) -> None:
    result = chain.run("acme-user", use("uni/spin"))
    assert result.code == usage_errors.OUT_OF_GAS.code
    load = LOAD_GAS_PER_BYTE * len(SPIN.encode())
    assert result.gas_used == base_gas(1) + load + DEFAULT_LIMITS.gas_limit


def test_a_license_pays_for_loading_once_per_block(chain: Driver) -> None:
    first, second = chain.block(
        [chain.sign("acme-user", [use("uni/cheap")]), chain.sign("acme-user", [use("uni/cheap")])]
    ).tx_results
    assert first.code == second.code == 0
    assert first.gas_used - second.gas_used == LOAD_GAS_PER_BYTE * len(CHEAP.encode())
    later = chain.run("acme-user", use("uni/cheap"))
    assert later.gas_used == first.gas_used  # a new block loads it again


def test_the_block_pins_what_it_loaded_until_commit(chain: Driver) -> None:
    """Pinned programs stay cached however many others the block loads; Commit lets go."""
    request = abci.RequestFinalizeBlock(
        txs=[chain.sign("acme-user", [use("uni/cheap")])],
        height=chain.height + 1,
        time=timestamp(chain.time + 5),
    )
    chain.app.finalize_block(request)
    assert {source for source, _ in programs.CACHE._pinned} == {CHEAP}
    chain.app.commit(abci.RequestCommit())
    assert programs.CACHE._pinned == {}


def test_a_deploy_pays_for_its_check_even_when_the_check_refuses(chain: Driver) -> None:
    big = "def authorize(ctx):\n" + "    x = 1\n" * 1500 + "    return allow()\n"
    accepted = chain.run("uni-pub", deploy("big", big))
    assert accepted.code == 0
    assert accepted.gas_used == base_gas(1) + DEPLOY_GAS_PER_BYTE * len(big.encode())
    broken = big.replace("return allow()", "return allow(")
    refused = chain.block([chain.sign("uni-pub", [deploy("broken", broken)])], check_proposal=False)
    result = refused.tx_results[0]
    assert result.code != 0
    assert result.gas_used == base_gas(1) + DEPLOY_GAS_PER_BYTE * len(broken.encode())
    assert chain.committed_nonce("uni-pub") == 5  # a refused check consumes no nonce


def test_a_deploy_pays_for_its_parameters_as_for_its_source(chain: Driver) -> None:
    """900 parameters took 4 ms to walk, convert and store while only the source was charged
    (780 gas): sixteen such deploys in a transaction held every validator for tens of
    milliseconds at the price of an empty one."""
    entries = [
        tx_pb2.ValueEntry(key=f"k{i:04d}", value=tx_pb2.Value(int_value=i)) for i in range(900)
    ]
    body = tx_pb2.DeployLicense(name="many", source=CHEAP, params=tx_pb2.ValueMap(entries=entries))
    result = chain.run("uni-pub", tx_pb2.Msg(deploy_license=body))
    assert result.code == 0, result.log
    charged = DEPLOY_GAS_PER_BYTE * (len(CHEAP.encode()) + body.params.ByteSize())
    assert result.gas_used == base_gas(1) + charged
    assert charged > 200_000  # 12.5 kB of parameters


def test_deploys_of_large_scripts_fill_a_block_quickly(chain: Driver) -> None:
    large = "def authorize(ctx):\n" + "    x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" * 400
    large += "    return allow()\n"
    txs = [chain.sign("uni-pub", [deploy(f"large{i}", large)]) for i in range(20)]
    results = chain.block(txs).tx_results
    ran = sum(1 for r in results if r.code == 0)
    assert 0 < ran < 20
    assert all(r.code == errors.BLOCK_GAS_EXHAUSTED.code for r in results[ran:])


def test_a_use_of_a_removed_organisations_model_is_refused(chain: Driver) -> None:
    from app.members.keeper import MembersKeeper

    MembersKeeper(chain.app.pending).remove_org("uni")
    chain.block([])
    result = chain.run("acme-user", use("uni/cheap"))
    assert (result.codespace, result.code) == (
        usage_errors.LICENSOR_REMOVED.codespace,
        usage_errors.LICENSOR_REMOVED.code,
    )


def _refused_at_the_door(driver: Driver, count: int) -> list[bytes]:
    """Decodable transactions that fail only their signature (signed by another key), as a
    proposer may put any number of in its block: each costs every validator a verification."""
    sender = driver["uni-pub"]
    txs = []
    for i in range(count):
        body = tx_pb2.TxBody(
            chain_id=driver.chain_id,
            sender=sender.pubkey,
            nonce=1000 + i,
            messages=[register("uni", f"junk{i}")],
        )
        raw = body.SerializeToString()
        signature = crypto.sign(b"\x07" * 32, raw)
        txs.append(tx_pb2.Tx(body=raw, signature=signature).SerializeToString())
    return txs


def test_transactions_refused_before_they_run_still_count_against_the_block(
    chain: Driver,
) -> None:
    """A proposer (any validator) can fill a block with transactions that fail only their
    signature or their sender: 20 000 of them (2.7 MB, a fraction of the engine's block size)
    took 3.6 s of FinalizeBlock here, on every validator. Each is charged TX_GAS against the
    block's budget (its reported gas_used stays 0), so a block verifies at most
    max_block_gas // TX_GAS signatures and refuses the rest unrun."""
    bound = BUDGET // TX_GAS
    valid = chain.sign("uni-pub", [register("uni", "after")])
    txs = [*_refused_at_the_door(chain, bound), valid]
    results = chain.block(txs, check_proposal=False).tx_results  # FinalizeBlock's own bound
    assert {r.code for r in results[:bound]} == {errors.BAD_SIGNATURE.code}
    assert all(r.gas_used == 0 for r in results[:bound])
    assert results[-1].code == errors.BLOCK_GAS_EXHAUSTED.code, results[-1].log


def test_a_proposer_offers_no_more_transactions_than_the_budget_runs(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An honest proposal stops at max_block_gas // TX_GAS transactions, so none of its own
    transactions is refused unrun for the count alone, even where it expects each to cost the
    least there is (TX_GAS); the rest stay in the mempool."""
    monkeypatch.setattr(chain.app.gas_estimates, "expected", lambda body, budget: TX_GAS)
    txs = _refused_at_the_door(chain, BUDGET // TX_GAS + 5)
    assert chain.prepare(txs) == txs[: BUDGET // TX_GAS]


def test_a_proposal_past_that_count_is_rejected(chain: Driver) -> None:
    """A proposal of more transactions than the budget runs is none an honest proposer makes:
    it is rejected before any of them is parsed, so its size costs the validators nothing."""
    txs = _refused_at_the_door(chain, BUDGET // TX_GAS)
    assert chain.process(txs)
    assert not chain.process([*txs, txs[0]])


def _many_files(driver: Driver, version: str, count: int) -> tx_pb2.Msg:
    """A publication of a directory of ``count`` one-byte files (a 47 kB tx for 550)."""
    files = [
        tx_pb2.ManifestFile(path=f"f{i:05d}", size=1, digest=digest(f"{version}-{i}"))
        for i in range(count)
    ]
    manifest = "sha256:" + hashlib.sha256(manifest_bytes(files)).hexdigest()
    return publish("uni/spin", version, weights_digest=manifest, size_bytes=count, files=files)


def test_a_publication_pays_for_the_files_of_its_manifest(chain: Driver) -> None:
    """Each file a publication lists costs the validators about 0.18 ms (holding checks and
    index writes): 550 files in one 47 kB transaction took 99 ms for 1 200 gas, so a block of
    them, far under max_block_gas, took most of a minute. They are charged FILE_GAS each, so
    the block's budget stops them."""
    txs = [chain.sign("uni-pub", [_many_files(chain, f"d{i}", 550)]) for i in range(5)]
    results = chain.block(txs).tx_results
    assert results[0].code == 0, results[0].log
    assert results[0].gas_used >= 550 * FILE_GAS
    exhausted = [r for r in results if r.code == errors.BLOCK_GAS_EXHAUSTED.code]
    assert len(exhausted) >= 3  # 2 000 000 gas runs at most two of them


def test_attestations_pay_for_their_metrics(chain: Driver) -> None:
    """16 attestations of 64 metrics in a transaction took 38 ms of FinalizeBlock for 4 200
    gas (metric names were quoted for an error message even when valid), ~90 times what a
    gas unit buys: a block of them, within max_block_gas, took about a minute. Each costs
    ATTEST_GAS and each metric LIST_ITEM_GAS, so a block's budget bounds them."""
    metrics = [tx_pb2.Metric(name=f"m{i}", int_value=i, scale=2) for i in range(64)]
    attest = tx_pb2.Attest(model="uni/spin", version="1.0", kind="evaluation", metrics=metrics)
    msgs = [tx_pb2.Msg(attest=attest)] * 16
    results = chain.block([chain.sign("openml-audit", msgs) for _ in range(20)]).tx_results
    assert results[0].code == 0, results[0].log
    assert results[0].gas_used == base_gas(16) + 16 * (ATTEST_GAS + 64 * LIST_ITEM_GAS)
    assert sum(r.code == errors.BLOCK_GAS_EXHAUSTED.code for r in results) >= 8


# --- the proposer stops where the gas it expects would pass the budget -------------------------
#
# A transaction refused for block gas keeps its nonce unused, so every later transaction of its
# sender waiting in the mempool fails the re-check: under load, whole runs of a client's
# transactions failed because a block was full. A proposer that has seen a shape of transaction
# (kinds and models) expects it to cost what it cost then; one it has not seen counts
# UNSEEN_SHARE of the budget.


def test_a_burst_after_a_start_is_learned_in_one_small_block_and_none_is_refused(
    chain: Driver,
) -> None:
    """420 uses at once on a fresh process: counted at TX_GAS each, 400 were proposed and the
    block refused about 70 (and with them every later transaction of their senders waiting in
    the mempool). Now the first block holds what a 32nd of the budget each allows, and the next
    what their measured cost allows: no refusal."""
    burst = [chain.sign("acme-user", [use("uni/cheap")]) for _ in range(420)]
    first = chain.prepare(burst)
    assert first == burst[:UNSEEN_SHARE]
    assert all(r.code == 0 for r in chain.block(first).tx_results)
    rest = burst[len(first) :]
    second = chain.prepare(rest)
    assert UNSEEN_SHARE < len(second) < len(rest) and second == rest[: len(second)]
    results = chain.block(second).tx_results
    assert all(r.code == 0 for r in results), {r.log for r in results if r.code}
    assert len(second) * results[0].gas_used > BUDGET * 8 // 10  # the margin costs about a tenth


def test_a_proposer_leaves_out_what_the_budget_would_refuse(chain: Driver) -> None:
    first = [chain.sign("acme-user", [use("uni/spin")]) for _ in range(15)]
    assert chain.prepare(first) == first  # nothing seen yet: each counts BUDGET // 32
    results = chain.block(first).tx_results
    ran = sum(r.code != errors.BLOCK_GAS_EXHAUSTED.code for r in results)
    assert ran < 15
    waiting = first[ran:] + [chain.sign("acme-user", [use("uni/spin")]) for _ in range(15)]
    proposal = chain.prepare(waiting)
    assert 0 < len(proposal) < len(waiting) and proposal == waiting[: len(proposal)]
    codes = [r.code for r in chain.block(proposal).tx_results]
    assert errors.BLOCK_GAS_EXHAUSTED.code not in codes
    assert len(proposal) >= ran - ran // 10 - 1  # the margin costs about a tenth of the block


def test_unseen_uses_count_a_share_of_the_budget_and_seen_shapes_their_last_plus_a_margin() -> None:
    estimates = GasEstimates(capacity=4)  # three shapes and the kinds they share
    bodies = [tx_pb2.TxBody(messages=[use(model)]) for model in ("uni/a", "uni/b", "uni/c")]
    raw = [tx_pb2.Tx(body=b.SerializeToString()).SerializeToString() for b in bodies]
    unseen = BUDGET // UNSEEN_SHARE
    assert [estimates.expected(b, BUDGET) for b in bodies] == [unseen] * 3
    assert estimates.expected(bodies[0], 10 * TX_GAS) == TX_GAS  # never below the least
    results = [TxResult(gas_used=100_000), TxResult(gas_used=0), TxResult(gas_used=50_000)]
    estimates.learn(raw, results, DEFAULT_PARAMS)
    assert estimates.expected(bodies[1], BUDGET) == TX_GAS + TX_GAS // 10  # refused at the door
    assert estimates.expected(bodies[2], BUDGET) == 55_000
    assert estimates.expected(bodies[0], BUDGET) == 110_000
    other = tx_pb2.TxBody(messages=[use("uni/new")])
    assert estimates.expected(other, BUDGET) == unseen  # another model's license may spin
    estimates.learn(raw[:1], results[:1], DEFAULT_PARAMS)
    wrapped = tx_pb2.Tx(body=other.SerializeToString()).SerializeToString()
    estimates.learn([wrapped], [TxResult(gas_used=1)], DEFAULT_PARAMS)
    assert estimates.expected(bodies[1], BUDGET) == unseen  # forgotten: the least recent
    two = tx_pb2.TxBody(messages=[use("uni/c"), use("uni/c")])
    assert estimates.expected(two, BUDGET) == unseen  # kinds never seen together
    unrun = TxResult(code=errors.BLOCK_GAS_EXHAUSTED.code, codespace="tx")
    estimates.learn([raw[2], b"\xff not a tx"], [unrun, TxResult(gas_used=9)], DEFAULT_PARAMS)
    assert estimates.expected(bodies[2], BUDGET) == 55_000  # an unrun tx says nothing of its cost


def made_up(model: str) -> tx_pb2.TxBody:
    """A publication of a model nobody registered: CheckTx admits it (its state is the
    block's to judge), and every new name is a new shape."""
    msg = tx_pb2.Msg(publish_version=tx_pb2.PublishVersion(model=model, version="1"))
    return tx_pb2.TxBody(messages=[msg])


def test_made_up_names_do_not_shrink_the_block() -> None:
    """A red-team review held every block to 32 transactions with publications of made-up
    model names at no cost, when every unseen shape counted a 32nd of the budget. A shape
    without a use counts what its kinds last cost (else TX_GAS), whatever model it names."""
    estimates = GasEstimates()
    assert estimates.expected(made_up("evil/x0"), BUDGET) == TX_GAS
    raw = tx_pb2.Tx(body=made_up("evil/x0").SerializeToString()).SerializeToString()
    estimates.learn([raw], [TxResult(gas_used=7_000)], DEFAULT_PARAMS)
    assert estimates.expected(made_up("evil/x1"), BUDGET) == 7_700
    assert len({estimates.expected(made_up(f"evil/x{i}"), BUDGET) for i in range(100)}) == 1


def test_a_shape_is_remembered_by_a_digest_whatever_the_names_it_carries() -> None:
    """A proposer's block may carry decodable transactions naming models of 60 kB: what the
    estimates remember of each is a fixed-size digest (4,096 such shapes took 267 MB)."""
    estimates = GasEstimates()
    huge = made_up("x" * 60_000)
    raw = tx_pb2.Tx(body=huge.SerializeToString()).SerializeToString()
    estimates.learn([raw], [TxResult(gas_used=9_000)], DEFAULT_PARAMS)
    assert estimates.expected(huge, BUDGET) == 9_900
    assert all(isinstance(shape, bytes) and len(shape) <= 17 for shape in estimates._gas)
