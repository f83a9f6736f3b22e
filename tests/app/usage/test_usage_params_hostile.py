"""A deployed license larger than a later, lowered ``max_license_source_bytes``.

A vote may lower the limit below the size of a license already deployed and attached. Using
that license afterwards must still answer: the license runs, or the use is refused with a
registered code; FinalizeBlock (and the dry-run query) must not raise.

The decision path (app/usage/decision.py, the interpreter's owner's) recompiles the stored
source under today's limits, and the checker refuses the size with a ScriptError that nothing
catches: these tests are expected to fail until that is fixed, and fail loudly (strict) once
it is, so that the marks are removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, publish, register, started

from app.core.errors import registered
from app.core.valuemap import from_data
from app.members.params import RANGES
from app.pb.modelgov.v1 import state_pb2, tx_pb2

MODEL = "uni/base"
LOWEST = RANGES["max_license_source_bytes"].low
CODES = {(e.codespace, e.code) for e in registered()}
BIG = (
    "def authorize(ctx):\n"
    + "".join(f"    # clause {i}: {'x' * 60}\n" for i in range(LOWEST // 70 + 10))
    + '    return allow(fee=2, note="big")\n'
)


def msg(**kind: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(**kind)


def use() -> tx_pb2.Msg:
    return msg(
        use=tx_pb2.Use(model=MODEL, version="1.0", purpose="inference", quantity=1, max_fee=10)
    )


@pytest.fixture
def lowered(tmp_path: Path) -> Iterator[Driver]:
    """uni/base@1.0 under a license of more than LOWEST bytes; then the limit is lowered."""
    assert LOWEST < len(BIG.encode()) < 16_384
    driver = started(tmp_path)
    deploy = tx_pb2.DeployLicense(name="big", source=BIG, params=from_data({}))
    attach = tx_pb2.AttachLicense(model=MODEL, version="1.0", license="uni/big")
    driver.ok("uni-pub", register("uni", "base"), publish(MODEL, "1.0"))
    driver.ok("uni-pub", msg(deploy_license=deploy), msg(attach_license=attach))
    driver.ok("acme-user", use())
    change = tx_pb2.ParamChange(name="max_license_source_bytes", value=LOWEST)
    action = tx_pb2.ProposalAction(set_params=tx_pb2.SetParams(changes=[change]))
    driver.ok("uni-admin", msg(submit_proposal=tx_pb2.SubmitProposal(action=action, title="t")))
    yes = tx_pb2.CastVote(proposal_id=1, option=tx_pb2.VOTE_OPTION_YES)
    driver.ok("uni-admin", msg(cast_vote=yes))
    driver.ok("acme-admin", msg(cast_vote=yes))
    params = state_pb2.Params.FromString(driver.query("/members/params").value)
    assert params.max_license_source_bytes == LOWEST
    yield driver
    driver.close()


def test_a_use_of_a_license_above_the_lowered_limit_answers(lowered: Driver) -> None:
    result = lowered.run("acme-user", use())
    assert result.code == 0 or (result.codespace, result.code) in CODES, result.log


def test_a_dry_run_of_a_license_above_the_lowered_limit_answers(lowered: Driver) -> None:
    answer = lowered.query(
        "/licenses/evaluate",
        {
            "address": lowered["acme-user"].address,
            "model": MODEL,
            "version": "1.0",
            "purpose": "inference",
            "quantity": 1,
            "height": lowered.height + 1,
            "time": lowered.time,
        },
    )
    assert answer.code == 0 or (answer.codespace, answer.code) in CODES, answer.log
