"""``modelgov``: the command tree, one error handler, exit codes that mean something.

Exit codes: 0 success; 1 the chain refused (a rejected tx, a failed query); 2 bad usage;
3 the node could not be reached; 4 a local problem (keys, files, engine, testnet).
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from app.core.genesis import GenesisError
from chain import config
from chain.cli.root import cli
from chain.client import ClientError
from chain.config import ConfigError
from chain.engine.install import EngineError
from chain.keys import KeyringError
from chain.plan import TestnetError
from chain.rpc import RpcError
from chain.weights.client import TransferError
from chain.weights.digest import WeightsError

__all__ = ["cli", "main"]

EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_LOCAL = 1, 3, 4


def main() -> None:
    """Entry point: run the CLI and turn library errors into messages and exit codes (under
    ``-o json``, one JSON object on stdout: ``{"error": {codespace, code, name, message,
    tx_hash}}``)."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        fail(EXIT_LOCAL, "aborted", "aborted")
    except click.ClickException as exc:
        if not json_wanted(sys.argv[1:]):
            exc.show()
            sys.exit(exc.exit_code)
        fail(exc.exit_code, exc.format_message(), "usage")
    except TransferError as exc:
        fail(EXIT_REFUSED, str(exc), "transfer_refused")
    except ClientError as exc:
        if json_wanted(sys.argv[1:]):
            click.echo(json.dumps(exc.as_json(), indent=2, sort_keys=True))
            sys.exit(EXIT_REFUSED)
        where = f" [{exc.codespace}/{exc.code}]" if exc.code else ""
        click.echo(f"error{where}: {exc}", err=True)
        sys.exit(EXIT_REFUSED)
    except RpcError as exc:
        fail(EXIT_UNREACHABLE, str(exc), "unreachable")
    except (
        KeyringError,
        GenesisError,
        EngineError,
        TestnetError,
        WeightsError,
        ConfigError,
        OSError,
    ) as exc:
        fail(EXIT_LOCAL, str(exc), type(exc).__name__)


def fail(code: int, message: str, name: str) -> NoReturn:
    """Report a failure that is not the chain's (no codespace) and exit with ``code``."""
    if json_wanted(sys.argv[1:]):
        error = {"codespace": "", "code": 0, "name": name, "message": message, "tx_hash": ""}
        click.echo(json.dumps({"error": error}, indent=2, sort_keys=True))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


def json_wanted(argv: list[str]) -> bool:
    """Whether the command line (or the user's config) asks for JSON output."""
    for i, arg in enumerate(argv):
        if arg in ("-o", "--output") and i + 1 < len(argv):
            return argv[i + 1] == "json"
        if arg in ("-ojson", "--output=json"):
            return True
        if arg.startswith(("-o", "--output=")):
            return False
    return config.get("output") == "json"


if __name__ == "__main__":
    main()
