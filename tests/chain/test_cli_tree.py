"""Every command of the CLI: no option declared twice, every command answers --help, and each
lives in the module chain/cli/__init__.py's TABLE names for it (the command tree is the file
tree), which is the module a command's first use imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from chain.cli import TABLE, layout, owner
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


ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, runpy, sys
sys.argv = ["modelgov", *json.loads(sys.argv[1])]
try:
    runpy.run_module("chain.cli.main", run_name="__main__")
except SystemExit:
    pass
loaded = sorted(m[10:] for m in sys.modules if m.startswith("chain.cli."))
print(json.dumps(loaded), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("argv", "modules"),
    [
        (["query", "balance", "acme", "--node", "http://127.0.0.1:9"], {"credits"}),
        (["tx", "model", "--help"], {"model"}),
        (["genesis", "--help"], {"genesis"}),
        (["query", "nonsense"], set()),
    ],
    ids=["query balance", "tx model", "genesis", "unknown"],
)
def test_a_command_imports_its_own_module_and_no_other_commands(
    argv: list[str], modules: set[str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "MODELGOV_HOME": str(tmp_path)},
    )
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    command_modules = {module for module, _ in TABLE} - {"root"}
    assert loaded & command_modules == modules, done.stderr[-2000:]


def test_the_root_lists_every_command_of_the_table() -> None:
    listed = CliRunner().invoke(cli, ["--help"]).output
    assert all(f"  {path[0]}" in listed for path in LAYOUT if len(path) == 1)
