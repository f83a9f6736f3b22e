"""Every command, given hostile arguments, ends with a message and an exit code, never a
Python traceback: bad input gets a clear error (chain/cli/main.py turns the library errors it
knows into messages; anything else would reach the user as a traceback).

The walk runs each leaf command in-process through ``main`` with every argument and option set
to one hostile value at a time, against a node that does not answer, in an empty home. Commands
that serve or wait for ever (a testnet, ``watch``, ``weights follow``) are left out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest

from chain.cli.main import main
from chain.cli.root import load_tree

UNREACHABLE = "http://127.0.0.1:9"
HOSTILE = ["", "-1", str(2**64), "a" * 5000, "é/ü@1", "x/y@", "@", "1e400", "nan", "no/such/dir"]
LONG_RUNNING = ("testnet", "watch", "weights follow")
"""Commands (or groups) left out: they start processes, serve, or wait for events."""


def leaves() -> list[tuple[list[str], click.Command]]:
    """(path, command) of every command that is not a group."""
    found: list[tuple[list[str], click.Command]] = []

    def walk(group: click.Group, path: list[str]) -> None:
        context = click.Context(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if isinstance(command, click.Group):
                walk(command, [*path, name])
            elif command is not None and not long_running([*path, name]):
                found.append(([*path, name], command))

    walk(load_tree(), [])
    return found


def argvs(path: list[str], command: click.Command, value: str) -> list[list[str]]:
    """``value`` for every argument, then for every option taking a value as well."""
    arguments = [value for p in command.params if isinstance(p, click.Argument)]
    options: list[str] = []
    for param in command.params:
        if isinstance(param, click.Option) and not param.is_flag and param.name != "output":
            options += [param.opts[0], UNREACHABLE if param.name == "node" else value]
    node = ["--node", UNREACHABLE] if any(p.name == "node" for p in command.params) else []
    return [[*path, *arguments, *node], [*path, *arguments, *options]]


def long_running(path: list[str]) -> bool:
    return any(" ".join(path[: len(s.split())]) == s for s in LONG_RUNNING)


COMMANDS = leaves()


def test_the_walk_covers_the_command_tree() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert len(names) > 90
    assert {"keys import", "tx use", "query evaluate", "weights follows"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_hostile_arguments_end_in_a_message_not_a_traceback(
    path: list[str],
    command: click.Command,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELGOV_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MODELGOV_KEYRING_PASSPHRASE", raising=False)
    for value in HOSTILE:
        for argv in argvs(path, command, value):
            monkeypatch.setattr(sys, "argv", ["modelgov", *argv])
            try:
                main()
            except SystemExit:
                pass
            except Exception as exc:  # what main lets through reaches the user as a traceback
                pytest.fail(f"modelgov {' '.join(a[:40] for a in argv)}: {exc!r}")
    capsys.readouterr()
