"""The root of the command tree: ``modelgov`` and its ``tx`` and ``query`` groups.

Each command group's module adds its commands here: its own top-level group under ``cli``, its
transactions under ``tx``, its reads under ``query`` (chain/cli/__init__.py's TABLE maps every
command to its module). These three groups import a command's module when the command is first
asked for, so a query or a transaction loads one command module, not all of them (a start
within twice a bare Python's, benchmarks/cli_start.py). Nothing else lives here, so any module
can import it without a cycle.
"""

from __future__ import annotations

import importlib

import click

from chain.cli import children, owner


class TreeGroup(click.Group):
    """A group whose commands are added by the modules the table names for them, imported on
    first need: naming a command imports its module; listing them (``--help``) imports every
    module with a command here. A module that defines a free-standing group (genesis, testnet)
    has it added under its own name."""

    def __init__(self, *args: object, tree_path: tuple[str, ...] = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.tree_path = tree_path

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._load(cmd_name, owner((*self.tree_path, cmd_name)))
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name, module in children(self.tree_path):
            if name not in self.commands:
                self._load(name, module)
        return super().list_commands(ctx)

    def _load(self, name: str, module: str | None) -> None:
        if module is None:
            return
        loaded = importlib.import_module(f"chain.cli.{module}")
        command = getattr(loaded, name, None)
        if name not in self.commands and isinstance(command, click.Command):
            self.add_command(command, name)


@click.group(
    cls=TreeGroup,
    tree_path=(),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="modelgov")
def cli() -> None:
    """modelgov: a consortium's model registry on a CometBFT chain."""


@cli.group(cls=TreeGroup, tree_path=("tx",))
def tx() -> None:
    """Send transactions (each waits for its block and prints height and hash)."""


@cli.group(cls=TreeGroup, tree_path=("query",))
def query() -> None:
    """Read committed state (records are protobuf-decoded; JSON output is stable).

    List commands follow the chain's pages to the end of the list, up to --limit items; when
    more remain they say so and name the --after cursor that lists the rest.
    """


def load_tree() -> click.Group:
    """The root with every command module imported (what the root's ``--help`` loads), for
    tools and tests that walk ``commands``."""
    context = click.Context(cli)
    for group in (cli, tx, query):
        group.list_commands(context)
    return cli
