"""Parameters at their extremes, by kind: every range is enforced in genesis and in a
``set_params`` proposal, and a vote that moves any parameter to either end of its range leaves
what exists (deployed licenses, published versions, attachments, an open round, open
proposals) working, or refused with a registered code. FinalizeBlock never raises: the driver
would fail the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import (
    Driver,
    app_state,
    default_accounts,
    digest,
    publish,
    register,
    set_status,
    started,
)

from app.core.errors import registered
from app.core.valuemap import from_data
from app.machine import parse_genesis as parse_consortium
from app.members import errors
from app.members.genesis import GenesisError
from app.members.keeper import DEFAULT_PARAMS
from app.members.params import PARAM_FIELDS, RANGES
from app.members.validation import MAX_TEXT, validate_submit
from app.pb.modelgov.v1 import state_pb2, tx_pb2

TEMPLATES = Path(__file__).resolve().parents[3] / "genesis" / "licenses"
MODEL = "uni/base"
YES = tx_pb2.VOTE_OPTION_YES
CODES = {(e.codespace, e.code) for e in registered()}
HEAVY = """
def authorize(ctx):
    total = 0
    for i in range(4000):
        total += i
    return allow(fee=0, note="heavy")
"""
MEMORY = """
def authorize(ctx):
    parts = []
    for i in range(15):
        parts = [range(8000)] + parts
    return allow(fee=0, note="memory")
