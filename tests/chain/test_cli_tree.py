"""Every command of the CLI: no option declared twice, every command answers --help, and each
lives in the module chain/cli/__init__.py's TABLE names for it (the command tree is the file
tree), which is the module a command's first use imports (tests/chain/test_cli_startup.py
checks that it imports no other)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from chain.cli import layout, owner
from chain.cli.root import load_tree

cli = load_tree()

Path_ = tuple[str, ...]


def commands(group: click.Group = cli, path: Path_ = ()) -> Iterator[Path_]:
    """The path of every command under ``group``."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def resolve(path: Path_) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


LAYOUT = layout()


@pytest.mark.parametrize("path", list(commands()), ids=" ".join)
def test_no_option_is_declared_twice_and_help_answers(path: Path_) -> None:
    flags = [flag for p in resolve(path).params for flag in getattr(p, "opts", [])]
    assert len(flags) == len(set(flags)), sorted(f for f in flags if flags.count(f) > 1)
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", list(commands()), ids=" ".join)
def test_every_command_lives_in_the_module_the_table_names(path: Path_) -> None:
    module = owner(path)
    assert module is not None, f"chain/cli/__init__.py's table names no module for {path}"
    callback = resolve(path).callback
    assert callback is not None
    assert callback.__module__ == f"chain.cli.{module}", (path, callback.__module__)


def test_the_table_names_only_commands_that_exist() -> None:
    every = set(commands())
    assert LAYOUT and not [p for p in LAYOUT if p not in every]


def test_a_group_at_the_top_or_under_tx_lives_in_the_module_named_for_it() -> None:
    groups = [
        path
        for path in commands()
        if isinstance(resolve(path), click.Group) and path[:-1] in ((), ("tx",))
    ]
    assert ("tx", "fl") in groups and ("license",) in groups
    for path in groups:
        if path not in (("tx",), ("query",)):
            assert owner(path) == path[-1], path


def test_the_root_lists_every_command_of_the_table() -> None:
    listed = CliRunner().invoke(cli, ["--help"]).output
    assert all(f"  {path[0]}" in listed for path in LAYOUT if len(path) == 1)
