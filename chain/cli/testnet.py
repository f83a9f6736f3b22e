"""``modelgov testnet``: a local multi-validator network on loopback."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from chain import testnet as net
from chain.cli.output import OUTPUT_CHOICE, emit, table

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
@click.option("--timeout", default=60.0, show_default=True, help="seconds to wait for blocks")
def start(directory: Path, timeout: float) -> None:
    """Start every process that is not running (app, then engine, then weights server), leave
    running ones alone, and wait until every node has caught up with a new block."""
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
def stop(directory: Path) -> None:
    """Stop every process of the testnet (engines first, then apps)."""
    count = net.stop(directory)
    click.echo(f"stopped {count} processes")


@testnet.command("status")
@DIR
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def status(directory: Path, output: str) -> None:
    """Height, app hash, peers of every node."""
    rows = [asdict(s) for s in net.status(directory)]
    columns = ["name", "processes", "height", "app_hash", "peers", "catching_up", "rpc"]
    emit(output, {"nodes": rows}, lambda d: table(d["nodes"], columns))


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
