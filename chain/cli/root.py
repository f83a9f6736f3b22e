"""The root of the command tree: ``modelgov`` and its ``tx`` and ``query`` groups.

Each command group's module adds its commands here: its own top-level group under ``cli``, its
transactions under ``tx``, its reads under ``query`` (chain/cli/__init__.py maps every command
to its module). Nothing else lives here, so any module can import it without a cycle.
"""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelgov")
def cli() -> None:
    """modelgov: a consortium's model registry on a CometBFT chain."""


@cli.group()
def tx() -> None:
    """Send transactions (each waits for its block and prints height and hash)."""


@cli.group()
def query() -> None:
    """Read committed state (records are protobuf-decoded; JSON output is stable).

    List commands follow the chain's pages to the end of the list, up to --limit items; when
    more remain they say so and name the --after cursor that lists the rest.
    """
