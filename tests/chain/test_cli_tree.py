"""Every command of the CLI: no option declared twice, and every command answers --help."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from chain.cli.main import cli


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every command under ``group``."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def resolve(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", list(commands()), ids=" ".join)
def test_no_option_is_declared_twice_and_help_answers(path: tuple[str, ...]) -> None:
    flags = [flag for p in resolve(path).params for flag in getattr(p, "opts", [])]
    assert len(flags) == len(set(flags)), sorted(f for f in flags if flags.count(f) > 1)
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
