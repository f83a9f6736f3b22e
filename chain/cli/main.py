"""``modelgov``: the command tree, one error handler, exit codes that mean something.

Exit codes: 0 success; 1 the chain refused (a rejected tx, a failed query); 2 bad usage;
3 the node could not be reached; 4 a local problem (keys, files, engine, testnet).
"""

from __future__ import annotations

import sys

import click

from app.core.genesis import GenesisError

# Each command group's module adds its commands to the tree when imported (chain/cli/__init__.py
# maps them); genesis and testnet define free-standing groups, added here.
from chain.cli import (
    attest,
    config,
    credits,
    fl,
    gov,
    keys,
    license,
    model,
    node,
    usage,
    weights,
)
from chain.cli.genesis import genesis
from chain.cli.root import cli
from chain.cli.testnet import testnet
from chain.client import ClientError
from chain.config import ConfigError
from chain.engine.install import EngineError
from chain.keys import KeyringError
from chain.rpc import RpcError
from chain.testnet import TestnetError
from chain.weights.client import TransferError
from chain.weights.digest import WeightsError

__all__ = ["cli", "main"]

EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_LOCAL = 1, 3, 4
GROUP_MODULES = (attest, config, credits, fl, gov, keys, license, model, node, usage, weights)
"""The modules whose import builds the tree (named so the import is visibly used)."""

cli.add_command(genesis)
cli.add_command(testnet)


def main() -> None:
    """Entry point: run the CLI and turn library errors into messages and exit codes."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_LOCAL)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TransferError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_REFUSED)
    except ClientError as exc:
        where = f" [{exc.codespace}/{exc.code}]" if exc.code else ""
        click.echo(f"error{where}: {exc}", err=True)
        sys.exit(EXIT_REFUSED)
    except RpcError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    except (
        KeyringError,
        GenesisError,
        EngineError,
        TestnetError,
        WeightsError,
        ConfigError,
        OSError,
    ) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_LOCAL)


if __name__ == "__main__":
    main()
