"""``modelgov watch ORG/NAME``: new versions, license changes, status changes (revocations),
transfers and sales of one model, one line (or one JSON object) each, as blocks commit."""

from __future__ import annotations

import json

import click

from chain.cli.options import node_option
from chain.cli.output import OUTPUT_CHOICE
from chain.cli.root import cli
from chain.rpc import RpcError
from chain.watch import Change, WatchError, subscriptions, watch


@cli.command("watch")
@click.argument("model", metavar="ORG/NAME")
@click.option("--count", default=0, type=click.IntRange(0), help="stop after N changes (0: never)")
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text", show_default=True)
@click.option(
    "--reconnect-for",
    default=300,
    show_default=True,
    type=click.IntRange(0),
    help="when the node goes away (a restart), connect again for up to N seconds and print "
    "what committed meanwhile (0: exit)",
)
@node_option
def watch_model(model: str, count: int, output: str, reconnect_for: int, node: str) -> None:
    """Stream what happens to a model as it commits (the engine's event subscription): a team
    can start its evaluation when a new version appears. One JSON object a line with -o json."""
    try:
        subscriptions(model)
    except WatchError as exc:
        raise click.BadParameter(str(exc), param_hint="ORG/NAME") from None

    def report(change: Change) -> None:
        text = json.dumps(change.to_json(), sort_keys=True) if output == "json" else change.line()
        click.echo(text)

    def subscribed() -> None:
        click.echo(f"watching {model} at {node}", err=True)

    def say(text: str) -> None:
        click.echo(f"watch: {text}", err=True)

    try:
        watch(node, model, report, count, ready=subscribed, reconnect=reconnect_for, say=say)
    except WatchError as exc:
        raise RpcError(f"watch {model}: {exc}") from None
