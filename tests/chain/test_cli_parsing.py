"""What the CLI turns user input into before anything is signed."""

from __future__ import annotations

import click
import pytest

from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain.cli.output import record, table
from chain.cli.tx import parse_metric


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accuracy=0.913", tx_pb2.Metric(name="accuracy", int_value=913, scale=3)),
        ("loss=-1.50", tx_pb2.Metric(name="loss", int_value=-150, scale=2)),
        ("params=7", tx_pb2.Metric(name="params", int_value=7, scale=0)),
        ("bleu=1e2", tx_pb2.Metric(name="bleu", int_value=100, scale=0)),
        ("notes=good", tx_pb2.Metric(name="notes", text_value="good")),
        ("x=nan", tx_pb2.Metric(name="x", text_value="nan")),
    ],
)
def test_metrics_become_scaled_integers_or_text(text: str, expected: tx_pb2.Metric) -> None:
    assert parse_metric(text) == expected


def test_a_metric_without_a_name_is_a_usage_error() -> None:
    with pytest.raises(click.BadParameter):
        parse_metric("0.5")


def test_records_render_bytes_as_hex_enums_by_name_and_every_field() -> None:
    version = state_pb2.Version(
        model="a/b", tx_hash=b"\x01\xff", status=tx_pb2.VERSION_STATUS_REVOKED
    )
    data = record(version)
    assert data["tx_hash"] == "01ff"
    assert data["status"] == "VERSION_STATUS_REVOKED"
    assert data["parents"] == [] and data["size_bytes"] == 0


def test_tables_align_and_join_lists() -> None:
    text = table([{"a": "x", "b": ["p", "q"]}, {"a": "longer", "b": []}], ["a", "b"])
    lines = text.splitlines()
    assert lines[0].startswith("A       B")
    assert "p, q" in lines[1]
