"""``modelgov``: one click group, one error handler, exit codes that mean something.

Exit codes: 0 success; 1 the chain refused (a rejected tx, a failed query); 2 bad usage;
3 the node could not be reached; 4 a local problem (keys, files, engine, testnet).
"""

from __future__ import annotations

import sys

import click

from app.core.genesis import GenesisError
from chain.cli.collab import attest, attestations, fl_tx, round_
from chain.cli.fl import fl
from chain.cli.genesis import genesis
from chain.cli.gov import gov_tx, proposal, proposals
from chain.cli.keys import keys
from chain.cli.license import license_
from chain.cli.node import node
from chain.cli.query import query
from chain.cli.testnet import testnet
from chain.cli.tx import tx
from chain.cli.weights import model, weights
from chain.client import ClientError
from chain.engine.install import EngineError
from chain.keys import KeyringError
from chain.rpc import RpcError
from chain.testnet import TestnetError
from chain.weights.client import TransferError
from chain.weights.digest import WeightsError

EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_LOCAL = 1, 3, 4


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelgov")
def cli() -> None:
    """modelgov: a consortium's model registry on a CometBFT chain."""


cli.add_command(keys)
cli.add_command(tx)
cli.add_command(query)
cli.add_command(genesis)
cli.add_command(testnet)
cli.add_command(license_, "license")
cli.add_command(node)
cli.add_command(weights)
tx.add_command(gov_tx)
tx.add_command(attest)
tx.add_command(fl_tx)
query.add_command(attestations)
query.add_command(round_)
query.add_command(proposal)
query.add_command(proposals)
cli.add_command(model)
cli.add_command(fl)


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
    except (KeyringError, GenesisError, EngineError, TestnetError, WeightsError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_LOCAL)


if __name__ == "__main__":
    main()