"""
SMALL = 'def authorize(ctx):\n    return allow(fee=1, note="small")\n'
U32 = 2**32 - 1
U64 = 2**64 - 1


def field_max(name: str) -> int:
    field = state_pb2.Params.DESCRIPTOR.fields_by_name[name]
    return U32 if field.type == field.TYPE_UINT32 else U64


# --- the table itself -----------------------------------------------------------------------


def test_every_parameter_has_a_range_inside_its_field_holding_the_default() -> None:
    assert sorted(RANGES) == sorted(PARAM_FIELDS)
    for name, bounds in RANGES.items():
        assert 1 <= bounds.low <= getattr(DEFAULT_PARAMS, name) <= bounds.high <= field_max(name)
    assert RANGES["voting_period_blocks"].high + 2**63 < U64  # any height + period fits


def set_params(**values: int) -> tx_pb2.ProposalAction:
    changes = [tx_pb2.ParamChange(name=k, value=v) for k, v in sorted(values.items())]
    return tx_pb2.ProposalAction(set_params=tx_pb2.SetParams(changes=changes))


def propose(action: tx_pb2.ProposalAction, title: str = "params") -> tx_pb2.SubmitProposal:
    return tx_pb2.SubmitProposal(action=action, title=title)


EDGES = [
    pytest.param(name, value, ok, id=f"{name}-{label}")
    for name, bounds in sorted(RANGES.items())
    for label, value, ok in (
        ("zero", 0, False),
        ("below", bounds.low - 1, False),
        ("low", bounds.low, True),
        ("high", bounds.high, True),
        ("above", bounds.high + 1, False),
        ("field-max", field_max(name), False),
    )
    if value >= 0 and (value > 0 or label == "zero")
]


@pytest.mark.parametrize(("name", "value", "ok"), EDGES)
def test_a_proposal_is_checked_against_the_range(name: str, value: int, ok: bool) -> None:
    msg = propose(set_params(**{name: value}))
    if ok:
        validate_submit(msg, DEFAULT_PARAMS)
    else:
        with pytest.raises(Exception) as caught:
            validate_submit(msg, DEFAULT_PARAMS)
        assert getattr(caught.value, "error", None) == errors.INVALID_PARAMS


@pytest.mark.parametrize(("name", "value", "ok"), EDGES)
def test_genesis_is_checked_against_the_range(name: str, value: int, ok: bool) -> None:
    state = consortium({name: value})
    if ok:
        assert getattr(parse_consortium(state).params, name) == value
    else:
        with pytest.raises(GenesisError) as caught:
            parse_consortium(state)
        assert caught.value.field == f"params.{name}"


def consortium(params: dict[str, int]) -> dict[str, Any]:
    return app_state(default_accounts().values(), params)


def test_at_the_smallest_max_tx_bytes_the_largest_parameter_vote_still_fits(
    tmp_path: Path,
) -> None:
    driver = started(tmp_path)
    try:
        values = {name: bounds.high for name, bounds in RANGES.items()}
        msg = propose(set_params(**values), "t" * 256)
        msg.description = "d" * MAX_TEXT
        raw = driver.sign("uni-admin", [tx_pb2.Msg(submit_proposal=msg)], nonce=U64)
        assert len(raw) <= RANGES["max_tx_bytes"].low
    finally:
        driver.close()


# --- a chain with state, then each parameter moved to each end ------------------------------


def msg(**kind: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(**kind)


def deploy(name: str, source: str, **params: Any) -> tx_pb2.Msg:
    return msg(
        deploy_license=tx_pb2.DeployLicense(name=name, source=source, params=from_data(params))
    )


def attach(version: str, license_id: str) -> tx_pb2.Msg:
    return msg(
        attach_license=tx_pb2.AttachLicense(model=MODEL, version=version, license=license_id)
    )


def use(version: str) -> tx_pb2.Msg:
    return msg(
        use=tx_pb2.Use(model=MODEL, version=version, purpose="inference", quantity=2, max_fee=10**6)
    )


def vote(proposal_id: int) -> tx_pb2.Msg:
    return msg(cast_vote=tx_pb2.CastVote(proposal_id=proposal_id, option=YES))


def metrics(n: int) -> list[tx_pb2.Metric]:
    return [tx_pb2.Metric(name=f"m{i}", int_value=i, scale=2) for i in range(n)]


def update(org: str) -> tx_pb2.Msg:
    return msg(
        submit_update=tx_pb2.SubmitUpdate(
            round_id=1,
            update_digest=digest(f"update-{org}"),
            size_bytes=4096,
            sample_count=100,
            metrics=metrics(2),
        )
    )


def validator_action(power: int) -> tx_pb2.ProposalAction:
    return tx_pb2.ProposalAction(
        set_validator=tx_pb2.SetValidator(pubkey=bytes(range(32)), power=power)
    )


def build(driver: Driver) -> None:
    """Versions with lists at the default limits, licenses of every weight attached, an open
    round with one update, and two open proposals (ids 1 and 2)."""
    rich = {
        "parents": [f"{MODEL}@1.0"],
        "metrics": metrics(3),
        "dataset_digests": [digest("d1"), digest("d2")],
        "storage_uris": ["https://a.example/w", "https://b.example/w"],
    }
    driver.ok("uni-pub", register("uni", "base", "d" * 1000), publish(MODEL, "1.0"))
    driver.ok("uni-pub", *[publish(MODEL, v, **rich) for v in ("1.1", "1.2", "1.3")])
    ppu = (TEMPLATES / "pay-per-use.lic").read_text()
    driver.ok("uni-pub", deploy("ppu", ppu, tiers=[[None, 3]]), attach("1.0", "uni/ppu"))
    driver.ok("uni-pub", attach("1.1", "uni/ppu"), deploy("heavy", HEAVY), deploy("mem", MEMORY))
    driver.ok("uni-pub", attach("1.2", "uni/heavy"), attach("1.3", "uni/mem"))
    round_ = tx_pb2.OpenRound(
        base_model=MODEL,
        base_version="1.0",
        target_model=MODEL,
        target_version="2.0",
        invited_orgs=["acme", "openml", "uni"],
        min_participants=2,
        deadline_height=driver.height + 1_000,
    )
    driver.ok("uni-pub", msg(open_round=round_))
    driver.ok("acme-pub", update("acme"))
    driver.ok("uni-admin", msg(submit_proposal=propose(validator_action(3))), vote(1))
    driver.ok("acme-admin", msg(submit_proposal=propose(validator_action(4))))


def change(driver: Driver, name: str, value: int) -> None:
    """Pass ``set_params`` with uni's and acme's votes (proposal 3)."""
    driver.ok("uni-admin", msg(submit_proposal=propose(set_params(**{name: value}))))
    driver.ok("uni-admin", vote(3))
    driver.ok("acme-admin", vote(3))
    decided = state_pb2.Proposal.FromString(driver.query("/members/proposal", {"id": 3}).value)
    assert decided.status == state_pb2.PROPOSAL_STATUS_PASSED, decided.result
    params = state_pb2.Params.FromString(driver.query("/members/params").value)
    assert getattr(params, name) == value


def exercise(driver: Driver) -> dict[str, tuple[str, int]]:
    """Every kind of message against what ``build`` left, one message per transaction (the
    smallest max_messages_per_tx): the (codespace, code) of each."""
    steps: list[tuple[str, str, tx_pb2.Msg]] = [
        ("use-ppu", "acme-user", use("1.0")),
        ("use-ppu-rich", "acme-user", use("1.1")),
        ("use-heavy", "acme-user", use("1.2")),
        ("use-memory", "acme-user", use("1.3")),
        ("reattach", "uni-pub", attach("1.2", "uni/ppu")),
        ("use-reattached", "acme-user", use("1.2")),
        (
            "publish-rich",
            "uni-pub",
            publish(MODEL, "1.4", parents=[f"{MODEL}@1.1"], metrics=metrics(2)),
        ),
        ("publish-plain", "uni-pub", publish(MODEL, "1.5")),
        (
            "deprecate",
            "uni-pub",
            set_status(MODEL, "1.0", tx_pb2.VERSION_STATUS_DEPRECATED, "r" * 300),
        ),
        ("deprecate-short", "uni-pub", set_status(MODEL, "1.1", tx_pb2.VERSION_STATUS_DEPRECATED)),
        (
            "attest",
            "openml-audit",
            msg(
                attest=tx_pb2.Attest(
                    model=MODEL, version="1.1", kind="evaluation", metrics=metrics(2)
                )
            ),
        ),
        ("submit-update", "openml-pub", update("openml")),
        (
            "finalize",
            "uni-pub",
            msg(
                finalize_round=tx_pb2.FinalizeRound(
                    round_id=1,
                    aggregate_digest=digest("agg"),
                    size_bytes=4096,
                    included=["acme", "openml"],
                )
            ),
        ),
        ("attach-aggregate", "uni-pub", attach("2.0", "uni/ppu")),
        ("use-aggregate", "acme-user", use("2.0")),
        ("vote-open-1", "acme-admin", vote(1)),
        ("vote-open-2", "uni-admin", vote(2)),
        ("propose", "uni-admin", msg(submit_proposal=propose(validator_action(5)))),
        ("deploy-small", "uni-pub", deploy("small", SMALL)),
        (
            "transfer",
            "acme-admin",
            msg(transfer_credits=tx_pb2.TransferCredits(to_org="uni", amount=5)),
        ),
    ]
    results = {}
    for name, sender, step in steps:
        result = driver.run(sender, step)
        driver[sender].nonce = driver.committed_nonce(sender)  # a stateless refusal used none
        results[name] = (result.codespace, result.code)
        assert result.code == 0 or results[name] in CODES, (name, result.log)
    for _ in range(6):  # past the smallest voting period: open proposals are decided
        driver.block([])
    return results


def queries(driver: Driver) -> None:
    """The read side of the same state: every answer is a value or a registered code."""
    for path, params in (
        ("/members/proposals", {}),
        ("/usage/receipts", {}),
        ("/federated/round", {"id": 1}),
        ("/models/versions", {"model": MODEL}),
        (
            "/licenses/evaluate",
            {
                "address": driver["acme-user"].address,
                "model": MODEL,
                "version": "1.0",
                "purpose": "inference",
                "quantity": 1,
                "height": driver.height + 1,
                "time": driver.time,
            },
        ),
    ):
        answer = driver.query(path, params)
        assert answer.code == 0 or (answer.codespace, answer.code) in CODES, (path, answer.log)


# Results that must hold whatever the parameter: existing licenses and proposals keep working.
ALWAYS_OK: tuple[str, ...] = (
    "use-ppu",
    "use-ppu-rich",
    "reattach",
    "use-reattached",
    "publish-plain",
    "deprecate-short",
    "vote-open-1",
    "vote-open-2",
    "transfer",
)


@pytest.fixture
def built(tmp_path: Path) -> Iterator[Driver]:
    driver = started(tmp_path)
    build(driver)
    yield driver
    driver.close()


ENDS = [
    pytest.param(name, value, id=f"{name}-{label}")
    for name, bounds in sorted(RANGES.items())
    for label, value in (("low", bounds.low), ("high", bounds.high))
]


@pytest.mark.parametrize(("name", "value"), ENDS)
def test_a_parameter_at_either_end_leaves_existing_state_working(
    built: Driver, name: str, value: int
) -> None:
    change(built, name, value)
    results = exercise(built)
    for step in ALWAYS_OK:
        assert results[step] == ("", 0), (step, results[step])
    queries(built)


def test_the_lowered_limits_refuse_new_messages_with_registered_codes(built: Driver) -> None:
    for name, bounds in sorted(RANGES.items()):
        if name not in ("max_messages_per_tx", "vote_quorum_percent", "vote_threshold_percent"):
            change_any(built, name, bounds.low)
    results = exercise(built)
    assert results["publish-rich"][0] == "models"  # too many metrics for the lowered limit
    assert results["deprecate"][0] == "models"  # a reason longer than the lowered limit
    assert results["attest"][0] == "attestations"
    assert results["submit-update"][0] == "attestations"
    assert results["use-heavy"] == ("usage", 5)  # out of gas under the lowered gas limit
    assert results["use-memory"] in (("usage", 5), ("usage", 6))
    queries(built)


def change_any(driver: Driver, name: str, value: int) -> None:
    """Pass ``set_params`` whatever the next proposal id."""
    answer = state_pb2.Page.FromString(driver.query("/members/proposals", {"limit": 100}).value)
    proposal_id = len(answer.items) + 1
    driver.ok("uni-admin", msg(submit_proposal=propose(set_params(**{name: value}))))
    driver.ok("uni-admin", vote(proposal_id))
    driver.ok("acme-admin", vote(proposal_id))
    params = state_pb2.Params.FromString(driver.query("/members/params").value)
    assert getattr(params, name) == value


@pytest.mark.parametrize("end", ["low", "high"])
def test_a_chain_born_with_every_parameter_at_one_end_runs(tmp_path: Path, end: str) -> None:
    params = {name: getattr(bounds, end) for name, bounds in RANGES.items()}
    driver = started(tmp_path, params=params)
    try:
        driver.ok("uni-pub", register("uni", "base"))
        driver.ok("uni-pub", publish(MODEL, "1.0"))
        driver.ok("uni-pub", deploy("small", SMALL))
        driver.ok("uni-pub", attach("1.0", "uni/small"))
        driver.ok("acme-user", use("1.0"))
        driver.ok("uni-admin", msg(submit_proposal=propose(validator_action(3))))
        driver.ok("uni-admin", vote(1))  # at a 1% quorum and threshold, this one decides
        second = driver.run("acme-admin", vote(1))
        assert second.code == 0 or second.code == errors.VOTING_CLOSED.code, second.log
        for _ in range(6):
            driver.block([])
        decided = state_pb2.Proposal.FromString(driver.query("/members/proposal", {"id": 1}).value)
        # openml has no admin: at a 100% quorum the vote waits for it, for 10_000_000 blocks
        expected = "PASSED" if end == "low" else "VOTING"
        assert state_pb2.ProposalStatus.Name(decided.status).endswith(expected), decided.result
    finally:
        driver.close()
