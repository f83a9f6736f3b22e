"""Outsiders pay nothing into the app: a transaction whose signature or sender does not check out
never reaches a message's costly stateless check (the license deploy checker), never enters the
signature cache, and consumes no nonce; a member's valid deploy still does all of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from driver import Driver, make_account

from app.core import crypto, errors
from app.core.errors import ErrorCode
from app.licenses import errors as license_errors
from app.licenses import programs
from app.pb.modelgov.v1 import tx_pb2

SCRIPT_BYTES = 16_000


def big_script(tag: str) -> str:
    """A license script of about SCRIPT_BYTES bytes (valid: a comment block and one function);
    ``tag`` makes each one new, so no cache of an earlier check can answer for it."""
    body = f"# {tag}\ndef authorize(ctx):\n    return allow(fee=0)\n"
    padding = "# " + "x" * 76 + "\n"
    return padding * ((SCRIPT_BYTES - len(body)) // len(padding)) + body


def deploy(name: str, source: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(deploy_license=tx_pb2.DeployLicense(name=name, source=source))


def _signed(body: tx_pb2.TxBody, key: bytes) -> bytes:
    body_bytes = body.SerializeToString()
    return tx_pb2.Tx(body=body_bytes, signature=crypto.sign(key, body_bytes)).SerializeToString()


def _body(d: Driver, sender: bytes, nonce: int, tag: str) -> tx_pb2.TxBody:
    msgs = [deploy("big", big_script(tag))]
    return tx_pb2.TxBody(chain_id=d.chain_id, sender=sender, nonce=nonce, messages=msgs)


def _badly_signed(d: Driver, tag: str) -> bytes:
    """A member's body signed with another member's key."""
    return _signed(_body(d, d["uni-pub"].pubkey, 0, tag), d["acme-pub"].private_key)


def _garbage_signature(d: Driver, tag: str) -> bytes:
    body = _body(d, d["uni-pub"].pubkey, 0, tag).SerializeToString()
    return tx_pb2.Tx(body=body, signature=b"\x01" * 64).SerializeToString()


def _outsider(d: Driver, tag: str) -> bytes:
    """Validly signed with a fresh key that is no consortium account."""
    stranger = make_account(f"stranger-{tag}", "uni", "publisher")
    return _signed(_body(d, stranger.pubkey, 0, tag), stranger.private_key)


def _wrong_chain(d: Driver, tag: str) -> bytes:
    body = _body(d, d["uni-pub"].pubkey, 0, tag)
    body.chain_id = "another-chain"
    return _signed(body, d["uni-pub"].private_key)


def _replayed_nonce(d: Driver, tag: str) -> bytes:
    d.ok("uni-pub", tx_pb2.Msg(register_model=tx_pb2.RegisterModel(owner_org="uni", name="m")))
    return _signed(_body(d, d["uni-pub"].pubkey, 0, tag), d["uni-pub"].private_key)


def _nonce_gap(d: Driver, tag: str) -> bytes:
    return _signed(_body(d, d["uni-pub"].pubkey, 5, tag), d["uni-pub"].private_key)


def _missing_role(d: Driver, tag: str) -> bytes:
    return _signed(_body(d, d["acme-user"].pubkey, 0, tag), d["acme-user"].private_key)


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Driver, str], bytes]
    error: ErrorCode


CASES = [
    Case("badly_signed", _badly_signed, errors.BAD_SIGNATURE),
    Case("garbage_signature", _garbage_signature, errors.BAD_SIGNATURE),
    Case("outsider", _outsider, errors.UNKNOWN_SENDER),
    Case("wrong_chain", _wrong_chain, errors.WRONG_CHAIN),
    Case("replayed_nonce", _replayed_nonce, errors.NONCE_REPLAYED),
    Case("nonce_gap", _nonce_gap, errors.NONCE_GAP),
    Case("missing_role", _missing_role, errors.MISSING_ROLE),
]


@pytest.fixture
def checker_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every source the license deploy checker is asked to check."""
    calls: list[str] = []
    real = programs.check_script  # type: ignore[attr-defined]

    def spy(source: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(programs, "check_script", spy)
    return calls


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_tx_refuses_before_any_costly_check(
    chain: Driver, checker_calls: list[str], case: Case
) -> None:
    raw = case.make(chain, f"check-{case.name}")
    cached = len(programs.CACHE)
    response = chain.check(raw)
    assert (response.codespace, response.code) == (case.error.codespace, case.error.code)
    assert checker_calls == []
    assert len(programs.CACHE) == cached
    assert len(chain.app.signatures) == 0


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_finalize_block_refuses_before_any_costly_check(
    chain: Driver, checker_calls: list[str], case: Case
) -> None:
    raw = case.make(chain, f"block-{case.name}")
    cached = len(programs.CACHE)
    before = chain.store.root
    result = chain.block([raw], check_proposal=False).tx_results[0]
    assert (result.codespace, result.code) == (case.error.codespace, case.error.code)
    assert checker_calls == []
    assert len(programs.CACHE) == cached
    assert len(chain.app.signatures) == 0
    assert chain.store.root == before


def test_a_members_deploy_is_checked_and_remembered(
    chain: Driver, checker_calls: list[str]
) -> None:
    """The control: the same transaction, signed by its sender, reaches the checker once in
    CheckTx; FinalizeBlock finds the program and the signature in their caches."""
    source = big_script("member")
    raw = chain.sign("uni-pub", [deploy("big", source)])
    assert chain.check(raw).code == 0
    assert checker_calls == [source]
    assert len(chain.app.signatures) == 1
    assert chain.block([raw]).tx_results[0].code == 0


def test_a_member_tx_failing_its_stateless_check_consumes_no_nonce(
    chain: Driver, checker_calls: list[str]
) -> None:
    source = "def authorize(ctx):\n    return ("
    bad = chain.sign("uni-pub", [deploy("big", source)], nonce=0)
    for result in (chain.check(bad), chain.block([bad], check_proposal=False).tx_results[0]):
        assert (result.codespace, result.code) == (
            license_errors.INVALID_SCRIPT.codespace,
            license_errors.INVALID_SCRIPT.code,
        )
    assert checker_calls == [source, source]  # the sender authenticated both times
    assert len(chain.app.signatures) == 0
    assert chain.committed_nonce("uni-pub") == 0
    good = chain.sign("uni-pub", [deploy("ok", "def authorize(ctx):\n    return allow(fee=0)\n")])
    assert chain.check(good).code == 0  # the mempool's nonce did not move either
