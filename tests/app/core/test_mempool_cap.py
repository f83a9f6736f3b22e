"""One account cannot fill the mempool: CheckTx admits at most MAX_PENDING_PER_ACCOUNT of its
transactions until a block commits some."""

from __future__ import annotations

import pytest
from driver import Driver, register

from app import machine as execute
from app.core import errors


def _txs(d: Driver, account: str, count: int) -> list[bytes]:
    org = account.split("-")[0]
    return [d.sign(account, [register(org, f"m{d[account].nonce}")]) for _ in range(count)]


def test_the_cap_holds_at_its_real_value(chain: Driver) -> None:
    cap = execute.MAX_PENDING_PER_ACCOUNT
    txs = _txs(chain, "uni-pub", cap + 1)
    assert [chain.check(tx).code for tx in txs[:cap]] == [0] * cap
    refused = chain.check(txs[cap])
    assert (refused.codespace, refused.code) == ("tx", errors.TOO_MANY_PENDING.code)
    assert refused.log.startswith("too_many_pending: ")


def test_the_cap_is_per_account_and_frees_up_as_blocks_commit(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execute, "MAX_PENDING_PER_ACCOUNT", 3)
    uni = _txs(chain, "uni-pub", 5)
    assert [chain.check(tx).code for tx in uni] == [
        0,
        0,
        0,
        errors.TOO_MANY_PENDING.code,
        errors.NONCE_GAP.code,
    ]
    assert [chain.check(tx).code for tx in _txs(chain, "acme-pub", 3)] == [0, 0, 0]
    chain.block(uni[:2])
    # The engine rechecks what is left in order, then new txs come.
    assert chain.check(uni[2], recheck=True).code == 0
    assert [chain.check(tx).code for tx in uni[3:]] == [0, 0]
    assert chain.check(_txs(chain, "uni-pub", 1)[0]).code == errors.TOO_MANY_PENDING.code


def test_the_cap_counts_from_genesis_before_the_first_commit(
    fresh: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execute, "MAX_PENDING_PER_ACCOUNT", 2)
    fresh.init_chain()
    codes = [fresh.check(tx).code for tx in _txs(fresh, "uni-pub", 3)]
    assert codes == [0, 0, errors.TOO_MANY_PENDING.code]
