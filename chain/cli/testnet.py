"""``modelgov testnet``: a local multi-validator network on loopback."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

from chain import testnet as net
from chain.cli.output import OUTPUT_CHOICE, emit, table
from chain.ops.status import MAX_BLOCK_AGE_S

DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("testnet"),
    show_default=True,
    help="the testnet's directory",
)


@click.group()
def testnet() -> None:
    """Create, start, stop and inspect a local testnet."""


@testnet.command("init")
@click.option("--validators", "-n", default=4, show_default=True, type=click.IntRange(1, 50))
@DIR
@click.option(
    "--consortium",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=net.DEFAULT_CONSORTIUM,
    show_default=True,
    help="consortium TOML file, or a genesis.json (an export's) to take the sections of",
)
@click.option("--chain-id", default="", help="defaults to the consortium file's chain_id")
@click.option("--base-port", default=net.DEFAULT_BASE_PORT, show_default=True, type=int)
@click.option("--timeout-commit", default="1s", show_default=True, help="engine block pause")
@click.option("--force", is_flag=True, help="replace an existing testnet in --dir")
@click.option(
    "--docker",
    is_flag=True,
    help="also write DIR/docker-compose.yml (host network) and docker-compose.bridge.yml",
)
def init(
    validators: int,
    directory: Path,
    consortium: Path,
    chain_id: str,
    base_port: int,
    timeout_commit: str,
    force: bool,
    docker: bool,
) -> None:
    """Write N node homes, account keys, a shared genesis and the monitoring files."""
    made = net.init(
        directory,
        validators,
        consortium_file=consortium,
        chain_id=chain_id,
        base_port=base_port,
        timeout_commit=timeout_commit,
        force=force,
        docker=docker,
    )
    click.echo(f"testnet {made.chain_id} with {len(made.nodes)} validators in {made.directory}")
    rows = [{"node": n.name, **asdict(n.ports)} for n in made.nodes]
    click.echo(table(rows, ["node", "rpc", "p2p", "abci", "engine_metrics", "app_metrics"]))
    click.echo(f"account keys: {made.keyring.directory}  (use --keyring with tx commands)")
    click.echo(f"Prometheus and Grafana files: {Path(made.directory) / 'monitoring'}")
    if docker:
        click.echo(f"docker compose: {Path(made.directory) / 'docker-compose.yml'} (host network),")
        click.echo(f"                {Path(made.directory) / 'docker-compose.bridge.yml'} (bridge)")


@testnet.command("start")
@DIR
@click.option("--node", "node_name", default="", help="start only this node (e.g. node2)")
@click.option("--timeout", default=60.0, show_default=True, help="seconds to wait for blocks")
def start(directory: Path, node_name: str, timeout: float) -> None:
    """Start every process that is not running (app, then engine, then weights server), leave
    running ones alone, and wait until every node has caught up with a new block. With
    --node, only that node's processes, and wait until it has caught up."""
    if node_name:
        node = net.find_node(directory, node_name)
        pids = net.start_node(directory, node)
        testnet = net.Testnet.load(directory)
        top = max(net.status(directory), key=lambda s: s.height).height
        net.wait_until_producing(
            net.Testnet(testnet.directory, testnet.chain_id, (node,)), timeout, top + 1
        )
        what = f"started {len(pids)} processes" if pids else "already running"
        click.echo(f"  {node.name}: {what}; at height {top + 1} or later: {node.rpc_url}")
        return
    report = net.start(directory, timeout)
    done = report.by_node()
    for node in report.testnet.nodes:
        steps = done.get(node.name)
        what = ", ".join(a.describe() for a in steps) if steps else "already running"
        click.echo(f"  {node.name}: {what}")
    if not done:
        click.echo(f"all {len(report.testnet.nodes)} nodes were already running; nothing started")
    click.echo(f"testnet {report.testnet.chain_id} is producing blocks; logs in <node>/logs/")
    for node in report.testnet.nodes:
        click.echo(f"  {node.name}: {node.rpc_url}")


@testnet.command("stop")
@DIR
@click.option("--node", "node_name", default="", help="stop only this node (e.g. node2)")
def stop(directory: Path, node_name: str) -> None:
    """Stop every process of the testnet (engines first, then apps), or of one --node."""
    if node_name:
        count = net.stop_node(directory, net.find_node(directory, node_name))
        click.echo(f"stopped {count} processes of {node_name}")
        return
    count = net.stop(directory)
    click.echo(f"stopped {count} processes")


EXIT_DOWN, EXIT_STALLED = 3, 5


@testnet.command("status")
@DIR
@click.option(
    "--max-age",
    default=MAX_BLOCK_AGE_S,
    show_default=True,
    type=click.IntRange(1),
    help="seconds without a new block after which a node counts as stalled",
)
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def status(directory: Path, max_age: int, output: str) -> None:
    """Height, app hash, peers and the age of the newest block of every node, and what is
    wrong. Exits 3 when a node's process is down or its RPC does not answer, 5 when blocks
    have stopped (no new block for --max-age seconds), 0 when every node is healthy."""
    found = net.status(directory, max_age)
    rows = [asdict(s) for s in found]
    columns = ["name", "processes", "height", "block_age_s", "peers", "catching_up", "problem"]
    emit(
        output,
        {"nodes": rows, "healthy": not any(s.problem for s in found)},
        lambda d: table(d["nodes"], columns),
    )
    if any(not s.running or s.height < 0 for s in found):
        sys.exit(EXIT_DOWN)
    if any(s.problem for s in found):
        sys.exit(EXIT_STALLED)


@testnet.command("add-node")
@DIR
@click.option("--start/--no-start", default=True, help="start it right away")
def add_node(directory: Path, start: bool) -> None:
    """Add a full node with a fresh validator key; governance can then give it power."""
    node = net.add_node(directory)
    if start:
        net.start_node(directory, node)
    key_file = node.engine_home / "config" / "priv_validator_key.json"
    click.echo(f"{node.name}: {node.rpc_url} ({'started' if start else 'not started'})")
    click.echo("make it a validator by vote:")
    click.echo(
        f"  modelgov tx gov propose set-validator --key-file {key_file} --power 10 "
        f"--title 'add {node.name}' --from ADMIN"
    )
