"""``modelgov node``: what one node, or every node of a local testnet, says about itself."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

from chain import testnet as net
from chain.cli.options import reads
from chain.cli.output import OUTPUT_CHOICE, emit, lines, table, tx_report
from chain.cli.root import cli, query
from chain.client import Node
from chain.ops.status import MAX_BLOCK_AGE_S, NodeReport, node_report
from chain.rpc import DEFAULT_NODE, NODE_ENV, default_node

EXIT_UNREACHABLE, EXIT_STALLED = 3, 5
COLUMNS = [
    "name",
    "height",
    "app_hash",
    "catching_up",
    "peers",
    "validators",
    "voting_power",
    "app_version",
    "block_age_s",
    "rpc",
    "problem",
]


@cli.group()
def node() -> None:
    """Inspect running nodes."""


@node.command("status")
@click.option(
    "--node",
    "url",
    default=default_node,
    show_default=f"${NODE_ENV} or {DEFAULT_NODE}",
    help="RPC address of a node",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="a testnet's directory: report every node of it instead of --node",
)
@click.option(
    "--max-age",
    default=MAX_BLOCK_AGE_S,
    show_default=True,
    type=click.IntRange(1),
    help="seconds without a new block after which a node counts as stalled",
)
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text", show_default=True)
def status(url: str, directory: Path | None, max_age: int, output: str) -> None:
    """Height, app hash, catching-up, peers, validators, app version and the age of the
    newest block of a node, and what is wrong with it.

    Exits 3 when a node does not answer (with --dir: when any does not), 5 when one answers but
    has had no new block for --max-age seconds (or has none yet, or is catching up).
    """
    if directory is None:
        reports = [node_report(url, max_age=max_age)]
    else:
        nodes = net.Testnet.load(directory).nodes
        reports = [node_report(n.rpc_url, n.name, max_age=max_age) for n in nodes]
    if directory is None:
        emit(output, asdict(reports[0]), lambda d: _one(reports[0]))
    else:
        emit(output, {"nodes": [asdict(r) for r in reports]}, lambda d: table(d["nodes"], COLUMNS))
    if not all(r.reachable for r in reports):
        sys.exit(EXIT_UNREACHABLE)
    if any(r.problem for r in reports):
        sys.exit(EXIT_STALLED)


def _one(report: NodeReport) -> str:
    if not report.reachable:
        return f"{report.rpc}: unreachable: {report.error}"
    shown = {k: v for k, v in asdict(report).items() if k not in ("error", "reachable")}
    verdict = f"\nunhealthy: {report.problem}" if report.problem else "\nhealthy"
    return lines(shown) + verdict


@query.command("tx")
@click.argument("tx_hash", metavar="HASH")
@reads
def tx_(tx_hash: str, client: Node, output: str) -> None:
    """A committed transaction: height, result, the ids its events carry, its decoded body."""
    found = client.committed_tx(tx_hash)
    report = tx_report(found["hash"], found["height"], found["code"], found["events"])
    data = {**report, "codespace": found["codespace"], "log": found["log"], **found["body"]}
    emit(output, data)


@query.command("block")
@click.argument("height", required=False, default=0, type=click.IntRange(0))
@reads
def block(height: int, client: Node, output: str) -> None:
    """A block (the latest without HEIGHT): height, time, proposer, app hash, its txs."""
    emit(output, client.block(height))
