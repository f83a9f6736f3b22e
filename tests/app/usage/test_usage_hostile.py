"""Hostile uses, by kind: every integer a license or a consumer controls, at its extremes.

Each case runs through the driver (CheckTx -> Process -> FinalizeBlock -> Commit): a
FinalizeBlock that raised would fail the test. A refusal must carry a registered code and leave
balances, receipts and totals as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, publish, register, started

from app.core.errors import ErrorCode
from app.core.valuemap import from_data
from app.credits import errors as credit_errors
from app.credits import keys as credit_keys
from app.credits.keeper import MAX_BALANCE
from app.licenses import errors as license_errors
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors, keys

OWN = "acme/own"  # acme's model, used by acme's own consumer: its fees move no credit
OTHER = "uni/base"  # uni's model, used by acme: fees move from acme to uni
MAX_U64 = 2**64 - 1


def allow_fee(fee: str, note: str = "ok") -> str:
    """A license that allows every use for the fee expression ``fee``."""
    return f'def authorize(ctx):\n    return allow(fee={fee}, note="{note}")\n'


def deploy(name: str, source: str, **params: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        deploy_license=tx_pb2.DeployLicense(name=name, source=source, params=from_data(params))
    )


def attach(model: str, license_id: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        attach_license=tx_pb2.AttachLicense(model=model, version="1.0", license=license_id)
    )


def use(model: str = OWN, quantity: int = 1, max_fee: int = MAX_U64) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        use=tx_pb2.Use(
            model=model, version="1.0", purpose="inference", quantity=quantity, max_fee=max_fee
        )
    )


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


def balances(driver: Driver) -> tuple[int, ...]:
    return tuple(
        state_pb2.Balance.FromString(driver.query("/credits/balance", {"org": org}).value).amount
        for org in ("acme", "openml", "uni")
    )


def totals(driver: Driver, org: str) -> tuple[int, int, int]:
    answer = driver.query("/usage/totals", {"licensor": org})
    found = state_pb2.LicensorTotals.FromString(answer.value)
    return found.receipts, found.quantity, found.fees


def receipt_count(driver: Driver) -> int:
    page = state_pb2.Page.FromString(driver.query("/usage/receipts", {}).value)
    return len(page.items)


def licensed(driver: Driver, model: str, publisher: str, name: str, source: str) -> None:
    """Deploy ``source`` as ``name`` and make it govern ``model@1.0``."""
    org = model.split("/")[0]
    driver.ok(publisher, deploy(name, source), attach(model, f"{org}/{name}"))


def inject(driver: Driver, key: bytes, value: bytes) -> None:
    """Write ``value`` under ``key`` with the next block, as if the chain had got there."""
    driver.app.pending.set(key, value)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    """acme owns acme/own@1.0 and uni owns uni/base@1.0, neither licensed yet."""
    driver = started(tmp_path)
    driver.ok("acme-pub", register("acme", "own"), publish(OWN, "1.0"))
    driver.ok("uni-pub", register("uni", "base"), publish(OTHER, "1.0"))
    yield driver
    driver.close()


FEES = [
    ("zero", "0", None),
    ("max-balance", str(MAX_BALANCE), None),
    ("max-balance-plus-one", "2**63", errors.FEE_OUT_OF_RANGE),
    ("uint64-max", "2**64 - 1", errors.FEE_OUT_OF_RANGE),
    ("uint64-max-plus-one", "2**64", errors.FEE_OUT_OF_RANGE),
    ("256-bit", "2**255 - 1 + 2**255", errors.FEE_OUT_OF_RANGE),
    ("from-quantity", "ctx.quantity * 2**62", errors.FEE_OUT_OF_RANGE),
]


@pytest.mark.parametrize(("fee", "error"), [c[1:] for c in FEES], ids=[c[0] for c in FEES])
def test_a_fee_on_ones_own_model_is_bounded(
    chain: Driver, fee: str, error: ErrorCode | None
) -> None:
    licensed(chain, OWN, "acme-pub", "big", allow_fee(fee))
    before = balances(chain)
    result = chain.run("acme-user", use(quantity=2))
    assert balances(chain) == before
    if error is None:
        assert result.code == 0, result.log
        assert receipt_count(chain) == 1
    else:
        expect(result, error)
        assert receipt_count(chain) == 0
        assert totals(chain, "acme") == (0, 0, 0)


def test_licensor_totals_stop_at_the_uint64_maximum(chain: Driver) -> None:
    licensed(chain, OWN, "acme-pub", "max", allow_fee(str(MAX_BALANCE)))
    for _ in range(3):
        chain.ok("acme-user", use(quantity=2**32))
    assert totals(chain, "acme") == (3, 3 * 2**32, MAX_U64)
    assert receipt_count(chain) == 3


def test_a_fee_into_a_full_balance_is_refused(chain: Driver) -> None:
    licensed(chain, OTHER, "uni-pub", "one", allow_fee("1"))
    full = state_pb2.Balance(org="uni", amount=MAX_BALANCE).SerializeToString()
    inject(chain, credit_keys.balance_key("uni"), full)
    chain.block([])
    before = balances(chain)
    expect(chain.run("acme-user", use(OTHER)), credit_errors.BALANCE_OVERFLOW)
    assert balances(chain) == before and receipt_count(chain) == 0


SURROGATES = [
    ("surrogate-note", allow_fee("1", "a\\ud800b")),
    ("surrogate-reason", 'def authorize(ctx):\n    return deny("x\\udfffy")\n'),
]


@pytest.mark.parametrize("source", [c[1] for c in SURROGATES], ids=[c[0] for c in SURROGATES])
def test_a_script_that_could_write_text_that_is_not_utf8_is_refused_at_deploy(
    chain: Driver, source: str
) -> None:
    """A lone surrogate cannot be stored in a receipt or a protobuf answer: the checker refuses
    the literal, so no script value can hold one (contexts come from valid UTF-8)."""
    result = chain.run("uni-pub", deploy("text", source))
    expect(result, license_errors.INVALID_SCRIPT)
    assert "lone surrogate" in result.log and result.log.isascii()


def test_a_deny_reason_beyond_ascii_is_quoted_in_the_log(chain: Driver) -> None:
    licensed(
        chain, OTHER, "uni-pub", "text", 'def authorize(ctx):\n    return deny("caf\\u00e9")\n'
    )
    result = chain.run("acme-user", use(OTHER))
    expect(result, errors.DENIED)
    assert result.log.isascii()


def test_a_counter_at_the_uint64_maximum_refuses_the_next_use(chain: Driver) -> None:
    licensed(chain, OTHER, "uni-pub", "free", allow_fee("0"))
    inject(chain, keys.use_key(keys.MODEL_USE, "acme", OTHER), (MAX_U64 - 1).to_bytes(8, "big"))
    chain.block([])
    chain.ok("acme-user", use(OTHER, quantity=1))
    expect(chain.run("acme-user", use(OTHER, quantity=1)), errors.COUNTER_OVERFLOW)
    assert receipt_count(chain) == 1


def test_receipt_ids_exhausted_refuse_the_use(chain: Driver) -> None:
    licensed(chain, OTHER, "uni-pub", "free", allow_fee("0"))
    inject(chain, keys.LAST_ID, MAX_U64.to_bytes(8, "big"))
    chain.block([])
    expect(chain.run("acme-user", use(OTHER)), errors.IDS_EXHAUSTED)


QUOTA = """
def authorize(ctx):
    return allow(fee=0, note=str(ctx.usage.period_start) + "/" + str(ctx.usage.version_period))
