"""Message builders and a fixture of the federated tests."""

from __future__ import annotations

from typing import Any

from driver import Driver, digest, publish, register

from app.pb.modelgov.v1 import federated_pb2, tx_pb2

MODEL = "uni/base"
ORGS = ("acme", "openml", "uni")
PUBLISHERS = {"acme": "acme-pub", "openml": "openml-pub", "uni": "uni-pub"}


def open_round(**overrides: Any) -> tx_pb2.Msg:
    fields: dict[str, Any] = {
        "base_model": MODEL,
        "base_version": "1.0",
        "target_model": MODEL,
        "target_version": "2.0",
        "invited_orgs": list(ORGS),
        "min_participants": 2,
        "deadline_height": 100,
    }
    fields.update(overrides)
    return tx_pb2.Msg(open_round=tx_pb2.OpenRound(**fields))


def submit(
    round_id: int = 1, org: str = "acme", samples: int = 300, **overrides: Any
) -> tx_pb2.Msg:
    fields: dict[str, Any] = {
        "round_id": round_id,
        "update_digest": digest(f"update-{org}-{round_id}"),
        "size_bytes": 4096,
        "sample_count": samples,
        "metrics": [tx_pb2.Metric(name="val_loss", int_value=1234, scale=4)],
    }
    fields.update(overrides)
    return tx_pb2.Msg(submit_update=tx_pb2.SubmitUpdate(**fields))


def finalize(round_id: int = 1, included: tuple[str, ...] = ORGS, **overrides: Any) -> tx_pb2.Msg:
    fields: dict[str, Any] = {
        "round_id": round_id,
        "aggregate_digest": digest(f"aggregate-{round_id}"),
        "size_bytes": 4096,
        "included": list(included),
    }
    fields.update(overrides)
    return tx_pb2.Msg(finalize_round=tx_pb2.FinalizeRound(**fields))


def base_published(driver: Driver) -> None:
    """uni registers uni/base and publishes 1.0, the base of the rounds."""
    driver.ok("uni-pub", register("uni", "base"), publish(MODEL, "1.0"))


def round_record(driver: Driver, round_id: int = 1) -> federated_pb2.Round:
    answer = driver.query("/federated/round", {"id": round_id})
    assert answer.code == 0, answer.log
    return federated_pb2.Round.FromString(answer.value)
