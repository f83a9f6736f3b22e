"""What the CLI turns user input into before anything is signed, and that its vocabularies
(roles, org kinds, purposes, formats, vote options) and default node come from one place each."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from app.attestations.validation import KINDS
from app.members.roles import ALL_ROLES, ORG_KINDS
from app.models.validation import FORMATS
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage.purposes import PURPOSES
from chain.cli.options import parse_metric
from chain.cli.output import record, table
from chain.cli.root import load_tree
from chain.rpc import DEFAULT_NODE, NODE_ENV

cli = load_tree()


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


@pytest.mark.parametrize(
    "text",
    [
        "0.5",
        "x=1e999999",
        "x=-1e999999",
        "x=1e-999999",
        "x=0.1234567890123456789",
        "x=1e19",
        "x=9223372036854775808",
        "x=-9223372036854775809",
        "x=922337203685477580.8",
    ],
)
def test_a_metric_without_a_name_or_past_what_the_chain_holds_is_a_usage_error(
    text: str,
) -> None:
    with pytest.raises(click.BadParameter):
        parse_metric(text)


@pytest.mark.parametrize(
    ("text", "scaled", "scale"),
    [
        ("x=9223372036854775807", 2**63 - 1, 0),
        ("x=-9223372036854775808", -(2**63), 0),
        ("x=0.123456789012345678", 123456789012345678, 18),
        ("x=1e18", 10**18, 0),
    ],
)
def test_metrics_at_the_edges_of_what_the_chain_holds(text: str, scaled: int, scale: int) -> None:
    assert parse_metric(text) == tx_pb2.Metric(name="x", int_value=scaled, scale=scale)


def test_records_render_bytes_as_hex_enums_by_name_and_every_field() -> None:
    version = state_pb2.Version(
        model="a/b", tx_hash=b"\x01\xff", status=tx_pb2.VERSION_STATUS_REVOKED
    )
    data = record(version)
    assert data["tx_hash"] == "01ff"
    assert data["status"] == "revoked"
    assert data["parents"] == [] and data["size_bytes"] == 0


def test_tables_align_and_join_lists() -> None:
    text = table([{"a": "x", "b": ["p", "q"]}, {"a": "longer", "b": []}], ["a", "b"])
    lines = text.splitlines()
    assert lines[0].startswith("A       B")
    assert "p, q" in lines[1]


# --- the CLI's vocabularies are the app's ---------------------------------------------------

CHOICES = [
    (("tx", "gov", "propose", "add-org"), "kind", ORG_KINDS),
    (("license", "simulate"), "org_kind", ORG_KINDS),
    (("tx", "gov", "propose", "set-roles"), "roles", ALL_ROLES),
    (("tx", "use"), "purpose", PURPOSES),
    (("query", "evaluate"), "purpose", PURPOSES),
    (("license", "simulate"), "purpose", PURPOSES),
    (("tx", "attest"), "kind", KINDS),
    (("tx", "model", "publish"), "fmt", FORMATS),
    (("model", "push"), "fmt", FORMATS),
    (("tx", "gov", "vote"), "option", ("yes", "no", "abstain")),
]


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize(("path", "name", "expected"), CHOICES, ids=lambda x: str(x))
def test_choices_are_the_apps_lists(
    path: tuple[str, ...], name: str, expected: tuple[str, ...]
) -> None:
    param = next(p for p in command_at(path).params if p.name == name)
    assert isinstance(param.type, click.Choice)
    assert sorted(param.type.choices) == sorted(expected)


def node_commands(group: click.Group = cli) -> list[click.Command]:
    found: list[click.Command] = []
    for command in group.commands.values():
        if isinstance(command, click.Group):
            found.extend(node_commands(command))
        elif any(p.name in ("node", "url") and "--node" in p.opts for p in command.params):
            found.append(command)
    return found


@pytest.mark.parametrize("env", [{}, {NODE_ENV: "http://10.0.0.7:1234"}], ids=["unset", "set"])
def test_every_node_option_defaults_to_the_one_default(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(NODE_ENV, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    commands = node_commands()
    assert len(commands) > 40
    for command in commands:
        param = next(p for p in command.params if "--node" in p.opts)
        default = param.get_default(click.Context(command), call=True)
        assert default == env.get(NODE_ENV, DEFAULT_NODE), command.name


def test_an_unknown_role_in_an_account_spec_is_a_usage_error() -> None:
    key = "02" + "11" * 32
    result = CliRunner().invoke(
        cli,
        [
            *("tx", "gov", "propose", "add-account", "acme", f"bob:{key}:owner", "--title", "t"),
            *("--from", "x", "--node", "http://127.0.0.1:9"),
        ],
    )
    assert result.exit_code == 2 and "admin" in result.output


PROPOSE = ("tx", "gov", "propose")
OFFLINE = ("--title", "t", "--from", "x", "--node", "http://127.0.0.1:9")


@pytest.mark.parametrize(
    "args",
    [
        ("set-params", "no_such_param=5"),
        ("set-params", "voting_period_blocks=4"),
        ("set-params", "voting_period_blocks=" + "9" * 5000),
        ("set-params", "voting_period_blocks=\u0665"),
        ("set-params", "voting_period_blocks=-5"),
        ("add-org", "--id", "z", "--name", "Z", "--kind", "academic", "--attr", "n=" + "9" * 5000),
        ("add-org", "--id", "z", "--name", "Z", "--kind", "academic", "--attr", "n=-9" + "0" * 19),
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_proposals_the_chain_would_refuse_are_usage_errors(args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*PROPOSE, *args, *OFFLINE])
    assert result.exit_code == 2, (result.output, result.exception)