"""


@pytest.mark.parametrize("period", [1, 2**63 - 1, 0, -5], ids=["one", "max", "zero", "negative"])
def test_period_lengths_at_their_extremes_count_uses(chain: Driver, period: int) -> None:
    chain.ok("uni-pub", deploy("quota", QUOTA, period_seconds=period), attach(OTHER, "uni/quota"))
    chain.ok("acme-user", use(OTHER, quantity=2**32))
    chain.ok("acme-user", use(OTHER, quantity=2**32))


def test_a_block_time_before_1970_counts_as_period_zero(chain: Driver) -> None:
    chain.ok("uni-pub", deploy("quota", QUOTA, period_seconds=60), attach(OTHER, "uni/quota"))
    chain.block([chain.sign("acme-user", [use(OTHER)])], time=-3600)
    page = state_pb2.Page.FromString(chain.query("/usage/receipts", {}).value)
    [receipt] = [state_pb2.Receipt.FromString(i) for i in page.items]
    assert (receipt.time, receipt.note) == (-3600, "0/0")


QUANTITIES = [
    ("zero", 0, errors.INVALID_QUANTITY),
    ("one", 1, None),
    ("max", 2**32, None),
    ("max-plus-one", 2**32 + 1, errors.INVALID_QUANTITY),
    ("uint64-max", MAX_U64, errors.INVALID_QUANTITY),
]


@pytest.mark.parametrize(
    ("quantity", "error"), [c[1:] for c in QUANTITIES], ids=[c[0] for c in QUANTITIES]
)
def test_quantities_at_their_extremes(
    chain: Driver, quantity: int, error: ErrorCode | None
) -> None:
    licensed(chain, OTHER, "uni-pub", "free", allow_fee("0"))
    result = chain.run("acme-user", use(OTHER, quantity=quantity, max_fee=0))
    if error is None:
        assert result.code == 0, result.log
    else:
        expect(result, error)


@pytest.mark.parametrize("max_fee", [0, MAX_U64])
def test_max_fee_at_its_extremes(chain: Driver, max_fee: int) -> None:
    licensed(chain, OTHER, "uni-pub", "one", allow_fee("1"))
    result = chain.run("acme-user", use(OTHER, max_fee=max_fee))
    if max_fee == 0:
        expect(result, errors.FEE_ABOVE_MAX)
    else:
        assert result.code == 0, result.log


ODD_USES = [
    ("model-newline", {"model": OTHER + "\n"}, model_errors.INVALID_NAME),
    ("version-newline", {"version": "1.0\n"}, model_errors.INVALID_VERSION),
    ("purpose-newline", {"purpose": "inference\n"}, errors.INVALID_PURPOSE),
    ("purpose-non-ascii", {"purpose": "inf\u00e9rence"}, errors.INVALID_PURPOSE),
    ("purpose-empty", {"purpose": ""}, errors.INVALID_PURPOSE),
]


@pytest.mark.parametrize(
    ("fields", "error"), [c[1:] for c in ODD_USES], ids=[c[0] for c in ODD_USES]
)
def test_odd_names_in_a_use_are_refused(
    chain: Driver, fields: dict[str, Any], error: ErrorCode
) -> None:
    body: dict[str, Any] = {"model": OTHER, "version": "1.0", "purpose": "inference", "quantity": 1}
    body.update(fields)
    result = chain.run("acme-user", tx_pb2.Msg(use=tx_pb2.Use(**body)))
    expect(result, error)
    assert result.log.isascii() and result.log.isprintable(), result.log
